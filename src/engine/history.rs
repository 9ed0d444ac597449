//! Ended requests, kept readable for a while: a client (or an administrator) asking about a request
//! that has just been released, deleted or timed out hears how and when it ended, not "never heard
//! of it". Bounded in time (`ENDED_RETENTION_MS`) and in number (`ENDED_MAX`), so memory stays bounded
//! however many requests come and go; past either bound the oldest ended is forgotten first.
//!
//! Requests end in time order (`now` never goes back), so the order they were recorded in is the
//! order they expire in: a queue, pruned from its front as part of every command. No deadline index
//! is needed: nothing is told when an ended request is forgotten.
//!
//! Watchers leave no history: they never hold and never queue.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::command::{Millis, RequestId};
use super::handles::{HandleIndex, Spread};
use super::locks::invariant_broken;
use super::view::{RequestState, RequestView};

/// How long an ended request stays readable after it ended.
pub const ENDED_RETENTION_MS: u64 = 600_000;

/// How many ended requests are kept at most; past it the oldest ended is forgotten first.
pub const ENDED_MAX: usize = 10_000;

/// How a request (a holder or a waiter) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// The holder gave it up: `Op::Release` with its token, or `Op::Cancel` of an active request by
    /// its client.
    Released,
    /// A waiter left on its own: withdrawn by `Op::Release` with its token, or `Op::Cancel` of a
    /// waiting request by its client (its connection hung up, say), or its connection died with the
    /// server (`Op::Restart`).
    Abandoned,
    /// A waiter's wait deadline (and its grace, if it had one) passed, and it left the queue.
    TimedOut,
    /// A holder's lease ran out, or the claim deadline of a grant nobody came to collect.
    Expired,
    /// An administrator ended it: `Op::Cancel` by `CancelBy::Admin`, `Op::DeleteResource`,
    /// `Op::DeleteAll`.
    Deleted,
}

/// An ended request, as retained: what a `RequestView` shows of it.
#[derive(Debug, PartialEq)]
pub(super) struct Ended {
    pub(super) resource: String,
    pub(super) holder: String,
    pub(super) meta: Option<String>,
    pub(super) ttl_ms: Option<u64>,
    pub(super) created: Millis,
    pub(super) granted: Option<Millis>,
    pub(super) renewed: Option<Millis>,
    /// It waited in a queue: it ended waiting, or was granted from the queue; `false` if it was
    /// granted at once (so `granted == Some(created)`).
    pub(super) waited: bool,
    pub(super) end: End,
    pub(super) at: Millis,
}

impl Ended {
    pub(super) fn view(&self) -> RequestView {
        RequestView {
            resource: self.resource.clone(),
            created: self.created,
            holder: self.holder.clone(),
            meta: self.meta.clone(),
            ttl_ms: self.ttl_ms,
            granted: self.granted,
            renewed: self.renewed,
            waited: self.waited,
            state: RequestState::Ended {
                end: self.end,
                at: self.at,
            },
        }
    }
}

#[derive(Debug)]
pub(super) struct History {
    capacity: usize,
    retention: Millis,
    /// The retained requests in the order they ended (so by `at`, never decreasing), oldest first.
    /// They are kept here, not in a map by id: a request is forgotten from the front of this queue
    /// every time one ends, and taking the first of a map's leaves moves all the others.
    by_end: VecDeque<(RequestId, Ended)>,
    /// The end number of `by_end`'s front: the `n`th request to end is at `n - first` in it.
    first: u64,
    /// Each retained request's end number. Hashed: one is added and one forgotten for every request
    /// that ends, and a sorted map's search through 10,000 ids went cold in the cache each time.
    /// (Request ids are the server's sequence, so a plain multiplicative hash spreads them.)
    ended: HashMap<RequestId, u64, Spread>,
    /// The ids of `ended` by resource: a resource's history without a scan of all of it. A name is
    /// here only while it has retained requests.
    by_resource: BTreeMap<String, BTreeSet<RequestId>>,
    /// The public handles of every live holder and waiter and of every retained ended request: here
    /// so that a request's handles are freed exactly when the history forgets it.
    pub(super) handles: HandleIndex,
}

