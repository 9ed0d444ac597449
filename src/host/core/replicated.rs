//! `Core` with `--store etcd://…`: the engine is a replica of a log that lives in etcd.
//!
//! A change is not applied where it is asked for. The worker proposes it (an entry appended to the
//! shared log), and waits; the applier thread (`replica::follow`) applies every entry of the log, this
//! server's and the others', in the log's order, and hands each proposer its reply. A proposal that
//! would wait carries its connection and responder, and the applier parks it under the engine lock
//! in the same step that queued it, as `apply_parking` does in memory. Answers to connections parked
//! here that other servers' entries made due go to the delivery thread.
//!
//! What needs no answer (a hang-up, a grant given back, an expiry, the waiters of a dead server) is
//! proposed in the background; its effect comes with the log like any other.
//!
//! When etcd cannot be asked, the call that needed it returns `HostError::Unavailable` with a reason.
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::engine::{Command, Engine, Millis, Op, Reply, RequestId};
use crate::host::replica::{Body, Entry, Job, Origins, Replica, SharedSnapshot};
use crate::store::Failure;
use crate::timefmt;

use super::super::{Store, Waiter};
use super::{Claim, Core, Delivery, HostError, Inner, Parked, Session};

mod apply;
#[cfg(test)]
mod tests;

/// How long a worker waits for its proposal to come back applied.
const APPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a read waits for this server to catch up with the log.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(3);
/// After a tick that could not be proposed, the next attempt waits this long.
const TICK_RETRY: Duration = Duration::from_millis(500);
/// Ending a dead server's waiter is proposed again only after this (the first may have been lost).
const END_AGAIN: Duration = Duration::from_secs(3);
/// A snapshot is written (and the log compacted) each time the log's revision passes a multiple of this.
const SNAPSHOT_EVERY: i64 = 10_000;

/// `SNAPSHOT_EVERY`, or `WEBLOCK_SNAPSHOT_EVERY` from the environment: a test knob, so that a test
/// crosses a few snapshots and compactions in a second rather than 10,000 revisions.
pub fn snapshot_every() -> i64 {
    static EVERY: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *EVERY.get_or_init(|| crate::knob::test_knob("WEBLOCK_SNAPSHOT_EVERY", SNAPSHOT_EVERY))
}

/// This server's half of the log: its proposals in flight and how far it has applied.
pub(in crate::host) struct Proposals<W: Waiter> {
    waiting: HashMap<u64, Proposal<W>>,
    /// The revision of the last entry applied.
    applied: i64,
    /// The tick in flight (at most one), and when a failed one may be tried again.
    tick: Option<u64>,
    tick_retry: Option<Instant>,
    /// Parked requests whose end was proposed, and when.
    ending: HashMap<RequestId, Instant>,
    /// Give-backs of the entry being applied, to be written before its reply is let out.
    pub(super) appends: Vec<Entry>,
}

impl<W: Waiter> Default for Proposals<W> {
    fn default() -> Proposals<W> {
        Proposals {
            waiting: HashMap::new(),
            applied: 0,
            tick: None,
            tick_retry: None,
            ending: HashMap::new(),
            appends: Vec::new(),
        }
    }
}

struct Proposal<W: Waiter> {
    parked: Option<Parked<W>>,
    reply: Option<Reply>,
}

impl<W: Waiter> Core<W> {
    /// A core whose state is the shared log's, from `snapshot` (or empty) on.
    pub fn replicated(snapshot: SharedSnapshot, replica: Replica) -> Result<Core<W>, String> {
        let engine =
            Engine::restore(snapshot.engine).map_err(|e| format!("bad stored snapshot: {e}"))?;
        let origins = Origins::restore(snapshot.origins);
        let core = Core::with(engine, Store::Replicated(Box::new(replica)), origins);
        core.inner().proposals.applied = snapshot.revision;
        Ok(core)
    }

    /// The shared log, with `--store`.
    pub fn replica(&self) -> Option<&Replica> {
        self.store.replica()
    }

    /// The revision of the last log entry applied here.
    pub fn applied_revision(&self) -> i64 {
        self.inner().proposals.applied
    }

    /// The whole shared state as of the last entry applied.
    pub fn shared_snapshot(&self) -> SharedSnapshot {
        let inner = self.inner();
        SharedSnapshot {
            revision: inner.proposals.applied,
            engine: inner.engine.snapshot(),
            origins: inner.origins.snapshot(),
        }
    }

