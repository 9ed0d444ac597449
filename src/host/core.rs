//! The engine behind one lock, with the connections parked on it.
//!
//! Every change goes through here: the engine applies a command stamped with the wall clock, and the
//! events it returns are settled before the lock is let go: a lock handed to a parked waiter whose client
//! has hung up goes straight on to the next in line, so a dead waiter never becomes a holder. What is left
//! are `Delivery`s: answers for parked connections, built under this lock (from the engine's state at that
//! moment) and written by the caller after letting go of it (and of its own connection), so no thread ever
//! holds two connections at once.
//!
//! With `--store etcd://…` the same happens in two halves (`replicated`): a change is proposed to the
//! shared log, and applied here, like every other server's, when the log's watch brings it back.
mod confirm;
mod replicated;
mod settle;
#[cfg(test)]
mod test_ops;
mod writing;

use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::engine::{
    CancelBy, Command, Engine, GateReply, Grant, LockView, Millis, Op, Reply, RequestId,
};
use crate::timefmt;

use super::replica::Origins;
use super::store::Store;
use super::{Before, Observer, Unobserved, Waiter};
pub use confirm::DirectGrant;
pub use replicated::snapshot_every;
use replicated::{end_parked_entry, give_back_entry};
use settle::unpark;
pub use writing::WriteId;

/// After a restart, how long a long-polling waiter has to come back and keep its place.
const RESTART_GRACE_MS: u64 = 10_000;

/// Builds the answer for a parked request once its wait ends, in its dialect's words, from how it ended
/// and the engine's state at that moment. It runs under the engine lock, so it only takes what it
/// needs of the engine (a view, a number) and returns the rest of the work, the `Rendering`, which
/// runs after the lock is let go: the answer's encoding never holds up the engine.
pub type Responder<W> = Box<dyn FnOnce(&Answer, &Engine) -> Rendering<W> + Send>;

/// The part of an answer's making done outside the engine lock (see `Responder`).
pub type Rendering<W> = Box<dyn FnOnce() -> <W as Waiter>::Rendered + Send>;

/// What one request has learned of the store so far: with `--store`, whether it has caught up with
/// the shared log (a request's first read waits for that; later ones need not).
#[derive(Debug, Default)]
pub struct Session {
    caught_up: bool,
}

/// Why the host could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// The shared store cannot be asked, or did not answer in time: why, in words for the client
    /// (who is told to ask again: a 503).
    Unavailable(String),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::Unavailable(why) => f.write_str(why),
        }
    }
}

/// How a parked request's wait ended.
#[derive(Debug, Clone)]
pub enum Answer {
    Granted(Grant),
    /// Its wait deadline passed; the lock as it stands then.
    TimedOut(Option<LockView>),
    /// The same client waits again on a newer connection (a retry with the same token).
    Superseded,
    /// A release with its token took it out of the queue.
    Withdrawn,
    /// The poll ended but the request keeps its place (at `position`) for a grace: the client polls
    /// again with the same token.
    PollEnded {
        position: usize,
        view: Option<LockView>,
    },
    /// A watched resource is free.
    Free,
    /// An administrator (or a DELETE of its URL) ended the waiting request.
    Deleted,
    /// A waited-for ticket's turn came: it holds its gates now.
    TicketGranted {
        ticket: Uuid,
    },
    /// A ticket's wait ended with the ticket still in line.
    TicketPollEnded {
        ticket: Uuid,
    },
    /// The ticket is gone (deleted, or its service).
    TicketEnded,
    /// The wait was ended by nothing its client did (its server was judged dead by the others, or
    /// fell behind a compaction of the log): the client is told why and to ask again (a 503).
    Retry(String),
    /// A watched gate is open.
    GateOpened,
    /// A gate watch ran out (or its service was deleted).
    GateWatchEnded,
}

/// An answer due to a parked connection. A grant's response is rendered only when it is about to
/// be written (`Core::confirm`): it is written only if it is still its client's then, with the lease
/// left then. Any other answer is rendered when it becomes due, under the engine lock of the step that
/// made it due: it shows that step's state, which the delivery's barrier puts on disk before it is
/// written, never a later change (another thread's, perhaps not synced yet when it is written).
pub struct Delivery<W: Waiter> {
    pub waiter: W,
    pub request: RequestId,
    answer: Answer,
    render: Render<W>,
    /// What to undo if the client turns out to be gone when the answer is written: a grant it will
    /// never know of is given back — unless a retry collected it meanwhile (see `Core::undo`).
    pub undo: Option<(Claim, Op)>,
    /// For a lock handed over: when, so the hand-over latency can be measured once it is written.
    pub granted_at: Option<Instant>,
}

/// How a delivery's response is made (see `Delivery`).
enum Render<W: Waiter> {
    /// Taken from the engine when it became due (not a grant).
    Done(Rendering<W>),
    /// A grant's, rendered when it is written.
    Later(Responder<W>),
}

