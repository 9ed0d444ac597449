//! Moving requests between a resource's queue and its holders: a holder leaves, the queue's head is
//! granted for as long as the resource admits it, and a resource left with neither is forgotten.

use super::{Engine, Leaving};
use crate::engine::command::{Millis, RequestId};
use crate::engine::history::End;
use crate::engine::outcome::Event;
use crate::engine::resource::{Holder, Standing, Waiter};

impl Engine {
    /// The holder `request` of `name` leaves (`why`), and the queue moves on (`advance`). Its fence,
    /// or `None` if it does not hold `name`.
    pub(super) fn vacate(
        &mut self,
        now: Millis,
        name: &str,
        request: RequestId,
        why: Leaving,
        events: &mut Vec<Event>,
    ) -> Option<u64> {
        let fence = self.remove_holder(now, name, request, why, events)?;
        self.advance(now, name, events);
        Some(fence)
    }

    /// Takes the holder `request` out of `name` and out of every index, records how it ended and
    /// tells of it (`why`); the queue does not move yet (the caller then calls `advance`).
    pub(super) fn remove_holder(
        &mut self,
        now: Millis,
        name: &str,
        request: RequestId,
        why: Leaving,
        events: &mut Vec<Event>,
    ) -> Option<u64> {
        let holder = self.resources.get_mut(name)?.holders.remove(request)?;
        // The request's own copy of the name goes on into its history.
        let known_as = self.requests.remove(&request);
        if let Some(expires) = holder.expires {
            self.deadlines.remove(&(expires, request));
        }
        let fence = holder.fence;
        let resource = || name.to_owned();
        match why {
            Leaving::Released => {}
            Leaving::Cancelled => events.push(Event::Released {
                request,
                resource: resource(),
                fence,
            }),
            Leaving::Expired => events.push(Event::Expired {
                request,
                resource: resource(),
                fence,
            }),
            Leaving::Deleted => events.push(Event::Deleted {
                request,
                resource: resource(),
            }),
        }
        let ended = holder.ended(known_as.unwrap_or_else(resource), why.end(), now);
        self.history.record(request, ended);
        Some(fence)
    }

    /// Grants the head of `name`'s queue at `now`, its lease starting now, for as long as the
    /// resource admits it (several shared waiters may go in one step; a waiter that is not admitted
    /// stops everyone behind it: FIFO, so a writer is never starved by later readers). If nobody is
    /// left holding, the resource is forgotten and its watchers are freed (`Event::Freed`, after the
    /// events of the holders and the waiters).
    ///
    /// Hand-over rule: a waiter whose deadline is at or before `now` is not granted; it times out here
    /// (an `Event::TimedOut`, in queue order) and the next one is considered. `expire_due` handles due
    /// deadlines one by one in (deadline, id) order, so when a holder's lease is expired, waiters due
    /// later than it but not after `now` (a late Tick), or at the same instant with a larger id, are
    /// still queued: without this rule they would be granted a lock they had already given up on.
    /// A waiter whose poll has ended but whose grace has not is still in line, though (`expire_due`
    /// would have detached it, not dropped it): it is granted, and the grant answers its poll, so no
    /// `PollEnded` comes first.
    pub(super) fn advance(&mut self, now: Millis, name: &str, events: &mut Vec<Event>) {
        loop {
            let Some(resource) = self.resources.get_mut(name) else {
                return;
            };
            let Some((request, waiter)) = resource.queue.first() else {
                break;
            };
            // One it could not hold stops the queue, even past its deadline: `expire_due` times it
            // out in its turn, in deadline order.
            if !resource.admits(waiter.mode) {
                break;
            }
            let gives_up = waiter.standing(now) == Standing::GivesUp;
            let Some((request, waiter)) = resource.queue.pop_first().filter(|(r, _)| *r == request)
            else {
                super::invariant_broken("a queue's first waiter is not its first");
                return;
            };
            if let Some(deadline) = waiter.deadline {
                self.deadlines.remove(&(deadline, request));
            }
            if gives_up {
                self.requests.remove(&request);
                self.history
                    .record(request, waiter.ended(name, End::TimedOut, now));
                events.push(Event::TimedOut {
                    request,
                    resource: name.to_owned(),
                });
                continue;
            }
            let holder = self.grant(now, name, request, waiter, true);
            events.push(Event::Granted(holder.grant(name)));
            self.seat(name, holder);
        }
        if self
            .resources
            .get(name)
            .is_some_and(|r| r.holders.is_empty())
            && let Some(resource) = self.resources.remove(name)
        {
            if !resource.queue.is_empty() {
                super::invariant_broken("a resource with waiters has no holder");
            }
            self.free_watchers(name, resource.watchers, events);
        }
    }

    /// Makes `waiter` a holder of `name` at `now`: a new fence, its lease deadline indexed, and the
    /// resource's remembered releases forgotten as `releases` says. `waited`: it comes from the queue
    /// (a hand-over), not granted at once by its `Acquire`. The caller seats the holder (`seat`) and
    /// keeps `requests` in step.
    pub(super) fn grant(
        &mut self,
        now: Millis,
        name: &str,
        request: RequestId,
        waiter: Waiter,
        waited: bool,
    ) -> Holder {
        self.last_fence += 1;
        let holder = Holder::from_waiter(request, self.last_fence, now, waiter, waited);
        if let Some(expires) = holder.expires {
            self.deadlines.insert((expires, request));
        }
        let alone = self
            .resources
            .get(name)
            .is_none_or(|r| r.holders.is_empty());
        self.releases.forget_for_grant(name, holder.token, alone);
        holder
    }

    /// Puts a holder just granted in place on `name` (which exists).
    pub(super) fn seat(&mut self, name: &str, holder: Holder) {
        let seated = self
            .resources
            .get_mut(name)
            .map(|r| r.holders.insert(holder));
        if seated != Some(true) {
            super::invariant_broken("a grant's resource is gone, or its token holds already");
        }
    }

    /// Takes a waiter out of the queue of `name` and out of every index, and records how it ended.
    /// `false` if it is not there. The queue does not move: the caller calls `advance` if the
    /// resource should (an administrator's delete does not, as it ends every waiter).
    pub(super) fn drop_waiter(
        &mut self,
        now: Millis,
        name: &str,
        request: RequestId,
        end: End,
    ) -> bool {
        let Some(waiter) = self
            .resources
            .get_mut(name)
            .and_then(|r| r.queue.remove(request))
        else {
            return false;
        };
        if let Some(deadline) = waiter.deadline {
            self.deadlines.remove(&(deadline, request));
        }
        self.requests.remove(&request);
        self.history.record(request, waiter.ended(name, end, now));
        true
    }
}