/// Two histories are equal when they retain the same requests in the same order: how many were
/// forgotten before (`first`) is not part of what they say.
impl PartialEq for History {
    fn eq(&self, other: &History) -> bool {
        self.capacity == other.capacity
            && self.retention == other.retention
            && self.by_end == other.by_end
            && self.by_resource == other.by_resource
            && self.handles == other.handles
    }
}

impl History {
    pub(super) fn new(capacity: usize, retention: Millis) -> History {
        History {
            capacity,
            retention,
            ended: HashMap::default(),
            by_end: VecDeque::new(),
            first: 0,
            by_resource: BTreeMap::new(),
            handles: HandleIndex::default(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.ended.len()
    }

    /// `request` has just ended (at `ended.at`, the engine's latest `now`). Past the capacity, the
    /// oldest ended is forgotten. A request ends once (a second end is a bug, and not recorded).
    pub(super) fn record(&mut self, request: RequestId, ended: Ended) {
        if self.ended.contains_key(&request) {
            invariant_broken("a request ended twice");
            return;
        }
        // The name is copied only for a resource with no history yet.
        match self.by_resource.get_mut(&ended.resource) {
            Some(ids) => {
                ids.insert(request);
            }
            None => {
                let ids = BTreeSet::from([request]);
                self.by_resource.insert(ended.resource.clone(), ids);
            }
        }
        let number = self.first + self.by_end.len() as u64;
        self.ended.insert(request, number);
        self.by_end.push_back((request, ended));
        while self.ended.len() > self.capacity && self.forget_oldest() {}
    }

    /// Forgets every request that ended `retention` or longer before `now`.
    pub(super) fn prune(&mut self, now: Millis) {
        while let Some((_, oldest)) = self.by_end.front()
            && oldest.at.saturating_add(self.retention) <= now
        {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) -> bool {
        let Some((request, ended)) = self.by_end.pop_front() else {
            return false;
        };
        self.first += 1;
        self.ended.remove(&request);
        self.handles.remove(request);
        if let Some(ids) = self.by_resource.get_mut(&ended.resource) {
            ids.remove(&request);
            if ids.is_empty() {
                self.by_resource.remove(&ended.resource);
            }
        }
        true
    }

    pub(super) fn get(&self, request: RequestId) -> Option<&Ended> {
        let number = self.ended.get(&request)?;
        let at = usize::try_from(number.checked_sub(self.first)?).ok()?;
        self.by_end.get(at).map(|(_, ended)| ended)
    }

    /// The retained requests of `resource`, in id order. O(what it returns + log n).
    pub(super) fn of_resource(&self, resource: &str) -> impl Iterator<Item = (RequestId, &Ended)> {
        self.by_resource
            .get(resource)
            .into_iter()
            .flatten()
            .filter_map(|id| self.get(*id).map(|e| (*id, e)))
    }

    /// The names with retained requests, sorted.
    pub(super) fn resources(&self) -> impl Iterator<Item = &String> {
        self.by_resource.keys()
    }

    /// The retained requests in the order they ended, oldest first.
    pub(super) fn in_end_order(&self) -> impl Iterator<Item = (RequestId, &Ended)> {
        self.by_end.iter().map(|(id, ended)| (*id, ended))
    }

    /// Records a request of a snapshot, which ended after every one restored before it: `Err` unless
    /// it is what `check` expects (its retention aside: `prune` once all are in). The caller makes
    /// sure `request` is not live. Past the capacity, the oldest ended is forgotten, as ever.
    pub(super) fn restore(
        &mut self,
        request: RequestId,
        ended: Ended,
        clock: Millis,
    ) -> Result<(), String> {
        let last = self.by_end.back().map(|(_, ended)| ended);
        let (created, granted, renewed, at) =
            (ended.created, ended.granted, ended.renewed, ended.at);
        let broken = if at > clock {
            "ended after the clock"
        } else if last.is_some_and(|last| at < last.at) {
            "ended before the one before it"
        } else if granted.is_some() != renewed.is_some()
            || granted.is_some_and(|g| created > g)
            || granted > renewed
            || renewed.is_some_and(|r| r > at)
        {
            "is out of time order (created, granted, renewed, ended)"
        } else if self.ended.contains_key(&request) {
            "ended twice"
        } else {
            self.record(request, ended);
            return Ok(());
        };
        Err(format!("ended request {request} {broken}"))
    }

    /// Panics, saying what is wrong, if the indexes disagree or a bound is broken.
    #[cfg(test)]
    pub(super) fn check(&self, clock: Millis, last_request: u64) {
        assert!(self.ended.len() <= self.capacity, "history over capacity");
        assert_eq!(self.by_end.len(), self.ended.len(), "history order index");
        let mut last_at = 0;
        for (number, (id, ended)) in (self.first..).zip(&self.by_end) {
            assert_eq!(
                self.ended.get(id),
                Some(&number),
                "request {id}'s end number"
            );
            assert!(
                ended.at >= last_at,
                "request {id} ended before the one before it"
            );
            last_at = ended.at;
        }
        self.handles.check();
        let indexed: usize = self.by_resource.values().map(BTreeSet::len).sum();
        assert_eq!(indexed, self.ended.len(), "history resource index size");
        for (id, ended) in self.in_end_order() {
            assert!(
                self.by_resource
                    .get(&ended.resource)
                    .is_some_and(|ids| ids.contains(&id)),
                "request {id} is not in the history resource index"
            );
            assert!(id.0 <= last_request, "ended request {id} from the future");
            assert!(ended.at <= clock, "request {id} ended in the future");
            assert!(
                ended.at.saturating_add(self.retention) > clock,
                "request {id} is retained past its retention"
            );
            let (granted, renewed) = (ended.granted, ended.renewed);
            assert_eq!(
                granted.is_some(),
                renewed.is_some(),
                "request {id}: renewed"
            );
            assert!(ended.created <= granted.unwrap_or(ended.created), "{id}");
            assert!(
                granted <= renewed && renewed.unwrap_or(0) <= ended.at,
                "{id}"
            );
            assert!(
                ended.waited || granted == Some(ended.created),
                "request {id}: granted at once, or it waited"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(resource: &str, at: Millis) -> Ended {
        Ended {
            resource: resource.into(),
            holder: String::new(),
            meta: None,
            ttl_ms: None,
            created: at,
            granted: None,
            renewed: None,
            waited: true,
            end: End::Abandoned,
            at,
        }
    }

    #[test]
    fn oldest_ended_is_forgotten_first_past_the_capacity() {
        let mut history = History::new(2, 100);
        history.record(RequestId(3), ended("a", 1));
        history.record(RequestId(1), ended("b", 2));
        history.record(RequestId(2), ended("a", 3));
        assert_eq!(history.len(), 2);
        assert!(history.get(RequestId(3)).is_none());
        let a: Vec<RequestId> = history.of_resource("a").map(|(id, _)| id).collect();
        assert_eq!(a, [RequestId(2)]);
        assert_eq!(history.resources().collect::<Vec<_>>(), ["a", "b"]);
        history.check(3, 3);
    }

    #[test]
    fn ended_requests_are_forgotten_at_the_end_of_their_retention() {
        let mut history = History::new(10, 100);
        history.record(RequestId(1), ended("a", 10));
        history.record(RequestId(2), ended("b", 20));
        history.prune(109);
        assert_eq!(history.len(), 2);
        history.prune(110);
        assert!(history.get(RequestId(1)).is_none());
        assert_eq!(history.resources().collect::<Vec<_>>(), ["b"]);
        history.prune(u64::MAX);
        assert_eq!((history.len(), history.resources().count()), (0, 0));
        history.check(u64::MAX - 100, 2);
    }
}
