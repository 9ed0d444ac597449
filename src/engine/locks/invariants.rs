//! A consistency check of the whole state, for tests: every index agrees with the resources (their
//! holders, waiters and watchers), and the history of ended requests with itself.

use std::collections::{BTreeMap, BTreeSet};

use super::Engine;
use crate::engine::command::{Millis, RequestId};

impl Engine {
    /// Panics, saying what is wrong, if the engine's indexes disagree with its resources.
    pub(in crate::engine) fn check_invariants(&self) {
        let mut requests = BTreeMap::new();
        let mut deadlines: BTreeSet<(Millis, RequestId)> = BTreeSet::new();
        let mut fences = BTreeSet::new();
        for (name, resource) in &self.resources {
            let holder = &resource.holder;
            assert!(
                requests.insert(holder.request, name.clone()).is_none(),
                "{name}: request {} is in two places",
                holder.request
            );
            assert!(
                fences.insert(holder.fence),
                "fence {} held twice",
                holder.fence
            );
            assert!(
                holder.fence <= self.last_fence,
                "{name}: fence from the future"
            );
            assert!(
                holder.request.0 <= self.last_request,
                "{name}: id from the future"
            );
            assert!(holder.created <= holder.since && holder.since <= holder.renewed);
            assert!(
                holder.waited || holder.created == holder.since,
                "{name}: holder granted later than made, yet granted at once"
            );
            assert!(
                holder.renewed <= self.clock,
                "{name}: renewed in the future"
            );
            if let Some(expires) = holder.expires {
                deadlines.insert((expires, holder.request));
            }
            // An unclaimed grant always has a deadline (its claim deadline), lease or not.
            assert_eq!(
                holder.expires.is_some(),
                holder.ttl_ms.is_some() || holder.unclaimed,
                "{name}: lease"
            );
            assert!(resource.queue.tokens_consistent(), "{name}: token index");
            for (id, waiter) in resource.queue.iter() {
                assert_ne!(waiter.token, holder.token, "{name}: holder also waits");
                assert!(
                    requests.insert(id, name.clone()).is_none(),
                    "{name}: request {id} is in two places"
                );
                assert!(id.0 <= self.last_request, "{name}: id from the future");
                if let Some(deadline) = waiter.deadline {
                    assert!(
                        deadline > self.clock,
                        "{name}: waiter {id} is past its deadline"
                    );
                    deadlines.insert((deadline, id));
                }
                // Without a grace of its own, it was detached by a restart, until its deadline.
                if waiter.detached {
                    assert!(
                        waiter.deadline.is_some(),
                        "{name}: waiter {id} is detached without a deadline"
                    );
                }
            }
            for (&id, watcher) in &resource.watchers {
                assert!(
                    requests.insert(id, name.clone()).is_none(),
                    "{name}: request {id} is in two places"
                );
                assert!(id.0 <= self.last_request, "{name}: id from the future");
                assert!(
                    watcher.since <= self.clock,
                    "{name}: watcher from the future"
                );
                if let Some(deadline) = watcher.deadline {
                    assert!(
                        deadline > self.clock,
                        "{name}: watcher {id} is past its deadline"
                    );
                    deadlines.insert((deadline, id));
                }
            }
            assert!(
                !self.releases.contains(name),
                "{name}: a held resource has a remembered release"
            );
        }
        assert!(self.releases.len() <= super::REMEMBERED_RELEASES);
        assert_eq!(requests, self.requests, "request index");
        assert_eq!(deadlines, self.deadlines, "deadline index");
        // The history: bounded, in end order, its indexes in step, and only of requests that ended.
        self.history.check(self.clock, self.last_request);
        self.gates.check(self.clock, self.last_request);
        for id in self.requests.keys() {
            assert!(
                self.history.get(*id).is_none(),
                "request {id} is live and ended"
            );
        }
    }
}
