//! Acquire: a grant at once, a place in the queue, a re-poll of a waiter already there, or Busy; or a
//! refusal of slots that differ from those in force.

use super::{Engine, invariant_broken, next_request};
use crate::engine::command::{Acquire, Millis};
use crate::engine::handles::Handles;
use crate::engine::history::End;
use crate::engine::outcome::{Event, Refusal, Reply};
use crate::engine::resource::{Resource, Waiter};
use crate::engine::slots;

impl Engine {
    pub(super) fn acquire(
        &mut self,
        now: Millis,
        acquire: Acquire,
        events: &mut Vec<Event>,
    ) -> Reply {
        if acquire.slots.is_some_and(|n| !slots::valid(n)) {
            return Reply::Refused(Refusal::InvalidSlots);
        }
        let deadline = acquire.wait.deadline(now);
        // A deadline at or before `now` means "do not wait": the rule that times out a queued waiter.
        let will_wait = deadline.is_none_or(|t| t > now);
        let name = acquire.resource;
        let handles = acquire.handles;
        let waiter = Waiter {
            token: acquire.token,
            holder: acquire.holder,
            since: now,
            deadline,
            ttl_ms: acquire.ttl_ms,
            grace_ms: acquire.grace_ms,
            detached: false,
            meta: acquire.meta,
            mode: acquire.mode,
        };
        let Some(resource) = self.resources.get_mut(&name) else {
            // The first request of a resource nobody holds or waits for sets its slots.
            self.resources
                .insert(name.clone(), Box::new(Resource::new(acquire.slots)));
            return self.grant_at_once(now, name, waiter, handles);
        };
        if let Some(asked) = acquire.slots
            && !slots::joins(resource.slots, Some(asked), acquire.mode)
        {
            return Reply::SlotsDiffer {
                in_force: resource.slots,
                asked,
            };
        }

        if let Some(request) = resource.holders.find(acquire.token) {
            // An idempotent retry (its first answer was lost), or the poll of a detached waiter that
            // was granted meanwhile: the same grant. Nothing changes, not even the lease (extending it
            // is Renew's job) — except that a grant made between two polls is now claimed, and gets
            // the lease it asked for, from its grant.
            let Some(holder) = resource.holders.get_mut(request) else {
                invariant_broken("a holders' token index names a request that is not in it");
                return Reply::Refused(Refusal::UnknownRequest);
            };
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
            // already due, it stops waiting now, as if its deadline had passed (its grace with it),
            // and the queue moves on without it. Its meta and mode are the first poll's: a re-poll
            // changes only how long it waits.
            let Some(waiting) = resource.queue.get_mut(request) else {
                invariant_broken("a queue's token index names a request that is not in it");
                return Reply::Refused(Refusal::UnknownRequest);
            };
            if let Some(old) = waiting.deadline {
                self.deadlines.remove(&(old, request));
            }
            if !will_wait {
                waiting.deadline = None;
                self.drop_waiter(now, &name, request, End::TimedOut);
                events.push(Event::TimedOut {
                    request,
                    resource: name.clone(),
                });
                self.advance(now, &name, events);
                return match self.resources.get(&name) {
                    Some(resource) => Reply::Busy(resource.view(&name)),
                    None => {
                        invariant_broken("a resource with a waiter had no holder");
                        Reply::Refused(Refusal::NotHeld)
                    }
                };
            }
            waiting.deadline = deadline;
            waiting.grace_ms = acquire.grace_ms;
            waiting.detached = false;
            if let Some(t) = deadline {
                self.deadlines.insert((t, request));
            }
            let position = resource.queue.position(request);
            return Reply::Queued { request, position };
        }

        // FIFO: nobody goes ahead of a waiter, even one that this request could hold beside.
        if resource.queue.is_empty() && resource.admits(waiter.mode) {
            return self.grant_at_once(now, name, waiter, handles);
        }
        if !will_wait {
            return Reply::Busy(resource.view(&name));
        }
        let request = next_request(&mut self.last_request);
        self.history.handles.assign(request, handles);
        resource.queue.push(request, waiter);
        let position = resource.queue.len();
        if let Some(t) = deadline {
            self.deadlines.insert((t, request));
        }
        self.requests.insert(request, name);
        Reply::Queued { request, position }
    }

    /// Grants `waiter` (a request just made) on `name`, which exists and admits it.
    fn grant_at_once(
        &mut self,
        now: Millis,
        name: String,
        mut waiter: Waiter,
        handles: Option<Handles>,
    ) -> Reply {
        let request = next_request(&mut self.last_request);
        self.history.handles.assign(request, handles);
        // Granted at once, it never waits: no wait deadline, no grace.
        waiter.deadline = None;
        waiter.grace_ms = None;
        let holder = self.grant(now, &name, request, waiter, false);
        let grant = holder.grant(&name);
        self.seat(&name, holder);
        self.requests.insert(request, name);
        Reply::Granted {
            grant,
            again: false,
        }
    }
}
