//! Which server parked each waiting request, kept by every server alike from the applied log (so it
//! is part of the shared state and of its snapshots; the engine knows nothing of servers).
//!
//! - `parked`: a request waiting on a connection (a lock waiter, a watcher, a ticket's poll), and the
//!   entry that parked it. A poll with the same token through another server moves it there. When its
//!   server dies, the others end it (`Body::EndParked` with this origin).
//! - `handed`: a grant on its way to a parked connection: the request (or ticket) and where it was
//!   parked. Its server gives it back if the client is gone (`Body::GiveBack`), unless a retry
//!   collected it meanwhile. Forgotten after `HANDED_KEEP_MS`: an answer is written, or its connection
//!   cut off, long before.
use std::collections::{HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::engine::{Millis, RequestId};
use crate::host::Claim;

/// How long a hand-over can be given back (by the engine's clock).
pub const HANDED_KEEP_MS: Millis = 60_000;

/// The log entry that parked a request: its proposer, the proposer's count, and its revision.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    pub server: Uuid,
    pub seq: u64,
    pub revision: i64,
}

#[derive(Default, Debug, PartialEq, Eq)]
pub struct Origins {
    parked: HashMap<RequestId, Origin>,
    handed: HashMap<Claim, (Origin, Millis)>,
    /// `handed` in the order given, for forgetting the old ones.
    handed_order: VecDeque<(Millis, Claim)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginsSnapshot {
    pub parked: Vec<(RequestId, Origin)>,
    pub handed: Vec<(Claim, Origin, Millis)>,
}

impl Origins {
    pub fn park(&mut self, request: RequestId, origin: Origin) {
        self.parked.insert(request, origin);
    }

    pub fn parked_at(&self, request: RequestId) -> Option<&Origin> {
        self.parked.get(&request)
    }

    /// `request`'s wait ended; if with a grant (`claim`), the grant is on its way from where it was
    /// parked.
    pub fn unpark(&mut self, request: RequestId, claim: Option<Claim>, now: Millis) {
        let Some(origin) = self.parked.remove(&request) else {
            return;
        };
        if let Some(claim) = claim {
            self.handed.insert(claim, (origin, now));
            self.handed_order.push_back((now, claim));
        }
    }

    /// Where the grant `claim` was handed from, while it can still be given back.
    pub fn handed_from(&self, claim: Claim) -> Option<&Origin> {
        self.handed.get(&claim).map(|(origin, _)| origin)
    }

    /// The client has its grant (a retry collected it): nothing may give it back.
    pub fn collected(&mut self, claim: Claim) {
        // Empty but with `--store`: every grant passes here, and hashing its claim is not free.
        if !self.handed.is_empty() {
            self.handed.remove(&claim);
        }
    }

    /// Whether `claim` is still the grant handed from `origin`; if so it is taken (to be given back).
    pub fn take_handed(&mut self, claim: Claim, origin: &Origin) -> bool {
        if self.handed_from(claim) != Some(origin) {
            return false;
        }
        self.handed.remove(&claim);
        true
    }

    /// Forgets hand-overs older than `HANDED_KEEP_MS` at `clock`.
    pub fn prune(&mut self, clock: Millis) {
        while let Some(&(at, claim)) = self.handed_order.front() {
            if at + HANDED_KEEP_MS > clock {
                break;
            }
            self.handed_order.pop_front();
            if self.handed.get(&claim).is_some_and(|(_, t)| *t == at) {
                self.handed.remove(&claim);
            }
        }
    }

    /// The parked requests of servers not in `live` (read at revision `seen`), parked before `seen`:
    /// a server that registered after that read cannot be judged by it.
    pub fn of_dead_servers(&self, live: &HashSet<Uuid>, seen: i64) -> Vec<(RequestId, Origin)> {
        let mut dead: Vec<(RequestId, Origin)> = self
            .parked
            .iter()
            .filter(|(_, o)| o.revision < seen && !live.contains(&o.server))
            .map(|(r, o)| (*r, o.clone()))
            .collect();
        dead.sort_by_key(|(r, _)| *r);
        dead
    }

