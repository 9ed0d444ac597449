//! Several `weblock serve` as one lock service, sharing a log in etcd (`--store etcd://…`).
//!
//! `Core` (its `replicated` half) applies the log; this module keeps it flowing, on four threads:
//!
//! - **follow**: watches the log from the last revision applied and hands each entry to the core, in
//!   the log's order; reconnects (to any member) from where it was when the watch breaks or falls
//!   silent; loads the stored snapshot when it fell behind a compaction.
//!
//! Every write of the log (a worker's proposal, the background's) goes through `batch`: concurrent
//! writes of this server share one etcd put (group commit), so one revision may hold several entries.
//!
//! - **background**: writes what needs no answer: hang-ups, give-backs, ticks, a dead server's ends,
//!   snapshots (then compacts the log below them).
//! - **deliver**: writes the answers the applier made due to connections parked here, so the applier
//!   never waits on a connection (whose next pipelined request may itself wait on the applier).
//! - **liveness**: keeps this server's key alive on its lease, and ends the waits parked by servers
//!   whose keys are gone.
mod batch;
mod entry;
mod origins;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use uuid::Uuid;

pub use entry::{Body, Entry, SharedSnapshot, decode_value};
pub use origins::{Origin, Origins, OriginsSnapshot};

use super::{Delivery, Host, Waiter};
use crate::store::{Failure, Store, WatchMessage};
use batch::Batcher;

/// A server's liveness key lives this long without a renewal: its waiters are ended this long after
/// it dies.
pub const LEASE_TTL: Duration = Duration::from_secs(5);
/// How often the lease is renewed and the other servers' keys read.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// A watch that hears nothing for this long is opened again (a silent connection may be dead).
const WATCH_IDLE: Duration = Duration::from_secs(10);

/// What the background thread writes.
pub enum Job {
    Append(Entry),
    /// A snapshot, and whether to compact etcd below it after.
    Snapshot(SharedSnapshot, bool),
}

/// This server's handle on the shared log.
pub struct Replica {
    pub store: Store,
    /// This run's id (a restarted server is a new one).
    pub id: Uuid,
    seq: AtomicU64,
    batcher: Batcher,
    jobs: Sender<Job>,
}

/// The other ends of a replica's queues, for its threads.
pub struct Queues {
    jobs: Receiver<Job>,
}

#[cfg(test)]
impl Queues {
    /// The jobs handed to the background thread so far.
    pub fn jobs_so_far(&self) -> Vec<Job> {
        self.jobs.try_iter().collect()
    }
}

impl Replica {
    pub fn new(store: Store) -> (Replica, Queues) {
        let (jobs, jobs_rx) = channel();
        let replica = Replica {
            store,
            id: Uuid::new_v4(),
            seq: AtomicU64::new(0),
            batcher: Batcher::default(),
            jobs,
        };
        let queues = Queues { jobs: jobs_rx };
        (replica, queues)
    }

    /// A new entry of this server's.
    pub fn entry(&self, body: Body) -> Entry {
        Entry {
            server: self.id,
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            body,
        }
    }

    /// Writes `entries` to the log in order, sharing etcd puts with this server's other writers
    /// (never call it under the engine's lock); each one's revision, or why it was not written.
    pub fn append(&self, entries: Vec<Entry>) -> Vec<Result<i64, Failure>> {
        let encoded = entries.iter().map(Entry::encode).collect();
        self.batcher.write(&self.store, encoded)
    }

    /// Writes `entry` now, on the calling thread (never under the engine's lock); if etcd cannot take
    /// it now, the background thread tries once more.
    pub fn append_now(&self, entry: Option<Entry>) {
        if let Some(entry) = entry
            && self.append(vec![entry.clone()]).iter().any(Result::is_err)
        {
            self.later(Job::Append(entry));
        }
    }

    /// Hands `job` to the background thread.
    pub fn later(&self, job: Job) {
        // The receiver lives as long as the process: a send cannot fail before it ends.
        let _ = self.jobs.send(job);
    }
}

