//! Applying the shared log: one value of the log key at a time, each holding one entry or, since
//! group commit (`replica::batch`), several in order.
//!
//! Several entries may share one etcd revision, so a revision no longer names one entry. What names
//! an entry stays what it was: its proposer and sequence number (`Origin`'s identity, the tick in
//! flight, the table of proposals waiting for their replies). What a revision stands for is *the state
//! after every entry of that value*: a value is applied whole, under one hold of the engine lock, and
//! only then is its revision the one applied. So no one sees half of it: a catch-up waiting for the
//! log's head, a snapshot filed under revision R (which must hold all of R's entries, or a server
//! restoring it would apply some twice or miss some), the watch reopened from the revision after
//! the applied one. An `Origin`'s revision only tells when the entry was in etcd (a server is judged
//! by a reading of the live set at a later revision): every entry of a put is there from its
//! revision on.
use crate::engine::{CancelBy, Command, Engine, Op, Reply, RequestId};
use crate::host::replica::{Body, Entry, Job, Origin, Origins, Replica, SharedSnapshot};

use super::super::super::Waiter;
use super::super::{Answer, Claim, Core, Delivery, Inner, unpark, waiting};
use super::{end_parked_entry, snapshot_every};

/// What applying one value of the log gave.
pub struct Applied<W: Waiter> {
    /// Answers due to connections parked here, in the log's order.
    pub deliveries: Vec<Delivery<W>>,
    /// Entries to write before `answers` are let out (see `settle`).
    pub appends: Vec<Entry>,
    /// This server's proposals' replies, by number, when they wait on `appends`.
    pub answers: Vec<(u64, Reply)>,
}

impl<W: Waiter> Default for Applied<W> {
    fn default() -> Applied<W> {
        Applied {
            deliveries: Vec::new(),
            appends: Vec::new(),
            answers: Vec::new(),
        }
    }
}

impl<W: Waiter> Core<W> {
    /// Applies the value of the log key at `revision`: its entries in order (or skips a value that
    /// holds none, as every server does). The caller writes `appends`, then lets `answers` out
    /// (`answer`), then delivers.
    pub fn apply_value(&self, revision: i64, entries: Result<Vec<Entry>, String>) -> Applied<W> {
        let Some(replica) = self.store.replica() else {
            return Applied::default();
        };
        let mut inner = self.inner();
        let before = inner.proposals.applied;
        if revision <= before {
            return Applied::default();
        }
        let mut applied = Applied::default();
        match entries {
            Ok(entries) => {
                for entry in entries {
                    let (deliveries, answer) =
                        self.apply_entry(replica, &mut inner, revision, entry);
                    applied.deliveries.extend(deliveries);
                    applied.answers.extend(answer);
                }
            }
            Err(why) => warn!("weblock: skipped log entry at revision {revision}: {why}"),
        }
        // Only now, with every entry of the value applied (see above).
        inner.proposals.applied = revision;
        // A give-back of any entry holds back every reply of the value: a later entry's reply may
        // show the state in which the gone client holds what it is giving back.
        applied.appends = std::mem::take(&mut inner.proposals.appends);
        if applied.appends.is_empty() {
            for (seq, reply) in applied.answers.drain(..) {
                set_reply(&mut inner, seq, reply);
            }
        }
        let clock = inner.engine.clock();
        inner.origins.prune(clock);
        self.applied.notify_all();
        let every = snapshot_every();
        if revision / every > before / every {
            // Every server asks for it; the compare-and-put keeps one (`Store::save_snapshot`).
            let snapshot = SharedSnapshot {
                revision,
                engine: inner.engine.snapshot(),
                origins: inner.origins.snapshot(),
            };
            replica.later(Job::Snapshot(snapshot, true));
        }
        applied
    }

    /// Lets out replies that waited for their value's give-backs to be written.
    pub fn answer(&self, answers: Vec<(u64, Reply)>) {
        if answers.is_empty() {
            return;
        }
        let mut inner = self.inner();
        for (seq, reply) in answers {
            set_reply(&mut inner, seq, reply);
        }
        self.applied.notify_all();
    }