/// A delivery confirmed for writing (`Core::confirm`).
pub struct Ready<W: Waiter> {
    pub waiter: W,
    pub request: RequestId,
    /// The answer (to render, with no lock held), or — for a grant that is no longer its client's —
    /// why not (a 503: ask again).
    pub response: Result<Rendering<W>, String>,
    pub undo: Option<(Claim, Op)>,
    pub granted_at: Option<Instant>,
    /// A grant with a lease is being written: `Core::written` once its answer went to the socket
    /// (or could not), whatever became of it (see `writing`).
    pub write: Option<WriteId>,
}

struct Parked<W: Waiter> {
    waiter: W,
    responder: Responder<W>,
}

struct Inner<W: Waiter> {
    engine: Engine,
    /// This server's parked waiters, by request.
    parked: HashMap<RequestId, Parked<W>>,
    /// Grants handed to a parked connection and not yet known to be received. A retry by the same
    /// client on another connection that collects the grant claims it (takes it out of here), so the
    /// first connection's undo, should it turn out dead, no longer gives the grant back.
    unclaimed: HashSet<Claim>,
    /// The deadline the timer sleeps towards; an earlier one wakes it.
    timer_target: Option<Millis>,
    /// Grants being written: their leases cannot end meanwhile.
    writing: writing::Writing,
    /// With `--store`: which server parked what (shared, from the log), and this server's proposals.
    origins: Origins,
    proposals: replicated::Proposals<W>,
}

/// A grant awaiting delivery: a lock request's, or a gate ticket's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    Request(RequestId),
    Ticket(Uuid),
}

pub struct Core<W: Waiter> {
    inner: Mutex<Inner<W>>,
    timer: Condvar,
    /// Wakes the workers waiting for their proposals to come back applied (with `--store`).
    applied: Condvar,
    /// Where the state is kept: memory, a journal (`--state`), or a shared log (`--store`).
    store: Store,
    /// Counts and logs what each command changed.
    observer: Box<dyn Observer>,
}

impl<W: Waiter> Default for Core<W> {
    fn default() -> Core<W> {
        Core::new(Engine::new(), Store::Memory)
    }
}

impl<W: Waiter> Core<W> {
    /// A core on `engine`, kept in memory or in a journal (for a shared log: `Core::replicated`).
    pub fn new(engine: Engine, store: Store) -> Core<W> {
        Core::with(engine, store, Origins::default())
    }

    fn with(engine: Engine, store: Store, origins: Origins) -> Core<W> {
        Core {
            inner: Mutex::new(Inner {
                engine,
                parked: HashMap::new(),
                unclaimed: HashSet::new(),
                timer_target: None,
                writing: writing::Writing::default(),
                origins,
                proposals: replicated::Proposals::default(),
            }),
            timer: Condvar::new(),
            applied: Condvar::new(),
            store,
            observer: Box::new(Unobserved),
        }
    }

    /// Counts and logs every change with `observer` (the metrics' and the event log's).
    pub fn with_observer(mut self, observer: impl Observer + 'static) -> Core<W> {
        self.observer = Box::new(observer);
        self
    }

    /// After a restart from the journal: the clients that were waiting on connections are gone with
    /// the old process, so their waits end (see `Op::Restart`): none of them is granted a lock or gates
    /// as a phantom. A long-polling client that comes back within the grace keeps its place.
    pub fn recover(&self) {
        let mut inner = self.inner();
        let now = timefmt::now_ms().max(inner.engine.clock());
        let restart = Command {
            now,
            op: Op::Restart {
                grace_ms: RESTART_GRACE_MS,
            },
        };
        let _ = self.apply_logged(&mut inner, restart);
    }

    /// Blocks until every command applied so far is on disk (at once without a journal). Called before
    /// any answer is written: no client hears of a change that a crash could take back.
    pub fn barrier(&self) {
        if let Some(journal) = self.store.journal() {
            journal.wait_synced(journal.appended());
        }
    }

    /// Applies a command and journals it, in the same order, under the engine's lock; what it changed
    /// is counted and logged.
    fn apply_logged(&self, inner: &mut Inner<W>, command: Command) -> crate::engine::Outcome {
        let (now, before) = (command.now, Before::of(&command.op, &inner.engine));
        let outcome = self.apply_journaled(inner, command);
        let engine = &inner.engine;
        self.observer
            .record(now, &before, &outcome.reply, &outcome.events, engine);
        outcome
    }

    fn apply_journaled(&self, inner: &mut Inner<W>, command: Command) -> crate::engine::Outcome {
        let Some(journal) = self.store.journal() else {
            return inner.engine.apply(command);
        };
        let (_, compact_due) = journal.append(&command);
        let outcome = inner.engine.apply(command);
        if compact_due {
            journal.compact(&inner.engine);
        }
        outcome
    }

