//! Deadlines: every command first applies what is due at its `now` (leases, wait, grace and watch
//! deadlines of locks, and the gates' ticket expiries, poll and watch deadlines), as a Tick would.

use super::{Engine, Leaving, Role, invariant_broken};
use crate::engine::command::{Millis, RequestId};
use crate::engine::history::End;
use crate::engine::outcome::Event;
use crate::engine::resource::Standing;

impl Engine {
    /// Expires every lease and wait deadline due at or before `now`, in (deadline, request id) order,
    /// and the gates' due deadlines with them in time order (the locks' first at the same instant),
    /// so that events come out in the order things happened.
    pub(super) fn expire_due(&mut self, now: Millis, events: &mut Vec<Event>) {
        loop {
            let lock_due = self.deadlines.first().map(|&(due, _)| due);
            let gate_due = self.gates.next_deadline();
            match (lock_due, gate_due) {
                (Some(l), g) if l <= now && g.is_none_or(|g| l <= g) => {
                    self.expire_lock(now, events)
                }
                (_, Some(g)) if g <= now => {
                    self.gates.expire_next(now, events);
                }
                _ => break,
            }
        }
    }

    /// Applies the locks' earliest deadline (the caller knows it is due).
    fn expire_lock(&mut self, now: Millis, events: &mut Vec<Event>) {
        let Some((_, request)) = self.deadlines.pop_first() else {
            return;
        };
        let Some(name) = self.requests.get(&request).cloned() else {
            invariant_broken("a deadline names a request that is not live");
            return;
        };
        match self.role(&name, request) {
            Some(Role::Holder) => {
                self.vacate(now, &name, request, Leaving::Expired, events);
            }
            Some(Role::Waiter) => self.waiter_due(now, name, request, events),
            Some(Role::Watcher) => {
                self.drop_watcher(&name, request);
                events.push(Event::TimedOut {
                    request,
                    resource: name,
                });
            }
            None => invariant_broken("a deadline's request is not on its resource"),
        }
    }

    /// The deadline of a waiter has passed (its entry is already out of the deadline index). With a
    /// grace still to come it stays, detached, until the end of its grace; else it leaves the queue.
    fn waiter_due(
        &mut self,
        now: Millis,
        name: String,
        request: RequestId,
        events: &mut Vec<Event>,
    ) {
        let Some(resource) = self.resources.get_mut(&name) else {
            invariant_broken("a due waiter's resource is gone");
            return;
        };
        let Some(waiter) = resource.queue.get_mut(request) else {
            invariant_broken("a due waiter is not in its queue");
            return;
        };
        match waiter.standing(now) {
            Standing::PollEnded(until) => {
                waiter.detached = true;
                waiter.deadline = Some(until);
                self.deadlines.insert((until, request));
                let position = resource.queue.position(request);
                events.push(Event::PollEnded {
                    request,
                    resource: name,
                    position,
                });
                return;
            }
            Standing::Waiting => invariant_broken("a waiter's due deadline is not its deadline"),
            Standing::GivesUp => {}
        }
        self.drop_waiter(now, &name, request, End::TimedOut);
        events.push(Event::TimedOut {
            request,
            resource: name.clone(),
        });
        // It may have stood in the way of those behind it.
        self.advance(now, &name, events);
    }
}