    /// Applies one entry of the value at `revision`: the answers it made due to connections parked
    /// here, and its reply if it is this server's.
    fn apply_entry(
        &self,
        replica: &Replica,
        inner: &mut Inner<W>,
        revision: i64,
        entry: Entry,
    ) -> (Vec<Delivery<W>>, Option<(u64, Reply)>) {
        let mine = entry.server == replica.id;
        match entry.body {
            Body::Command { command, parks } => {
                if mine && inner.proposals.tick == Some(entry.seq) {
                    inner.proposals.tick = None;
                    self.timer.notify_one();
                }
                let (reply, mut deliveries) = self.run_command(inner, command);
                if parks && let Some(request) = waiting(&reply) {
                    deliveries.extend(unpark(inner, request, Answer::Superseded));
                    let origin = Origin {
                        server: entry.server,
                        seq: entry.seq,
                        revision,
                    };
                    inner.origins.park(request, origin);
                    let proposal = mine
                        .then(|| inner.proposals.waiting.get_mut(&entry.seq))
                        .flatten();
                    match proposal.and_then(|p| p.parked.take()) {
                        Some(parked) => {
                            inner.parked.insert(request, parked);
                        }
                        // Its worker gave up waiting (and answered 503): nobody will collect
                        // what this queued.
                        None if mine => {
                            if let Some(end) = end_parked_entry(replica, inner, request) {
                                replica.later(Job::Append(end));
                            }
                        }
                        None => {}
                    }
                }
                (deliveries, mine.then_some((entry.seq, reply)))
            }
            Body::EndParked {
                now,
                request,
                origin,
            } => {
                inner.proposals.ending.remove(&request);
                if inner.origins.parked_at(request) != Some(&origin) {
                    return (Vec::new(), None);
                }
                let op = Op::Cancel {
                    request,
                    by: CancelBy::Client,
                };
                let mut deliveries = self.run_command(inner, Command { now, op }).1;
                // Still parked here, so not its client's hang-up: the others judged this server
                // dead (it was paused, or cut off from etcd) and ended the waits parked on it.
                for delivery in &mut deliveries {
                    if delivery.request == request && matches!(delivery.answer, Answer::Deleted) {
                        delivery.answer = Answer::Retry(judged_dead(Some(replica)));
                    }
                }
                (deliveries, None)
            }
            Body::GiveBack {
                now,
                claim,
                origin,
                op,
            } => {
                if !inner.origins.take_handed(claim, &origin) {
                    return (Vec::new(), None);
                }
                (self.run_command(inner, Command { now, op }).1, None)
            }
        }
    }

    /// Replaces the state with `snapshot` (this server fell behind a compaction of the log). What the
    /// skipped entries did to this server's own waiters is settled here: a connection parked on a
    /// request the snapshot shows granted from here is told of its grant; one no longer parked here
    /// is told its wait ended; a request the snapshot shows parked here with no connection (its
    /// worker gave up, its entry skipped) is ended. Proposals whose entries were skipped time out,
    /// and so would the tick in flight: another may be proposed at once.
    pub fn restore(&self, snapshot: SharedSnapshot) -> Result<Vec<Delivery<W>>, String> {
        let engine =
            Engine::restore(snapshot.engine).map_err(|e| format!("bad stored snapshot: {e}"))?;
        let mut inner = self.inner();
        inner.engine = engine;
        inner.origins = Origins::restore(snapshot.origins);
        inner.proposals.applied = snapshot.revision;
        inner.proposals.tick = None;
        let replica_id = self.store.replica().map(|r| r.id);
        let gone: Vec<RequestId> = inner
            .parked
            .keys()
            .copied()
            .filter(|r| inner.origins.parked_at(*r).map(|o| o.server) != replica_id)
            .collect();
        let mut deliveries = Vec::new();
        for request in gone {
            let handed_here = inner
                .origins
                .handed_from(Claim::Request(request))
                .is_some_and(|o| Some(o.server) == replica_id);
            let answer = match inner.engine.grant_of(request) {
                Some(grant) if handed_here => Answer::Granted(grant),
                _ => Answer::Retry(judged_dead(self.store.replica())),
            };
            deliveries.extend(unpark(&mut inner, request, answer));
        }
        if let Some(replica) = self.store.replica() {
            for request in inner.origins.parked_by(replica.id) {
                if !inner.parked.contains_key(&request)
                    && let Some(end) = end_parked_entry(replica, &inner, request)
                {
                    replica.later(Job::Append(end));
                }
            }
        }
        self.applied.notify_all();
        self.timer.notify_one();
        Ok(deliveries)
    }
}

/// Why a wait parked here was ended by the others.
fn judged_dead(replica: Option<&Replica>) -> String {
    let store = replica.map_or(String::new(), |r| format!(" at {}", r.store.url));
    format!(
        "this server lost touch with the shared log{store} for longer than its liveness lease (it was paused or cut off), and the other servers ended the waits parked on it; this request is no longer in line: ask again"
    )
}

fn set_reply<W: Waiter>(inner: &mut Inner<W>, seq: u64, reply: Reply) {
    // Gone if its worker gave up waiting.
    if let Some(proposal) = inner.proposals.waiting.get_mut(&seq) {
        proposal.reply = Some(reply);
    }
}
