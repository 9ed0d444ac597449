//! What goes into the engine. A command is plain data carrying its own time, so the server can
//! append it to a journal (or to etcd) and replay it later with the same result.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::gates::GateState;
use super::handles::Handles;
use super::slots::Mode;

/// Milliseconds since the Unix epoch. The engine never reads a clock: every time comes in a command.
pub type Millis = u64;

/// Names one request for a resource, waiting or active. The engine assigns them from one counter for
/// all resources, starting at 1, in the order commands arrive; so within one queue, FIFO order is
/// request id order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One change to the engine, at the time `now`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub now: Millis,
    pub op: Op,
}

/// One gate's change in `Op::UpdateService`: as `Op::SetGate`'s fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateChange {
    pub environment: String,
    #[serde(default)]
    pub state: Option<GateState>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Take a resource, or join its queue.
    Acquire(Acquire),
    /// The holder gives the lock up. A token that is waiting in that resource's queue instead is
    /// withdrawn from the queue (`Reply::Withdrawn`).
    Release { resource: String, token: Uuid },
    /// The holder renews its lease: `expires = now + ttl` (`ttl_ms` if given, else the ttl in force;
    /// a lock without ttl that is given one has one from now on). It is also the holder's heartbeat.
    Renew {
        resource: String,
        token: Uuid,
        ttl_ms: Option<u64>,
    },
    /// The answer of a grant was written late (the server was paused, or overloaded, between
    /// confirming the grant and writing it): its lease lasts at least until `until`, so that the lease
    /// the answer reported counts from the write. It never shortens a lease, never changes the
    /// lease's length, and is not the holder's heartbeat. `Reply::Renewed`, or `Refusal::NotHeld`
    /// (`UnknownRequest` for a request the engine does not know). Like every command it first
    /// expires what is due: the server sends it at a `now` before the lease's end.
    Extend { request: RequestId, until: Millis },
    /// A request ends from outside: its waiting client hung up (`CancelBy::Client`), or an
    /// administrator deleted it (`CancelBy::Admin`). A waiting request leaves the queue; an active one
    /// is released and the next waiter granted. See `End` for how each is recorded. A request parked
    /// on gates (a ticket's poll, a gate watcher) ends too: by its client, silently (a ticket stays
    /// queued, its poll over); by an administrator, with the ticket (`Event::TicketEnded`) or the
    /// watcher (`Event::GateWatchEnded`).
    Cancel {
        request: RequestId,
        #[serde(default)]
        by: CancelBy,
    },
    /// Expire every lease and every wait deadline due at or before `now`, and the gates' ticket
    /// expiries, poll and watch deadlines. (Every other command does this first too; a Tick does
    /// nothing else. The server sends one at `Engine::next_deadline`.)
    Tick,
    /// Wait until nobody holds `resource` and nobody waits for it, without taking it: `Reply::Free` at
    /// once if it is free, else `Reply::Watching` and, later, `Event::Freed` (or `Event::TimedOut` at
    /// the wait deadline). A watcher never holds and never queues: it changes no grant and no fence.
    /// `Wait::No` (or a deadline at or before `now`) on a busy resource answers `Reply::Busy`.
    Watch { resource: String, wait: Wait },
    /// An administrator ends every request on `resource`: its waiters (each `Event::Deleted`, none is
    /// granted), then its holder (`Event::Deleted`); then its watchers hear `Event::Freed`, as the
    /// resource is free and forgotten. `Reply::Deleted`, or `Refusal::NotHeld` if nobody holds it.
    DeleteResource { resource: String },
    /// `DeleteResource` for every resource, in name order. `Reply::Deleted` (a count of 0 is fine).
    /// Gates are another namespace: it leaves them alone.
    DeleteAll,
    /// Creates a service whose gates (`environments`; a name given twice is one gate) start open:
    /// `GateReply::Created`, or `GateRefusal::ServiceExists`. Names are the dialect's to validate.
    CreateService {
        service: String,
        group: String,
        environments: Vec<String>,
    },
    /// Removes a service; every ticket naming its gates loses them, and one left with none ends
    /// (see `gates`). `keep_other_gates` false is how journals written before that rule read (their
    /// commands lack the field): every ticket naming its gates ended whole, and replay must give the
    /// state those servers had; servers now always send true.
    DeleteService {
        service: String,
        #[serde(default)]
        keep_other_gates: bool,
    },
    /// Changes a service at once (the original's `PUT /api/services/{s}`): its `group` if given, and
    /// each named gate as `SetGate` would. Every gate named must exist, else nothing changes
    /// (`GateRefusal::UnknownGate`). `GateReply::Set`.
    UpdateService {
        service: String,
        #[serde(default)]
        group: Option<String>,
        #[serde(default)]
        gates: Vec<GateChange>,
    },
    /// Opens or closes one gate by hand and/or sets its message (`Some("")` clears it); `None` leaves
    /// that part alone. Closing does not take a gate from a ticket holding it.
    SetGate {
        service: String,
        environment: String,
        #[serde(default)]
        state: Option<GateState>,
        #[serde(default)]
        message: Option<String>,
    },
    /// The atomic test-and-set over `gates`, as (service, environment) pairs: take them all for a
    /// ticket, or (with `queue`) queue a ticket for them, or refresh the `ticket` presented. The ids
    /// come with the command so that replay is deterministic: `new_ticket` names a ticket this
    /// creates. `wait` is the long-poll extension (`Wait::No` = answer now). See `gates` for the rules.
    TestAndSet {
        gates: Vec<(String, String)>,
        #[serde(default)]
        ticket: Option<Uuid>,
        new_ticket: Uuid,
        #[serde(default)]
        queue: bool,
        wait: Wait,
        /// How long a queued ticket this creates lives after its last call; `None`: the document's
        /// two minutes (`TICKET_TTL_MS`). A server option, carried in the command so replay agrees.
        #[serde(default)]
        ticket_ttl_ms: Option<u64>,
        /// Who asks (`user@host pid`, free text) for a ticket this creates; kept with it and shown
        /// in views. Absent from older journals and snapshots (then empty).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        holder: String,
    },
    /// Ends a ticket, granted or queued: the gates it held are free again and its queues move on.
    DeleteTicket { ticket: Uuid },
    /// Wait until a gate is open (by hand, and held by no ticket), without taking it:
    /// `GateReply::Open` at once, or `GateReply::Watching` and later `Event::GateOpened` (or
    /// `Event::GateWatchEnded`). `Wait::No` (or a deadline at or before `now`) on a closed gate
    /// answers `GateReply::Closed`.
    WatchGate {
        service: String,
        environment: String,
        wait: Wait,
    },
    /// The server starts again, its state replayed: every connection its clients were parked on is
    /// gone, so nothing may be granted to, or kept for, a client that will not come back. Applied
    /// right after the replay, before any other command. At `now`:
    /// - A lock waiter with a wait deadline (`Wait::Until`) that long-polls (it has a grace, or is
    ///   detached already) keeps its place, detached, until `now + grace_ms`: a poll with its token
    ///   re-attaches it as ever. Granted before that poll (unclaimed), it holds only until
    ///   `now + grace_ms` (or its lease, if sooner) unless its client collects it.
    /// - A lock waiter with a wait deadline and no grace (a plain WebMutex or HAL waiter) leaves the
    ///   queue, ended `End::Abandoned`, as if its client had hung up: no event (nobody is parked).
    /// - A lock waiter without a deadline (`Wait::Forever`: the request-queue API, whose clients poll
    ///   its URL and need no connection) is untouched.
    /// - Every watcher, of a lock or of a gate, is removed, silently.
    /// - Every ticket's poll ends, silently: the ticket stays queued and expires its ttl after `now`
    ///   unless its client calls; so it is never granted to a client that is gone.
    /// - Holders, leases, fences, gates, tickets granted or queued unpolled, and history: untouched.
    ///
    /// `grace_ms: 0` gives no grace: every waiter with a deadline leaves. Unlike every other
    /// command, a restart applies its own rules first and expires what is due at `now` after them
    /// (a lease that ran out while the server was down hands over to a waiter only once the waiters
    /// whose clients are gone are out of the way). `Reply::Restarted`.
    Restart { grace_ms: u64 },
}

