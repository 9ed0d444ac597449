//! Requests ended from outside: `Cancel` (by the request's own client, or by an administrator), and
//! an administrator's `DeleteResource` and `DeleteAll`.

use super::{Engine, Leaving, Role, invariant_broken};
use crate::engine::command::{CancelBy, Millis, RequestId};
use crate::engine::history::End;
use crate::engine::outcome::{Event, Refusal, Reply};

impl Engine {
    /// Ends one live request. By its client: an active request ends `Released` (an `Event::Released`;
    /// the next waiter is granted), a waiting one `Abandoned` (no event: its client is the one who
    /// left). By an administrator: `Deleted`, with an `Event::Deleted` for it either way (then a
    /// holder's successor is granted). A watcher has no history; an administrator's cancel of one
    /// tells it `Event::Deleted` too, so that its parked client is answered. A request parked on gates
    /// (a ticket's poll, a gate's watcher) is ended by `Gates::cancel`.
    pub(super) fn cancel(
        &mut self,
        now: Millis,
        request: RequestId,
        by: CancelBy,
        events: &mut Vec<Event>,
    ) -> Reply {
        let admin = by == CancelBy::Admin;
        let Some(name) = self.requests.get(&request).cloned() else {
            // Not a lock's: perhaps a ticket's poll or a gate's watcher (one id counter for both).
            return if self.gates.cancel(now, request, admin, events) {
                Reply::Cancelled
            } else {
                Reply::Refused(Refusal::UnknownRequest)
            };
        };
        let ended = match self.role(&name, request) {
            Some(Role::Holder) => {
                let why = if admin {
                    Leaving::Deleted
                } else {
                    Leaving::Cancelled
                };
                // `vacate` tells of the holder itself (`Released` or `Deleted`) before any grant.
                return if self.vacate(now, &name, request, why, events).is_some() {
                    Reply::Cancelled
                } else {
                    invariant_broken("a holder's resource is gone");
                    Reply::Refused(Refusal::UnknownRequest)
                };
            }
            Some(Role::Waiter) => {
                let end = if admin { End::Deleted } else { End::Abandoned };
                if !self.drop_waiter(now, &name, request, end) {
                    invariant_broken("a live request is not on the resource it names");
                    return Reply::Refused(Refusal::UnknownRequest);
                }
                if admin {
                    events.push(Event::Deleted {
                        request,
                        resource: name.clone(),
                    });
                }
                // It may have stood in the way of those behind it.
                self.advance(now, &name, events);
                return Reply::Cancelled;
            }
            Some(Role::Watcher) => self.drop_watcher(&name, request).is_some(),
            None => false,
        };
        if !ended {
            invariant_broken("a live request is not on the resource it names");
            return Reply::Refused(Refusal::UnknownRequest);
        }
        if admin {
            events.push(Event::Deleted {
                request,
                resource: name,
            });
        }
        Reply::Cancelled
    }

    pub(super) fn delete_resource(
        &mut self,
        now: Millis,
        name: &str,
        events: &mut Vec<Event>,
    ) -> Reply {
        match self.delete(now, name, events) {
            Some(count) => Reply::Deleted { count },
            None => Reply::Refused(Refusal::NotHeld),
        }
    }

    /// Deletes every resource, in name order.
    pub(super) fn delete_all(&mut self, now: Millis, events: &mut Vec<Event>) -> Reply {
        let names: Vec<String> = self.resources.keys().cloned().collect();
        let count = names
            .iter()
            .map(|name| self.delete(now, name, events).unwrap_or(0))
            .sum();
        Reply::Deleted { count }
    }

    /// Ends every request on `name` as `Deleted`: its waiters first, in queue order, none of them
    /// granted; then its holders, oldest first; then (the resource being free and forgotten) its
    /// watchers hear `Event::Freed`. How many holders and waiters ended, or `None` if nobody holds
    /// `name`.
    fn delete(&mut self, now: Millis, name: &str, events: &mut Vec<Event>) -> Option<usize> {
        let resource = self.resources.get(name)?;
        let waiters: Vec<RequestId> = resource.queue.iter().map(|(id, _)| id).collect();
        for &request in &waiters {
            if !self.drop_waiter(now, name, request, End::Deleted) {
                invariant_broken("a waiter to delete is not in its queue");
                continue;
            }
            events.push(Event::Deleted {
                request,
                resource: name.to_owned(),
            });
        }
        let holders: Vec<RequestId> = match self.resources.get(name) {
            Some(resource) => resource
                .holders
                .by_age()
                .iter()
                .map(|h| h.request)
                .collect(),
            None => Vec::new(),
        };
        for &request in &holders {
            if self
                .remove_holder(now, name, request, Leaving::Deleted, events)
                .is_none()
            {
                invariant_broken("a holder to delete is not on its resource");
            }
        }
        // Nobody is left: the resource is forgotten, and its watchers are freed.
        self.advance(now, name, events);
        Some(waiters.len() + holders.len())
    }
}