    fn inner(&self) -> MutexGuard<'_, Inner<W>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the engine's state for a request. With `--store`, the first read of a request waits until
    /// this server has applied everything the shared log held when it asked (see `replicated`).
    pub fn read<R>(
        &self,
        session: &mut Session,
        f: impl FnOnce(&Engine) -> R,
    ) -> Result<R, HostError> {
        self.caught_up(session)?;
        Ok(self.view(f))
    }

    /// With `--store`: waits, once per request, until this server has applied everything the shared
    /// log held when it asked.
    pub fn caught_up(&self, session: &mut Session) -> Result<(), HostError> {
        match self.store.replica() {
            Some(replica) => self.catch_up_for_request(session, replica),
            None => Ok(()),
        }
    }

    /// Reads the engine's state as this server has it, caught up or not (a gauge, or an answer that
    /// is about to be replaced by a refusal anyway).
    pub fn view<R>(&self, f: impl FnOnce(&Engine) -> R) -> R {
        f(&self.inner().engine)
    }

    /// Holds the writing of `claim`'s grant back as a pause of the whole server there would, when
    /// the test knob `WEBLOCK_TEST_STALL_WRITE` names its holder (debug builds only).
    pub fn stall_for_test(&self, claim: Claim) {
        #[cfg(debug_assertions)]
        if let (Some((holder, ms)), Claim::Request(request)) = (crate::knob::stall_write(), claim)
            && self.view(|e| e.grant_of(request).is_some_and(|g| g.holder == *holder))
        {
            std::thread::sleep(Duration::from_millis(*ms));
        }
        #[cfg(not(debug_assertions))]
        let _ = claim;
    }

    pub fn apply(
        &self,
        session: &mut Session,
        op: Op,
    ) -> Result<(Reply, Vec<Delivery<W>>), HostError> {
        if let Some(replica) = self.store.replica() {
            return self.propose(session, replica, op, None);
        }
        let mut inner = self.inner();
        Ok(self.run(&mut inner, op))
    }

    /// Applies `op` (an acquire or a watch); if it has to wait, `waiter` is parked until the wait ends,
    /// and `responder` will build its answer. Parking happens under the same lock as the acquire, so no
    /// hand-over can slip between them.
    pub fn apply_parking(
        &self,
        session: &mut Session,
        op: Op,
        waiter: W,
        responder: impl FnOnce() -> Responder<W>,
    ) -> Result<(Reply, Vec<Delivery<W>>), HostError> {
        if let Some(replica) = self.store.replica() {
            let parked = Parked {
                waiter,
                responder: responder(),
            };
            return self.propose(session, replica, op, Some(parked));
        }
        let mut inner = self.inner();
        let (reply, mut deliveries) = self.run(&mut inner, op);
        // The responder is made only for a request that waits: most are answered at once.
        if let Some(request) = waiting(&reply) {
            deliveries.extend(unpark(&mut inner, request, Answer::Superseded));
            let responder = responder();
            inner.parked.insert(request, Parked { waiter, responder });
        }
        Ok((reply, deliveries))
    }

    /// A parked client hung up: its request ends, unless a hand-over already took it out of the parked set
    /// (then the thread delivering it finds the client gone and ends it).
    pub fn hangup(&self, request: RequestId, waiter: &W) -> Vec<Delivery<W>> {
        let mut inner = self.inner();
        // Only if this waiter is still the one parked there: a retry with the same token may
        // have replaced it (and must not be cancelled with it).
        if inner
            .parked
            .get(&request)
            .is_none_or(|p| !p.waiter.same(waiter))
        {
            return Vec::new();
        }
        if let Some(replica) = self.store.replica() {
            // Its connection stays parked until the cancel comes back applied: a grant that the
            // log orders before it then finds the client gone and is given back (`settle`). Written
            // before this returns, as in memory the cancel is applied at once.
            let entry = end_parked_entry(replica, &inner, request);
            drop(inner);
            replica.append_now(entry);
            return Vec::new();
        }
        inner.parked.remove(&request);
        let op = Op::Cancel {
            request,
            by: CancelBy::Client,
        };
        self.run(&mut inner, op).1
    }

    /// A delivered grant's client was gone: give the grant back, unless a retry on another connection
    /// collected it meanwhile.
    pub fn undo(&self, claim: Claim, op: Op) -> Vec<Delivery<W>> {
        let mut inner = self.inner();
        if !inner.unclaimed.remove(&claim) {
            return Vec::new();
        }
        if let Some(replica) = self.store.replica() {
            let entry = give_back_entry(replica, &inner, claim, op);
            drop(inner);
            replica.append_now(entry);
            return Vec::new();
        }
        self.run(&mut inner, op).1
    }

