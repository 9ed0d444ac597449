//! A consistency check of the whole state, for tests: every index agrees with the resources (their
//! holders, waiters and watchers), and the history of ended requests with itself.

use std::collections::{BTreeMap, BTreeSet};

use super::Engine;
use crate::engine::command::{Millis, RequestId};
use crate::engine::resource::Holder;
use crate::engine::slots::{self, Mode};

impl Engine {
    /// Panics, saying what is wrong, if the engine's indexes disagree with its resources.
    pub(in crate::engine) fn check_invariants(&self) {
        let mut requests = BTreeMap::new();
        let mut deadlines: BTreeSet<(Millis, RequestId)> = BTreeSet::new();
        let mut fences = BTreeSet::new();
        for (name, resource) in &self.resources {
            assert!(!resource.holders.is_empty(), "{name}: no holder");
            assert!(
                resource.holders.tokens_consistent(),
                "{name}: holders' tokens"
            );
            assert!(
                resource.slots.is_none_or(slots::valid),
                "{name}: slots out of range"
            );
            let mode = resource.holders.mode().unwrap_or_default();
            let limit = slots::limit(resource.slots, mode);
            assert!(
                limit.is_none_or(|n| resource.holders.len() <= n as usize),
                "{name}: more holders than its slots"
            );
            assert!(
                !resource.head_admitted(),
                "{name}: its next waiter could hold it, and waits"
            );
            let remembered = self.releases.count(name);
            assert!(
                limit.is_none_or(|n| resource.holders.len() + remembered <= n as usize),
                "{name}: holders and remembered releases beyond its slots"
            );
            for holder in resource.holders.iter() {
                self.check_holder(
                    name,
                    holder,
                    mode,
                    &mut requests,
                    &mut deadlines,
                    &mut fences,
                );
            }
            assert!(resource.queue.tokens_consistent(), "{name}: token index");
            for (id, waiter) in resource.queue.iter() {
                assert!(
                    resource.holders.find(waiter.token).is_none(),
                    "{name}: a holder also waits"
                );
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
        // Handles: exactly the live holders and waiters and the retained ended requests have them.
        let mut named: BTreeSet<RequestId> =
            self.history.in_end_order().map(|(id, _)| id).collect();
        for resource in self.resources.values() {
            named.extend(resource.holders.iter().map(|h| h.request));
            named.extend(resource.queue.iter().map(|(id, _)| id));
        }
        let with_handles: BTreeSet<RequestId> = self.history.handles.requests().collect();
        assert_eq!(named, with_handles, "handle index");
    }

    /// One holder: indexed once, its fence given once, its times in order, its lease indexed.
    fn check_holder(
        &self,
        name: &str,
        holder: &Holder,
        mode: Mode,
        requests: &mut BTreeMap<RequestId, String>,
        deadlines: &mut BTreeSet<(Millis, RequestId)>,
        fences: &mut BTreeSet<u64>,
    ) {
        assert_eq!(holder.mode, mode, "{name}: holders of two modes");
        assert!(
            self.releases.released_by(name, holder.token).is_none(),
            "{name}: a holder's release is remembered"
        );
        assert!(
            requests.insert(holder.request, name.to_owned()).is_none(),
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
    }
}
