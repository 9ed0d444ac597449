//! Read-only pictures of the state, for status pages and admin APIs. No view carries a token: whoever
//! may read a status page must not be able to release someone else's lock with what it shows.

use serde::Serialize;

use super::command::{Millis, RequestId};
use super::history::End;
use super::slots::{self, Mode};

/// One resource: its holders, oldest first, and its queue, next in line first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LockView {
    pub resource: String,
    /// The slots in force, as its first request named them; `None` = the default (1 exclusive
    /// holder, or shared holders without limit). See `limit` for what that means now.
    pub slots: Option<u32>,
    /// The mode of its holders; `None` when nobody holds it.
    pub mode: Option<Mode>,
    /// Oldest first (by grant). Never empty for a resource the engine knows (a resource nobody holds
    /// is forgotten); callers may describe a free resource with the same type.
    pub holders: Vec<HolderView>,
    pub waiting: Vec<WaiterView>,
    /// How many `Watch` requests wait for it to become free (they are not in `waiting`).
    pub watchers: usize,
}

impl LockView {
    /// The oldest holder: the one a document that knows a single holder shows.
    pub fn holder(&self) -> Option<&HolderView> {
        self.holders.first()
    }

    /// How many may hold it at once in the mode it is held in (the exclusive default when free);
    /// `None` = no limit (shared holders on a resource whose slots were never named).
    pub fn limit(&self) -> Option<u32> {
        slots::limit(self.slots, self.mode.unwrap_or_default())
    }

    /// Free slots in the mode it is held in (`limit` less its holders); `None` = no limit.
    pub fn free(&self) -> Option<u32> {
        let held = u32::try_from(self.holders.len()).unwrap_or(u32::MAX);
        self.limit().map(|n| n.saturating_sub(held))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HolderView {
    pub request: RequestId,
    pub holder: String,
    /// When it was granted.
    pub since: Millis,
    pub fence: u64,
    pub ttl_ms: Option<u64>,
    pub expires: Option<Millis>,
    /// Last renewal (heartbeat), or the grant time if never renewed.
    pub renewed: Millis,
    /// What its dialect stored with it (`Acquire::meta`).
    pub meta: Option<String>,
    pub mode: Mode,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WaiterView {
    pub request: RequestId,
    pub holder: String,
    /// When it started waiting.
    pub since: Millis,
    /// When it gives up; `None` = waits until granted or cancelled. For a detached waiter, the end of
    /// its grace.
    pub deadline: Option<Millis>,
    /// The lease it asked for, which starts when it is granted.
    pub ttl_ms: Option<u64>,
    /// Its poll ended (or its connection died with the server: `Op::Restart`) and it keeps its place
    /// in its grace, until it polls again (see `Acquire::grace_ms`).
    pub detached: bool,
    /// What its dialect stored with it (`Acquire::meta`).
    pub meta: Option<String>,
    /// The mode it asked for.
    pub mode: Mode,
}

/// One request, found by its id: live (holding, waiting or watching), or ended not long ago (see
/// `ENDED_RETENTION_MS`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestView {
    pub resource: String,
    /// When the request was made (for an active request that waited first, earlier than `granted`).
    pub created: Millis,
    /// Its free text (`Acquire::holder`); empty for a watcher.
    pub holder: String,
    /// What its dialect stored with it (`Acquire::meta`); `None` for a watcher.
    pub meta: Option<String>,
    /// The lease it has (or asked for, or had); `None` = no lease, or a watcher.
    pub ttl_ms: Option<u64>,
    /// When it became active; `None` if it never did (still waiting, or ended waiting, or a watcher).
    pub granted: Option<Millis>,
    /// Its last heartbeat (renewal), or its grant time if none; `None` if never granted.
    pub renewed: Option<Millis>,
    /// It waited in a queue: it is waiting, or ended waiting, or was granted from the queue (perhaps
    /// in the very millisecond it was made, so `granted == Some(created)` does not tell). `false` for
    /// a request granted at once by its `Acquire`, and for a watcher.
    pub waited: bool,
    pub state: RequestState,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Active(HolderView),
    /// `position` 1 = next in line.
    Waiting {
        position: usize,
        waiter: WaiterView,
    },
    /// A `Watch`: it waits for the resource to become free. `deadline` `None` = until it is free or
    /// cancelled. (A watcher leaves no history: once it ends, it is forgotten at once.)
    Watching {
        deadline: Option<Millis>,
    },
    /// A holder or waiter that ended at `at`, how `end` says.
    Ended {
        end: End,
        at: Millis,
    },
}
