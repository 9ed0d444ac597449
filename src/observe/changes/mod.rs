//! What a command changed, in words a person (or a collector) reads: a grant, a release, a gate
//! closed. `Core` calls [`Observer::record`] with every command's outcome, under the engine's lock, so
//! every dialect's changes (and the timer's expiries) are seen once, in the engine's order. The
//! metrics count them; the event log writes them down.
//!
//! The engine's `Reply` says what happened to the caller and its `Event`s what happened to others;
//! some changes need a word from before the command (which resource a token released, whether a gate
//! was already closed), taken by [`Before::of`] — cheaply: only the rare commands look anything up.

mod sink;

use std::sync::Arc;

use super::events_log::EventLog;
use super::lock_stats::LockStats;
use super::metrics::Metrics;
use super::recent::Recent;
use crate::engine::{Engine, Event, Millis, Reply};

pub use crate::host::Before;
use sink::Sink;

pub use super::kind::Kind;

/// Counts every change, and hands it to the event log when there is one.
pub struct Observer {
    pub(super) metrics: Arc<Metrics>,
    pub(super) log: Option<EventLog>,
    /// The last few hundred records, for `GET /events` (kept whatever the log format).
    pub(super) recent: Arc<Recent>,
    /// Per-lock waits, for `/metrics`.
    pub(super) locks: Arc<LockStats>,
}

impl Default for Observer {
    /// Counts into metrics nobody reads, logs nothing.
    fn default() -> Observer {
        Observer::new(
            Arc::new(Metrics::new(None)),
            None,
            Arc::default(),
            Arc::new(LockStats::new(0)),
        )
    }
}

impl Observer {
    pub fn new(
        metrics: Arc<Metrics>,
        log: Option<EventLog>,
        recent: Arc<Recent>,
        locks: Arc<LockStats>,
    ) -> Observer {
        Observer {
            metrics,
            log,
            recent,
            locks,
        }
    }
}

impl crate::host::Observer for Observer {
    /// Called under the engine's lock with a command's outcome; `engine` is the state after it.
    fn record(
        &self,
        now: Millis,
        before: &Before,
        reply: &Reply,
        events: &[Event],
        engine: &Engine,
    ) {
        let mut sink = Sink::new(self, engine, now);
        sink.reply(before, reply);
        for event in events {
            sink.event(event);
        }
    }
}
