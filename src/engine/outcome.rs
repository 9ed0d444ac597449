//! What comes out of the engine for each command: the answer to its caller, and the events that
//! concern other parties (parked waiters to answer, things to log), in the order they happened.

use serde::Serialize;
use uuid::Uuid;

use super::command::{Millis, RequestId};
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
    Refused(Refusal),
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
}
