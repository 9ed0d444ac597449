//! A holder's own commands: Release (or the withdrawal of a waiting token), and Renew.

use uuid::Uuid;

use super::{Engine, Leaving};
use crate::engine::command::Millis;
use crate::engine::history::End;
use crate::engine::outcome::{Event, Refusal, Reply};

impl Engine {
    pub(super) fn release(
        &mut self,
        now: Millis,
        name: String,
        token: Uuid,
        events: &mut Vec<Event>,
    ) -> Reply {
        let Some(resource) = self.resources.get(&name) else {
            return match self.releases.released_by(&name, token) {
                Some(fence) => Reply::Released { fence, again: true },
                None => Reply::Refused(Refusal::NotHeld),
            };
        };
        if resource.holder.token == token {
            let fence = resource.holder.fence;
            self.vacate(now, &name, Leaving::Released, events);
            // Remembered only while the resource stays free: once a waiter got it, "released again"
            // would be a lie about who holds it, and a retry gets WrongToken instead.
            if !self.resources.contains_key(&name) {
                self.releases.remember(name, token, fence);
            }
            return Reply::Released {
                fence,
                again: false,
            };
        }
        if let Some(request) = resource.queue.find(token) {
            self.drop_waiter(now, &name, request, End::Abandoned);
            return Reply::Withdrawn { request };
        }
        Reply::Refused(Refusal::WrongToken)
    }

    pub(super) fn renew(
        &mut self,
        now: Millis,
        name: &str,
        token: Uuid,
        ttl_ms: Option<u64>,
    ) -> Reply {
        let Some(resource) = self.resources.get_mut(name) else {
            return Reply::Refused(Refusal::NotHeld);
        };
        let holder = &mut resource.holder;
        if holder.token != token {
            return Reply::Refused(Refusal::WrongToken);
        }
        if holder.unclaimed {
            // Only its client can renew it, so it knows: claimed. Without a lease of its own, the
            // claim deadline goes.
            holder.unclaimed = false;
            if ttl_ms.or(holder.ttl_ms).is_none()
                && let Some(old) = holder.expires.take()
            {
                self.deadlines.remove(&(old, holder.request));
            }
        }
        if let Some(ttl) = ttl_ms.or(holder.ttl_ms) {
            if let Some(old) = holder.expires {
                self.deadlines.remove(&(old, holder.request));
            }
            let expires = now.saturating_add(ttl);
            self.deadlines.insert((expires, holder.request));
            holder.ttl_ms = Some(ttl);
            holder.expires = Some(expires);
        }
        holder.renewed = now;
        Reply::Renewed {
            grant: holder.grant(name),
        }
    }
}