    /// Proposes `op` and waits for its reply; `parked`: the connection to park if it has to wait.
    pub(super) fn propose(
        &self,
        session: &mut Session,
        replica: &Replica,
        op: Op,
        parked: Option<Parked<W>>,
    ) -> Result<(Reply, Vec<Delivery<W>>), HostError> {
        let entry = replica.entry(Body::Command {
            command: Command {
                now: timefmt::now_ms(),
                op,
            },
            parks: parked.is_some(),
        });
        let seq = entry.seq;
        let proposal = Proposal {
            parked,
            reply: None,
        };
        self.inner().proposals.waiting.insert(seq, proposal);
        // Shares a put with this server's other proposals in flight (`replica::batch`).
        let appended = replica
            .append(vec![entry])
            .pop()
            .unwrap_or_else(|| Err(Failure::Refused("nothing was written".to_string())));
        let deadline = Instant::now() + APPLY_TIMEOUT;
        let mut inner = self.inner();
        loop {
            if let Some(reply) = inner
                .proposals
                .waiting
                .get_mut(&seq)
                .and_then(|p| p.reply.take())
            {
                inner.proposals.waiting.remove(&seq);
                session.caught_up = true;
                return Ok((reply, Vec::new()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let why = match &appended {
                Err(failure) => Some(replica.refusal(failure)),
                Ok(_) if left.is_zero() => Some(format!(
                    "the change was written to etcd ({}) but this server did not see it applied within {}s: it may or may not have taken effect; ask again",
                    replica.store.url,
                    APPLY_TIMEOUT.as_secs()
                )),
                Ok(_) => None,
            };
            if let Some(why) = why {
                // From here on an entry that still comes back finds nobody waiting (see apply_entry).
                inner.proposals.waiting.remove(&seq);
                return Err(HostError::Unavailable(why));
            }
            inner = self
                .applied
                .wait_timeout(inner, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// A request's first read: wait until this server has applied every entry the log held when
    /// asked, so it answers no older state than a client could have seen through another server.
    pub(super) fn catch_up_for_request(
        &self,
        session: &mut Session,
        replica: &Replica,
    ) -> Result<(), HostError> {
        if !session.caught_up {
            self.catch_up(replica, CATCH_UP_TIMEOUT)
                .map_err(HostError::Unavailable)?;
            session.caught_up = true;
        }
        Ok(())
    }

    /// Waits until the log's current head is applied here; the head, or why not.
    pub fn catch_up(&self, replica: &Replica, within: Duration) -> Result<i64, String> {
        let head = replica.store.head().map_err(|e| {
            format!(
                "the etcd cluster at {} cannot confirm this server is up to date ({e}); refusing to answer from possibly stale state",
                replica.store.url
            )
        })?;
        let deadline = Instant::now() + within;
        let mut inner = self.inner();
        while inner.proposals.applied < head {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "this server has applied the shared log up to revision {} of {head} and cannot catch up with etcd ({}) now; refusing to answer from stale state",
                    inner.proposals.applied, replica.store.url
                ));
            }
            inner = self
                .applied
                .wait_timeout(inner, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Ok(head)
    }

    /// A deadline is due at `now`: propose a tick, unless one is in flight (or failed just now).
    pub(super) fn propose_tick(&self, replica: &Replica, inner: &mut Inner<W>, now: Millis) {
        let p = &mut inner.proposals;
        if p.tick.is_some() || p.tick_retry.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let entry = replica.entry(Body::Command {
            command: Command { now, op: Op::Tick },
            parks: false,
        });
        p.tick = Some(entry.seq);
        replica.later(Job::Append(entry));
    }

    /// A background proposal could not be written; a tick is tried again a little later.
    pub fn proposal_failed(&self, seq: u64) {
        let mut inner = self.inner();
        if inner.proposals.tick == Some(seq) {
            inner.proposals.tick = None;
            inner.proposals.tick_retry = Some(Instant::now() + TICK_RETRY);
        }
    }

    /// Proposes the end of every wait parked by a server that is not in `live` (read at revision
    /// `seen`); its holders keep their locks. Each is proposed again only after `END_AGAIN`.
    pub fn end_waits_of_dead_servers(&self, live: &HashSet<Uuid>, seen: i64) {
        let Some(replica) = self.store.replica() else {
            return;
        };
        let mut inner = self.inner();
        let now = Instant::now();
        inner
            .proposals
            .ending
            .retain(|_, at| now.duration_since(*at) < END_AGAIN);
        for (request, origin) in inner.origins.of_dead_servers(live, seen) {
            if inner.proposals.ending.contains_key(&request) {
                continue;
            }
            inner.proposals.ending.insert(request, now);
            replica.later(Job::Append(replica.entry(Body::EndParked {
                now: timefmt::now_ms(),
                request,
                origin,
            })));
        }
    }
}

/// The entry that ends `request`'s wait as it is parked now (a hang-up, a worker that gave up).
pub(super) fn end_parked_entry<W: Waiter>(
    replica: &Replica,
    inner: &Inner<W>,
    request: RequestId,
) -> Option<Entry> {
    let origin = inner.origins.parked_at(request)?;
    Some(replica.entry(Body::EndParked {
        now: timefmt::now_ms(),
        request,
        origin: origin.clone(),
    }))
}

/// The entry that gives back the grant `claim` handed from here, whose client was gone.
pub(super) fn give_back_entry<W: Waiter>(
    replica: &Replica,
    inner: &Inner<W>,
    claim: Claim,
    op: Op,
) -> Option<Entry> {
    let origin = inner.origins.handed_from(claim)?;
    (origin.server == replica.id).then(|| {
        replica.entry(Body::GiveBack {
            now: timefmt::now_ms(),
            claim,
            origin: origin.clone(),
            op,
        })
    })
}

impl Replica {
    /// The 503's reason for a proposal etcd did not take.
    fn refusal(&self, failure: &Failure) -> String {
        match failure {
            Failure::Unreachable(why) => format!(
                "the etcd cluster at {} is unreachable ({why}); nothing was changed",
                self.store.url
            ),
            Failure::NoAnswer(why) => format!(
                "the etcd cluster at {} did not confirm the change ({why}; it may have no quorum): it may or may not have been applied",
                self.store.url
            ),
            Failure::Refused(why) => format!(
                "the etcd cluster at {} refused the change ({why}); nothing was changed",
                self.store.url
            ),
        }
    }
}
