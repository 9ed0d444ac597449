//! What comes out of the engine for each command: the answer to its caller, and the events that
//! concern other parties (parked waiters to answer, things to log), in the order they happened.

use serde::Serialize;
use uuid::Uuid;

use super::command::{Millis, RequestId};
use super::gates::TicketView;
use super::slots::Mode;
use super::view::LockView;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub reply: Reply,
    pub events: Vec<Event>,
}

/// The answer to the command's own caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// `again` = this token already held it (an idempotent retry): the same grant, not a new fence.
    Granted {
        grant: Grant,
        again: bool,
    },
    /// Waiting in the queue; `position` 1 = next in line. A token already waiting in that queue (a
    /// client re-polling) keeps its place and request id.
    Queued {
        request: RequestId,
        position: usize,
    },
    /// Held by someone else, and the caller would not wait.
    Busy(LockView),
    /// `again` = this token had released this resource already and nobody was granted it since.
    Released {
        fence: u64,
        again: bool,
    },
    /// The token was waiting, not holding; it left the queue.
    Withdrawn {
        request: RequestId,
    },
    Renewed {
        grant: Grant,
    },
    Cancelled,
    Ticked,
    /// To a `Watch`: nobody holds the resource and nobody waits for it.
    Free,
    /// To a `Watch` on a busy resource: `Event::Freed` (or `Event::TimedOut`) with this id comes later.
    Watching {
        request: RequestId,
    },
    /// To `DeleteResource` and `DeleteAll`: how many requests (holders and waiters) were ended.
    Deleted {
        count: usize,
    },
    /// To `Restart`: how many lock waiters left their queue (`dropped`) and kept their place,
    /// detached (`detached`); how many watchers, of locks and of gates, were removed (`watchers`);
    /// how many tickets' polls ended (`polls`).
    Restarted {
        dropped: usize,
        detached: usize,
        watchers: usize,
        polls: usize,
    },
    Refused(Refusal),
    /// To an `Acquire` naming `asked` slots while the resource is in use with `in_force` (`None`: no
    /// number was named; the default is in force). Nothing changed.
    SlotsDiffer {
        in_force: Option<u32>,
        asked: u32,
    },
    /// To a gate command (`Op::CreateService` through `Op::WatchGate`).
    Gate(GateReply),
}

/// The answer to a gate command. Gates are their own namespace, with their own answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateReply {
    /// To `CreateService`.
    Created,
    /// To `DeleteService` and `DeleteTicket`.
    Deleted,
    /// To `SetGate` and `UpdateService` (also when nothing changed).
    Set,
    /// To `TestAndSet`: the ticket holds every gate it names (`expires` is `None`).
    Ok(TicketView),
    /// To `TestAndSet`: not now, and no ticket was created. Also to a
    /// queued ticket presented without `queue` while it is not its turn (it stays queued).
    Denied,
    /// To `TestAndSet` with `queue`: the ticket waits; its client calls again with it before it expires.
    Queued(TicketView),
    /// To `TestAndSet` with `queue` and a wait: the ticket waits and its client is parked under
    /// `request`, answered by `Event::TicketGranted`, `TicketPollEnded` or `TicketEnded`.
    Waiting {
        ticket: TicketView,
        request: RequestId,
    },
    /// To `WatchGate`: the gate is open by hand and no ticket holds it.
    Open,
    /// To `WatchGate` with `Wait::No` (or a past deadline) on a closed gate.
    Closed,
    /// To `WatchGate` on a closed gate: `Event::GateOpened` (or `GateWatchEnded`) with this id comes later.
    Watching {
        request: RequestId,
    },
    Refused(GateRefusal),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateRefusal {
    /// `CreateService` of a name that exists.
    ServiceExists,
    /// No service has this name (for `TestAndSet`: one of the names).
    UnknownService,
    /// The service exists but has no such gate (`SetGate`, `WatchGate`; `TestAndSet` answers `Denied`).
    UnknownGate,
    /// `DeleteTicket`, or `TestAndSet` presenting, a ticket that is not live (never was, or ended).
    UnknownTicket,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The resource is free, and this token did not release it recently.
    NotHeld,
    /// The resource is held by another token.
    WrongToken,
    /// No live request has this id (never existed, or already ended).
    UnknownRequest,
    /// An `Acquire` naming 0 slots, or more than `MAX_SLOTS` (dialects refuse it before; a journal
    /// could still carry one).
    InvalidSlots,
}

/// A holder's grant, as given to that holder. It carries the token, so it is never shown to others:
/// status pages use `HolderView`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub request: RequestId,
    pub resource: String,
    pub token: Uuid,
    /// From one engine-wide counter that grows with every grant: storage can refuse a stale holder.
    pub fence: u64,
    pub holder: String,
    /// When it was granted.
    pub since: Millis,
    pub ttl_ms: Option<u64>,
    pub expires: Option<Millis>,
    pub mode: Mode,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A waiter became the holder (the server answers its parked client).
    Granted(Grant),
    /// A waiter's deadline (and its grace, if it had one) passed; it left the queue. Or a watcher's
    /// deadline passed before its resource became free.
    TimedOut {
        request: RequestId,
        resource: String,
    },
    /// A waiter with a grace (`Acquire::grace_ms`) reached its wait deadline: it is still in the queue,
    /// at `position` (1 = next in line), now detached, until its grace deadline. Its poll is over (the
    /// server answers it "still waiting, come back"); an Acquire with its token re-attaches it.
    PollEnded {
        request: RequestId,
        resource: String,
        position: usize,
    },
    /// A watched resource became free (its last holder left and nobody waits): the watcher is done.
    Freed {
        request: RequestId,
        resource: String,
    },
    /// A holder's lease ran out; it lost the lock.
    Expired {
        request: RequestId,
        resource: String,
        fence: u64,
    },
    /// A holder ended by `Cancel` from its client (so the server can log it).
    Released {
        request: RequestId,
        resource: String,
        fence: u64,
    },
    /// An administrator ended this request, active or waiting (`Cancel` by `CancelBy::Admin`,
    /// `DeleteResource`, `DeleteAll`), or a watcher (by `Cancel` only): the server answers its parked
    /// client, if any, "deleted". A holder's successor, if any, hears `Granted` after it.
    Deleted {
        request: RequestId,
        resource: String,
    },
    /// A polled ticket's turn came while its client was parked (`GateReply::Waiting`): it now holds
    /// its gates, and the server answers the parked client "ok".
    TicketGranted { ticket: Uuid, request: RequestId },
    /// A ticket's poll ended before its turn: its deadline passed, or its client called again (the
    /// new call is answered on its own). The ticket stays queued, expiring `TICKET_TTL_MS` after the
    /// poll's deadline (after the new call); the server answers the parked client "queue".
    TicketPollEnded { ticket: Uuid, request: RequestId },
    /// A queued ticket was not refreshed for `TICKET_TTL_MS`: it left every queue. (Nobody is parked
    /// on it: a polled ticket does not expire.)
    TicketExpired { ticket: Uuid },
    /// A ticket whose client was parked was ended from outside (`DeleteTicket`, `DeleteService`, an
    /// administrator's `Cancel` of its poll): the server answers the parked client "denied".
    TicketEnded { ticket: Uuid, request: RequestId },
    /// A watched gate is open (by hand, and no ticket holds it): the watcher is done.
    GateOpened { request: RequestId },
    /// A gate watcher's deadline passed, its gate's service was deleted, or an administrator cancelled
    /// it. Its client may watch again (and learn, say, that the service is gone).
    GateWatchEnded { request: RequestId },
}
