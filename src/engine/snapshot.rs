//! A snapshot of the whole engine as plain data (`Engine::snapshot`, `Engine::restore`): for a durable
//! journal, which compacts the commands applied so far into one snapshot and replays only those after.
//!
//! The format is its own, not the engine's structures: vectors of entries (so it is plain JSON, whose
//! map keys could only be strings), each field a fact of the state. Indexes derived from those facts
//! are not stored but rebuilt by `restore`: the request and deadline indexes, each queue's token index,
//! the history's per-resource index, the gates' queues (from each ticket's arrival and gates), parked
//! requests and deadlines. So the engine's structures can change without breaking stored snapshots,
//! and a snapshot cannot hold an index that disagrees with what it indexes.
//!
//! `restore` checks everything the engine relies on (the invariants its tests check after every
//! command), so that a damaged or hostile snapshot is refused with a message, never a panic or an
//! engine that breaks later. A snapshot of an engine restores to an engine `==` to it, which answers
//! every later command exactly as the original would.

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::command::{Millis, RequestId};
use super::handles::Handles;
use super::history::End;
use super::slots::Mode;

/// The format of `Snapshot`: `restore` refuses any other, but reads `OLDEST_SNAPSHOT_VERSION` on. Bumped
/// whenever the format changes in a way an older `restore` would misread. Version 2: a resource has
/// `slots` and a list of `holders` (version 1: one `holder`, read as a list of one), each holder and
/// waiter a `mode` (absent: exclusive). Version 3: each holder, waiter and ended request has its
/// `handles` (absent: made from its request id, as they were before they were random).
pub const SNAPSHOT_VERSION: u32 = 3;

/// The oldest format `restore` still reads.
pub(super) const OLDEST_SNAPSHOT_VERSION: u32 = 1;