/// The state to start from: the latest snapshot; on a fresh prefix, an empty state as of the
/// store's current revision (older revisions may have been compacted away by others' use of etcd).
pub fn load(store: &Store) -> Result<SharedSnapshot, String> {
    let Some((revision, bytes)) = store.load_snapshot()? else {
        let (now, log) = store.etcd.get(store.log_key()).map_err(|e| e.to_string())?;
        return Ok(SharedSnapshot {
            // A log without a snapshot (its first server died before writing one) is replayed whole.
            revision: if log.is_some() { 0 } else { now },
            engine: crate::engine::Engine::new().snapshot(),
            origins: OriginsSnapshot::default(),
        });
    };
    let snapshot: SharedSnapshot = serde_json::from_slice(&bytes)
        .map_err(|e| format!("the stored snapshot is not one: {e}"))?;
    if snapshot.revision != revision {
        return Err(format!(
            "the stored snapshot says revision {} but is filed under {revision}",
            snapshot.revision
        ));
    }
    Ok(snapshot)
}

/// Starts the replica's threads on `shared` (whose core is replicated), registers this server, and
/// waits until it has caught up with the log; then it may serve.
pub fn start<H: Host>(shared: &Arc<H>, queues: Queues, within: Duration) -> Result<(), String> {
    let replica = shared.core().replica().ok_or("not a replicated core")?;
    let lease = replica
        .store
        .register(&replica.id.simple().to_string(), LEASE_TTL)
        .map_err(|e| format!("cannot register with etcd at {}: {e}", replica.store.url))?;
    let from = shared.core().applied_revision();
    // Answers that the applier made due are written on a thread of their own, so the applier never
    // waits on a connection (whose next pipelined request may itself wait on the applier).
    let (deliveries, due) = channel();
    spawn(shared, "follow", move |s| follow(s, from, deliveries))?;
    let jobs = queues.jobs;
    spawn(shared, "background", move |s| background(s, jobs))?;
    spawn(shared, "deliver", move |s| {
        while let Ok(batch) = due.recv() {
            s.deliver(batch);
        }
    })?;
    spawn(shared, "liveness", move |s| liveness(s, lease))?;
    shared.core().catch_up(replica, within)?;
    // A snapshot at start: a server that starts after this replays no more than what follows. No
    // compaction here: it is etcd-wide, and other users of the cluster may still need its history.
    replica.later(Job::Snapshot(shared.core().shared_snapshot(), false));
    Ok(())
}

fn spawn<H: Host>(
    shared: &Arc<H>,
    name: &str,
    f: impl FnOnce(Arc<H>) + Send + 'static,
) -> Result<(), String> {
    let shared = shared.clone();
    crate::thread::spawn(name.to_string(), move || f(shared))
        .map_err(|e| format!("cannot start the {name} thread: {e}"))
}

/// Applies the log as the watch brings it, for ever.
fn follow<H: Host>(shared: Arc<H>, mut applied: i64, due: Sender<Vec<Delivery<H::Waiter>>>) {
    let shared = &*shared;
    let core = shared.core();
    let Some(replica) = core.replica() else {
        return;
    };
    let mut backoff = Duration::ZERO;
    loop {
        if !backoff.is_zero() {
            std::thread::sleep(backoff);
        }
        backoff = (backoff * 2).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let mut watch = match replica.store.watch(applied + 1, WATCH_IDLE) {
            Ok(watch) => watch,
            Err(_) => continue,
        };
        loop {
            match watch.next_message() {
                Ok(WatchMessage::Changes { kvs, .. }) => {
                    backoff = Duration::ZERO;
                    for kv in kvs {
                        let entries = decode_value(&kv.value);
                        let applied = core.apply_value(kv.mod_revision, entries);
                        for entry in applied.appends {
                            replica.append_now(Some(entry));
                        }
                        core.answer(applied.answers);
                        send(&due, applied.deliveries);
                    }
                    applied = core.applied_revision();
                }
                Ok(WatchMessage::Compacted(compacted)) => {
                    // etcd compaction is cluster-wide: others' use of etcd may compact past a quiet
                    // log. If nothing was appended since what was applied, nothing is lost: watch
                    // on from the compaction.
                    if replica
                        .store
                        .head()
                        .is_ok_and(|head| head <= core.applied_revision())
                    {
                        applied = applied.max(compacted - 1);
                        break;
                    }
                    match load(&replica.store).and_then(|s| core.restore(s)) {
                        Ok(deliveries) => send(&due, deliveries),
                        // etcd failed us meanwhile: nothing is known yet about what is lost, so
                        // watch again (after the back-off) rather than judge from a stale snapshot.
                        Err(e) => {
                            warn!("weblock: cannot catch up with the shared log yet: {e}");
                            break;
                        }
                    }
                    applied = core.applied_revision();
                    if applied + 1 < compacted {
                        // The entries between the snapshot and the compaction are gone: this server
                        // cannot know the state, and must not answer from a wrong one.
                        warn!(
                            "weblock: etcd ({}) was compacted at revision {compacted}, past the stored snapshot (revision {applied}): the shared log between them is lost to this server; stopping (keep etcd's history longer than a snapshot interval)",
                            replica.store.url
                        );
                        std::process::exit(70);
                    }
                    break;
                }
                Ok(WatchMessage::Cancelled(_)) | Err(_) => break,
            }
        }
    }
}

