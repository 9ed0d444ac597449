//! Acquire: a grant at once, a place in the queue, a re-poll of a waiter already there, or Busy.

use super::{Engine, invariant_broken, next_request};
use crate::engine::command::{Acquire, Millis};
use crate::engine::history::End;
use crate::engine::outcome::{Event, Refusal, Reply};
use crate::engine::resource::{Resource, Waiter};

impl Engine {
    pub(super) fn acquire(
        &mut self,
        now: Millis,
        acquire: Acquire,
        events: &mut Vec<Event>,
    ) -> Reply {
        let deadline = acquire.wait.deadline(now);
        // A deadline at or before `now` means "do not wait": the rule that times out a queued waiter.
        let will_wait = deadline.is_none_or(|t| t > now);
        let name = acquire.resource;
        let Some(resource) = self.resources.get_mut(&name) else {
            let waiter = Waiter {
                token: acquire.token,
                holder: acquire.holder,
                since: now,
                deadline: None,
                ttl_ms: acquire.ttl_ms,
                grace_ms: None,
                detached: false,
                meta: acquire.meta,
            };
            let request = next_request(&mut self.last_request);
            let holder = self.grant(now, &name, request, waiter, false);
            let grant = holder.grant(&name);
            self.requests.insert(request, name.clone());
            self.resources.insert(name, Resource::new(holder));
            return Reply::Granted {
                grant,
                again: false,
            };
        };

        if resource.holder.token == acquire.token {
            // An idempotent retry (its first answer was lost), or the poll of a detached waiter that
            // was granted meanwhile: the same grant. Nothing changes, not even the lease (extending it
            // is Renew's job) — except that a grant made between two polls is now claimed, and gets
            // the lease it asked for, from its grant.
            let holder = &mut resource.holder;
            if holder.unclaimed {
                holder.unclaimed = false;
                if let Some(old) = holder.expires {
                    self.deadlines.remove(&(old, holder.request));
                }
                holder.expires = holder.ttl_ms.map(|ttl| holder.since.saturating_add(ttl));
                if let Some(t) = holder.expires {
                    self.deadlines.insert((t, holder.request));
                }
            }
            let grant = holder.grant(&name);
            return Reply::Granted { grant, again: true };
        }

        if let Some(request) = resource.queue.find(acquire.token) {
            // A waiter re-polling (attached, or detached in its grace) keeps its place and request id;
            // it is attached again, with the deadline and grace asked for now. If that deadline is
            // already due, it stops waiting now, as if its deadline had passed (its grace with it).
            // Its meta is the first poll's: a re-poll changes only how long it waits.
            let Some(waiter) = resource.queue.get_mut(request) else {
                invariant_broken("a queue's token index names a request that is not in it");
                return Reply::Refused(Refusal::UnknownRequest);
            };
            if let Some(old) = waiter.deadline {
                self.deadlines.remove(&(old, request));
            }
            if !will_wait {
                if let Some(waiter) = resource.queue.remove(request) {
                    let ended = waiter.ended(&name, End::TimedOut, now);
                    self.history.record(request, ended);
                }
                self.requests.remove(&request);
                events.push(Event::TimedOut {
                    request,
                    resource: name.clone(),
                });
                return Reply::Busy(resource.view(&name));
            }
            waiter.deadline = deadline;
            waiter.grace_ms = acquire.grace_ms;
            waiter.detached = false;
            if let Some(t) = deadline {
                self.deadlines.insert((t, request));
            }
            let position = resource.queue.position(request);
            return Reply::Queued { request, position };
        }

        if !will_wait {
            return Reply::Busy(resource.view(&name));
        }
        let request = next_request(&mut self.last_request);
        resource.queue.push(
            request,
            Waiter {
                token: acquire.token,
                holder: acquire.holder,
                since: now,
                deadline,
                ttl_ms: acquire.ttl_ms,
                grace_ms: acquire.grace_ms,
                detached: false,
                meta: acquire.meta,
            },
        );
        let position = resource.queue.len();
        if let Some(t) = deadline {
            self.deadlines.insert((t, request));
        }
        self.requests.insert(request, name);
        Reply::Queued { request, position }
    }
}