/// Everything the engine knows. Vectors are in the order given in each field's comment; `restore`
/// refuses what is out of order where the order matters, and duplicates everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// `SNAPSHOT_VERSION` when it was taken.
    pub version: u32,
    /// The latest `now` seen.
    pub clock: Millis,
    /// The request id counter (the last id given, to locks' requests and gates' parked ones alike).
    pub last_request: u64,
    /// The fence counter (the last fence given).
    pub last_fence: u64,
    /// Held resources, by name.
    pub resources: Vec<ResourceSnapshot>,
    /// Remembered releases, oldest first.
    pub releases: Vec<ReleaseSnapshot>,
    /// The releases' own sequence counter (the last one given).
    pub last_release_seq: u64,
    /// Retained ended requests, in the order they ended (oldest first): the order they are forgotten.
    pub ended: Vec<EndedSnapshot>,
    pub gates: GatesSnapshot,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceSnapshot {
    pub name: String,
    /// As its first request named them; absent (version 1): the default.
    #[serde(default)]
    pub slots: Option<u32>,
    /// In request id order. Version 1 had one, as `holder`.
    #[serde(alias = "holder", deserialize_with = "one_or_many")]
    pub holders: Vec<HolderSnapshot>,
    /// Its queue, in request id order (FIFO order).
    pub waiters: Vec<WaiterSnapshot>,
    /// In request id order.
    pub watchers: Vec<WatcherSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderSnapshot {
    pub request: RequestId,
    pub token: Uuid,
    pub holder: String,
    pub created: Millis,
    pub since: Millis,
    /// Granted from the queue (`RequestView::waited`). Absent from older snapshots: `restore` then
    /// takes `created < since` for it.
    #[serde(default)]
    pub waited: bool,
    pub fence: u64,
    pub ttl_ms: Option<u64>,
    pub expires: Option<Millis>,
    pub renewed: Millis,
    pub unclaimed: bool,
    pub meta: Option<String>,
    #[serde(default)]
    pub mode: Mode,
    /// Its HAL uid and request-queue number. Absent (before version 3): made from `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handles: Option<Handles>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaiterSnapshot {
    pub request: RequestId,
    pub token: Uuid,
    pub holder: String,
    pub since: Millis,
    pub deadline: Option<Millis>,
    pub ttl_ms: Option<u64>,
    /// `None` on a detached waiter: detached by a restart (`Op::Restart`), until its `deadline`.
    pub grace_ms: Option<u64>,
    /// Detached: it has a `deadline`.
    pub detached: bool,
    pub meta: Option<String>,
    #[serde(default)]
    pub mode: Mode,
    /// Its HAL uid and request-queue number. Absent (before version 3): made from `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handles: Option<Handles>,
}

/// A list of holders, or (version 1) one holder alone.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<HolderSnapshot>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Box<HolderSnapshot>),
        Many(Vec<HolderSnapshot>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(holder) => vec![*holder],
        OneOrMany::Many(holders) => holders,
    })
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatcherSnapshot {
    pub request: RequestId,
    pub since: Millis,
    pub deadline: Option<Millis>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseSnapshot {
    pub resource: String,
    pub token: Uuid,
    pub fence: u64,
    /// Its place in release order (from `Snapshot::last_release_seq`).
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedSnapshot {
    pub request: RequestId,
    pub resource: String,
    pub holder: String,
    pub meta: Option<String>,
    pub ttl_ms: Option<u64>,
    pub created: Millis,
    pub granted: Option<Millis>,
    pub renewed: Option<Millis>,
    /// It waited in a queue (`RequestView::waited`). Absent from older snapshots: `restore` then
    /// takes it for one never granted, or granted after it was made.
    #[serde(default)]
    pub waited: bool,
    pub end: End,
    pub at: Millis,
    /// Its HAL uid and request-queue number. Absent (before version 3): made from `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handles: Option<Handles>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatesSnapshot {
    /// The tickets' arrival counter (the last arrival given).
    pub last_arrival: u64,
    /// By name.
    pub services: Vec<ServiceSnapshot>,
    /// Live tickets, by id. The gates' queues are theirs: each ticket is in the queue of every gate
    /// it names, at its arrival.
    pub tickets: Vec<TicketSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSnapshot {
    pub name: String,
    pub group: String,
    /// By environment.
    pub gates: Vec<GateSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateSnapshot {
    pub environment: String,
    /// Closed by hand (a ticket holding it is in `GatesSnapshot::tickets`).
    pub closed_by_hand: bool,
    pub state_timestamp: Option<Millis>,
    pub message: String,
    pub message_timestamp: Option<Millis>,
    /// In request id order.
    pub watchers: Vec<GateWatcherSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateWatcherSnapshot {
    pub request: RequestId,
    pub deadline: Option<Millis>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSnapshot {
    pub id: Uuid,
    pub ttl_ms: u64,
    pub arrival: u64,
    /// Sorted, as (service, environment).
    pub gates: Vec<(String, String)>,
    pub granted: bool,
    pub expires: Option<Millis>,
    pub updated: Millis,
    /// Its parked client, if any.
    pub poll: Option<PollSnapshot>,
    /// Who asked for it; absent from snapshots written before tickets had holders.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub holder: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollSnapshot {
    pub request: RequestId,
    pub until: Option<Millis>,
}

/// Counters (and the clock) at most this high are accepted: a real engine never gets near it (a
/// million requests a second for 290,000 years; 292 million years of milliseconds), and counting
/// on from it cannot overflow, nor a deadline saturate to the clock.
pub(super) const COUNTER_MAX: u64 = i64::MAX as u64;

/// Claims a live request id for one thing: `Err` if it is 0, beyond the counter, or claimed already.
pub(super) fn claim(
    live: &mut std::collections::BTreeSet<RequestId>,
    request: RequestId,
    last_request: u64,
    what: &str,
) -> Result<(), String> {
    if request.0 == 0 || request.0 > last_request {
        return Err(format!(
            "{what}: request {request} is beyond the request counter {last_request}"
        ));
    }
    if !live.insert(request) {
        return Err(format!("{what}: request {request} is in two places"));
    }
    Ok(())
}

/// `Err` unless the deadline, if any, is after `clock` (every command expires what is due).
pub(super) fn future(deadline: Option<Millis>, clock: Millis, what: &str) -> Result<(), String> {
    match deadline {
        Some(t) if t <= clock => Err(format!(
            "{what}: deadline {t} is not after the clock {clock}"
        )),
        _ => Ok(()),
    }
}