/// Who cancels a request: it decides how its end is recorded (see `End`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelBy {
    /// Its own client (say, its connection hung up): an active request ends `Released`, a waiting
    /// one `Abandoned`.
    #[default]
    Client,
    /// An administrator: it ends `Deleted`, and its parked client hears `Event::Deleted`.
    Admin,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acquire {
    pub resource: String,
    /// The grant's secret, chosen by the caller (not by the engine) so that replay is deterministic.
    pub token: Uuid,
    /// Free text shown in status pages ("alice@build3 pid 4242").
    pub holder: String,
    /// Lease length; `None` = held until released or cancelled.
    pub ttl_ms: Option<u64>,
    pub wait: Wait,
    /// For a client that long-polls: when the `wait` deadline passes, the waiter keeps its place for
    /// `grace_ms` more (`Event::PollEnded`; it is "detached") so that its next poll, an Acquire with the
    /// same token, finds it where it was. It leaves the queue (`Event::TimedOut`) only if no poll comes
    /// by then. `None` (or `Some(0)`) = it leaves at the `wait` deadline. A detached waiter whose turn
    /// comes is granted like any other; its next poll then gets `Reply::Granted { again: true }`.
    #[serde(default)]
    pub grace_ms: Option<u64>,
    /// Opaque text a dialect keeps with the request for its whole life, waiting, active and ended
    /// (its own parameters, a requester's data); shown in `HolderView`, `WaiterView` and
    /// `RequestView`. A retry or re-poll with the same token keeps the first one.
    #[serde(default)]
    pub meta: Option<String>,
    /// How many may hold the resource at once (see `slots`): set by the first request of a resource
    /// nobody holds or waits for; `None` joins what is in force. A different number while the
    /// resource is in use is refused (`Reply::SlotsDiffer`), never merged. Absent from older journals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<u32>,
    /// Exclusive (the default) or shared. Absent from older journals.
    #[serde(default, skip_serializing_if = "Mode::is_exclusive")]
    pub mode: Mode,
    /// The public handles a new request gets (its HAL uid, its request-queue number), drawn at random
    /// by the caller so that nobody can count their way to someone else's; the next free ones if
    /// taken (see `handles`). Ignored for a retry or re-poll, which keeps its request's. `None` (and
    /// older journals): made from the request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handles: Option<Handles>,
}

/// How long an acquire may wait in the queue when the resource is held by someone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    /// Do not queue: answer `Busy`.
    No,
    /// Queue until this time at the latest (a time at or before `now` is the same as `No`).
    Until(Millis),
    /// Queue until granted, withdrawn or cancelled.
    Forever,
}

impl Wait {
    /// The wait deadline this asks for: `Some(t)` = give up at `t`, `None` = never give up.
    /// `No` gives up at once, so its deadline is `now`.
    pub(super) fn deadline(self, now: Millis) -> Option<Millis> {
        match self {
            Wait::No => Some(now),
            Wait::Until(t) => Some(t),
            Wait::Forever => None,
        }
    }
}