fn send<W: Waiter>(due: &Sender<Vec<Delivery<W>>>, deliveries: Vec<Delivery<W>>) {
    if !deliveries.is_empty() {
        // The receiver lives as long as the process.
        let _ = due.send(deliveries);
    }
}

/// Writes the proposals that need no answer, and the snapshots.
fn background<H: Host>(shared: Arc<H>, jobs: Receiver<Job>) {
    let Some(replica) = shared.core().replica() else {
        return;
    };
    let mut held = None;
    loop {
        let job = match held.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        match job {
            Job::Append(entry) => {
                // What queued meanwhile goes with it (the writes stay in the order they were asked).
                let mut entries = vec![entry];
                while let Ok(job) = jobs.try_recv() {
                    match job {
                        Job::Append(entry) => entries.push(entry),
                        other => {
                            held = Some(other);
                            break;
                        }
                    }
                }
                let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
                for (seq, outcome) in seqs.into_iter().zip(replica.append(entries)) {
                    if outcome.is_err() {
                        shared.core().proposal_failed(seq);
                    }
                }
            }
            Job::Snapshot(snapshot, compact) => {
                let bytes = serde_json::to_vec(&snapshot).unwrap_or_default();
                if let Err(e) = replica
                    .store
                    .save_snapshot(snapshot.revision, &bytes, compact)
                {
                    warn!(
                        "weblock: cannot store a snapshot at revision {} in etcd ({e}); the log is not compacted",
                        snapshot.revision
                    );
                }
            }
        }
    }
}

/// Keeps this server's key alive, and ends the waits of servers whose keys are gone. Not right after
/// etcd failed to answer, or lost this server's lease: an etcd that was away (frozen, without quorum)
/// longer than the leases expires every server's key at once, and the live ones register again
/// within a heartbeat or two; so nobody is judged until etcd has answered for a lease's length.
fn liveness<H: Host>(shared: Arc<H>, mut lease: i64) {
    let Some(replica) = shared.core().replica() else {
        return;
    };
    let id = replica.id.simple().to_string();
    let mut judge_from = Instant::now();
    let mut previous = Instant::now();
    loop {
        let started = Instant::now();
        // A round that comes late (this process was starved of CPU) is no calm one: leases may have
        // lapsed meanwhile for other reasons than a death.
        let mut calm = started.duration_since(previous) <= HEARTBEAT * 2;
        // Lost (etcd was away longer than the lease): the others have ended this server's waits by
        // now, unless they saw etcd away too; it registers again to keep serving.
        match replica.store.etcd.keep_alive(lease) {
            Ok(true) => {}
            Ok(false) => {
                calm = false;
                match replica.store.register(&id, LEASE_TTL) {
                    Ok(new) => lease = new,
                    Err(e) => warn!("weblock: cannot register with etcd again: {e}"),
                }
            }
            Err(_) => calm = false,
        }
        let seen = replica.store.live_servers();
        if let Ok((_, ids)) = &seen {
            shared.servers_seen(ids.len());
        }
        // Nor is a slow one: a call that hung while etcd was frozen (or its leader stalled) may come
        // back with success after etcd, thawing, expired every lease, the others' included.
        if started.elapsed() > HEARTBEAT {
            calm = false;
        }
        match seen {
            Ok((seen, ids)) if calm && Instant::now() >= judge_from => {
                let live: HashSet<Uuid> = ids.iter().filter_map(|i| i.parse().ok()).collect();
                shared.core().end_waits_of_dead_servers(&live, seen);
            }
            Ok(_) => {}
            Err(_) => calm = false,
        }
        if !calm {
            judge_from = Instant::now() + LEASE_TTL;
        }
        previous = Instant::now();
        std::thread::sleep(HEARTBEAT.saturating_sub(started.elapsed()));
    }
}
