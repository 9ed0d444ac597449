//! A holder's own commands: Release (or the withdrawal of a waiting token), and Renew, by its token;
//! and Extend, the server's for a grant whose answer it wrote late.

use uuid::Uuid;

use super::{Engine, Leaving, invariant_broken};
use crate::engine::command::{Millis, RequestId};
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
        if let Some(request) = resource.holders.find(token) {
            let Some(fence) = self.remove_holder(now, &name, request, Leaving::Released, events)
            else {
                invariant_broken("a holders' token index names a request that is not in it");
                return Reply::Refused(Refusal::UnknownRequest);
            };
            // Remembered before the queue moves on: a grant forgets what it takes the place of (on
            // a mutex, any grant; see `releases`), and a retry then gets WrongToken instead.
            self.releases.remember(name.clone(), token, fence);
            self.advance(now, &name, events);
            return Reply::Released {
                fence,
                again: false,
            };
        }
        if let Some(request) = resource.queue.find(token) {
            self.drop_waiter(now, &name, request, End::Abandoned);
            self.advance(now, &name, events);
            return Reply::Withdrawn { request };
        }
        match self.releases.released_by(&name, token) {
            Some(fence) => Reply::Released { fence, again: true },
            None => Reply::Refused(Refusal::WrongToken),
        }
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
        let Some(holder) = resource
            .holders
            .find(token)
            .and_then(|request| resource.holders.get_mut(request))
        else {
            return Reply::Refused(Refusal::WrongToken);
        };
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

impl Engine {
    /// `Op::Extend`: `request`'s lease lasts at least until `until`.
    pub(super) fn extend(&mut self, request: RequestId, until: Millis) -> Reply {
        let Some(name) = self.requests.get(&request) else {
            return Reply::Refused(Refusal::UnknownRequest);
        };
        let Some(holder) = self
            .resources
            .get_mut(name)
            .and_then(|resource| resource.holders.get_mut(request))
        else {
            return Reply::Refused(Refusal::NotHeld);
        };
        if let Some(old) = holder.expires
            && old < until
        {
            self.deadlines.remove(&(old, request));
            self.deadlines.insert((until, request));
            holder.expires = Some(until);
        }
        Reply::Renewed {
            grant: holder.grant(name),
        }
    }
}
