//! `Op::Restart`: the server starts again with its state replayed, and every connection a client was
//! parked on is gone. What needed one ends; what a client may come back for keeps its place a while.

use super::{Engine, invariant_broken};
use crate::engine::command::{Millis, RequestId};
use crate::engine::history::End;
use crate::engine::outcome::{Event, Reply};

impl Engine {
    /// The rules are `Op::Restart`'s. Resources in name order, waiters in queue order; no event of
    /// its own (nobody is parked to hear one). Then what is due at `now` is expired, as every command
    /// does first: only now, so that a lease that ran out while the server was down is handed over
    /// to a waiter whose client may still come back, never to one that is gone.
    pub(super) fn restart(&mut self, now: Millis, grace_ms: u64, events: &mut Vec<Event>) -> Reply {
        // `grace_ms: 0` (or a clock at the end of time) leaves no grace: nobody could come back.
        let until = Some(now.saturating_add(grace_ms)).filter(|&t| t > now);
        let (mut dropped, mut detached, mut watchers) = (0, 0, 0);
        let names: Vec<String> = self.resources.keys().cloned().collect();
        for name in &names {
            let Some(resource) = self.resources.get(name) else {
                continue;
            };
            let watching: Vec<RequestId> = resource.watchers.keys().copied().collect();
            // Waiters with a deadline (their clients were on a connection), and whether they poll
            // (with a grace of their own, or detached between two polls already).
            let waiting: Vec<(RequestId, bool)> = resource
                .queue
                .iter()
                .filter(|(_, w)| w.deadline.is_some())
                .map(|(id, w)| (id, w.detached || w.grace_ms.is_some_and(|g| g > 0)))
                .collect();
            for request in watching {
                if self.drop_watcher(name, request).is_none() {
                    invariant_broken("a watcher to remove is not on its resource");
                }
                watchers += 1;
            }
            for (request, polls) in waiting {
                match until {
                    Some(until) if polls => {
                        self.detach(name, request, until);
                        detached += 1;
                    }
                    _ => {
                        if !self.drop_waiter(now, name, request, End::Abandoned) {
                            invariant_broken("a waiter to drop is not in its queue");
                        }
                        dropped += 1;
                    }
                }
            }
            // The holders stay; but a waiter that left may have stood in the way of those behind it
            // (a writer before readers), who may hold now: granted while detached, unclaimed.
            self.advance(now, name, events);
        }
        let (gate_watchers, polls) = self.gates.restart(now);
        self.expire_due(now, events);
        Reply::Restarted {
            dropped,
            detached,
            watchers: watchers + gate_watchers,
            polls,
        }
    }

    /// A waiter of `name` keeps its place, detached, until `until`. Its grace is over at `until`
    /// (`grace_ms: None` says so): a grant before its next poll lasts until then at most too.
    fn detach(&mut self, name: &str, request: RequestId, until: Millis) {
        let Some(waiter) = self
            .resources
            .get_mut(name)
            .and_then(|r| r.queue.get_mut(request))
        else {
            invariant_broken("a waiter to detach is not in its queue");
            return;
        };
        if let Some(old) = waiter.deadline {
            self.deadlines.remove(&(old, request));
        }
        waiter.deadline = Some(until);
        waiter.grace_ms = None;
        waiter.detached = true;
        self.deadlines.insert((until, request));
    }
}