    /// The requests parked by `server`, in id order.
    pub fn parked_by(&self, server: Uuid) -> Vec<RequestId> {
        let mut parked: Vec<RequestId> = self
            .parked
            .iter()
            .filter(|(_, o)| o.server == server)
            .map(|(r, _)| *r)
            .collect();
        parked.sort();
        parked
    }

    pub fn snapshot(&self) -> OriginsSnapshot {
        let mut parked: Vec<(RequestId, Origin)> =
            self.parked.iter().map(|(r, o)| (*r, o.clone())).collect();
        parked.sort_by_key(|(r, _)| *r);
        let handed = self
            .handed_order
            .iter()
            .filter(|(at, claim)| self.handed.get(claim).is_some_and(|(_, t)| t == at))
            .map(|(at, claim)| (*claim, self.handed[claim].0.clone(), *at))
            .collect();
        OriginsSnapshot { parked, handed }
    }

    pub fn restore(snapshot: OriginsSnapshot) -> Origins {
        let mut origins = Origins {
            parked: snapshot.parked.into_iter().collect(),
            ..Origins::default()
        };
        for (claim, origin, at) in snapshot.handed {
            origins.handed.insert(claim, (origin, at));
            origins.handed_order.push_back((at, claim));
        }
        origins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(server: u128, seq: u64) -> Origin {
        Origin {
            server: Uuid::from_u128(server),
            seq,
            revision: seq as i64 + 10,
        }
    }

    #[test]
    fn a_grant_is_given_back_only_from_where_it_was_handed_and_until_collected() {
        let mut o = Origins::default();
        let r = RequestId(4);
        o.park(r, origin(1, 1));
        // A newer poll moved it to server 2 before the grant.
        o.park(r, origin(2, 9));
        o.unpark(r, Some(Claim::Request(r)), 100);
        assert!(o.parked_at(r).is_none());
        assert!(!o.take_handed(Claim::Request(r), &origin(1, 1)));
        assert!(o.take_handed(Claim::Request(r), &origin(2, 9)));
        assert!(!o.take_handed(Claim::Request(r), &origin(2, 9)), "once");

        o.park(r, origin(2, 10));
        o.unpark(r, Some(Claim::Request(r)), 100);
        o.collected(Claim::Request(r));
        assert!(!o.take_handed(Claim::Request(r), &origin(2, 10)));
    }

    #[test]
    fn old_hand_overs_are_forgotten_and_snapshots_round_trip() {
        let mut o = Origins::default();
        o.park(RequestId(1), origin(1, 1));
        o.park(RequestId(2), origin(1, 2));
        o.park(RequestId(3), origin(2, 3));
        o.unpark(RequestId(1), Some(Claim::Request(RequestId(1))), 1_000);
        o.unpark(RequestId(2), Some(Claim::Request(RequestId(2))), 30_000);
        let copy = Origins::restore(o.snapshot());
        assert_eq!(copy, o);
        o.prune(1_000 + HANDED_KEEP_MS);
        assert!(o.handed_from(Claim::Request(RequestId(1))).is_none());
        assert!(o.handed_from(Claim::Request(RequestId(2))).is_some());
        assert_eq!(Origins::restore(o.snapshot()).snapshot(), o.snapshot());
    }

    #[test]
    fn only_waiters_of_servers_missing_from_a_later_reading_are_dead() {
        let mut o = Origins::default();
        o.park(RequestId(1), origin(1, 1)); // revision 11
        o.park(RequestId(2), origin(2, 2)); // revision 12
        o.park(RequestId(3), origin(3, 30)); // revision 40: after the reading
        let live: HashSet<Uuid> = [Uuid::from_u128(1)].into();
        let dead = o.of_dead_servers(&live, 20);
        assert_eq!(dead, vec![(RequestId(2), origin(2, 2))]);
    }
}