    /// A grant's answer was written: it is its client's now.
    pub fn delivered(&self, claim: Claim) {
        self.inner().unclaimed.remove(&claim);
    }

    fn run(&self, inner: &mut Inner<W>, op: Op) -> (Reply, Vec<Delivery<W>>) {
        let command = Command {
            now: timefmt::now_ms(),
            op,
        };
        self.run_command(inner, command)
    }

    /// Applies `command`, settles its events, and answers the parked clients its reply concerns.
    fn run_command(&self, inner: &mut Inner<W>, command: Command) -> (Reply, Vec<Delivery<W>>) {
        // No lease being written may end under this command (`writing`).
        let mut deliveries = self.keep_leases_being_written(inner, command.now);
        let (reply, more) = self.run_settled(inner, command);
        deliveries.extend(more);
        (reply, deliveries)
    }

    /// `run_command`, with no regard for the leases being written.
    fn run_settled(&self, inner: &mut Inner<W>, command: Command) -> (Reply, Vec<Delivery<W>>) {
        let now = command.now;
        let cancelled = match &command.op {
            Op::Cancel { request, .. } => Some(*request),
            _ => None,
        };
        // Only its client can renew a grant (`Op::Extend`, the host's own, proves nothing).
        let renewed = matches!(command.op, Op::Renew { .. });
        let outcome = self.apply_logged(inner, command);
        let mut deliveries = self.settle(inner, now, outcome.events);
        match &outcome.reply {
            Reply::Withdrawn { request } => {
                deliveries.extend(unpark(inner, *request, Answer::Withdrawn));
            }
            // Ended through another connection (a URL of another API): its own client is told.
            Reply::Cancelled => {
                if let Some(request) = cancelled {
                    deliveries.extend(unpark(inner, request, Answer::Deleted));
                }
            }
            // The grant reached its client here: nothing may undo it now.
            Reply::Granted { grant, .. } => {
                collected(inner, Claim::Request(grant.request));
            }
            Reply::Gate(GateReply::Ok(ticket)) => {
                collected(inner, Claim::Ticket(ticket.id));
            }
            // A renewal is its client's proof that the grant reached it, as a poll's retry is: a
            // delivery of that grant that fails now gives back nothing (its renewal's answer says
            // it holds, and is being written).
            Reply::Renewed { grant } if renewed => {
                collected(inner, Claim::Request(grant.request));
            }
            _ => {}
        }
        if let Some(next) = inner.engine.next_deadline()
            && inner.timer_target.is_none_or(|t| next < t)
        {
            self.timer.notify_one();
        }
        (outcome.reply, deliveries)
    }

    /// Applies every expiry that is due, then sleeps until the next deadline (or at most `max_sleep`, or
    /// until an earlier deadline is set). Called in a loop by the timer thread.
    pub fn tick_and_sleep(&self, max_sleep: Duration) -> Vec<Delivery<W>> {
        let mut inner = self.inner();
        // The engine never lets time go back; neither may the timer, or a clock stepped backwards
        // would postpone every lease by the size of the step.
        let now = timefmt::now_ms().max(inner.engine.clock());
        let due = inner.engine.next_deadline().is_some_and(|d| d <= now);
        let sleep = match self.store.replica() {
            // With `--store` the expiry is a command like any other: proposed, and applied when the
            // log brings it back; meanwhile the timer waits (the applier wakes it).
            Some(replica) if due => {
                self.propose_tick(replica, &mut inner, now);
                max_sleep
            }
            None if due => return self.run(&mut inner, Op::Tick).1,
            _ => match inner.engine.next_deadline() {
                Some(d) => Duration::from_millis(d - now).min(max_sleep),
                None => max_sleep,
            },
        };
        inner.timer_target = Some(now + sleep.as_millis() as u64);
        let (mut inner, _) = self
            .timer
            .wait_timeout(inner, sleep)
            .unwrap_or_else(|p| p.into_inner());
        inner.timer_target = None;
        Vec::new()
    }
}

/// The request an acquire, a watch or a ticket's poll waits under, if it has to wait.
fn waiting(reply: &Reply) -> Option<RequestId> {
    match reply {
        Reply::Queued { request, .. }
        | Reply::Watching { request }
        | Reply::Gate(GateReply::Waiting { request, .. } | GateReply::Watching { request }) => {
            Some(*request)
        }
        _ => None,
    }
}

/// The client has the grant `claim` (its own request collected it): nothing may give it back.
fn collected<W: Waiter>(inner: &mut Inner<W>, claim: Claim) {
    // Mostly empty (a grant handed to a parked connection and not yet written): every grant passes
    // here, and hashing its claim is not free.
    if !inner.unclaimed.is_empty() {
        inner.unclaimed.remove(&claim);
    }
    inner.origins.collected(claim);
}
