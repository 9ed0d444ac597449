//! What sees every change the engine makes (through `host::Observer`): the metrics' counters, the
//! event log, the recent changes, per-lock waits and their history.
pub mod changes;
pub mod events_log;
pub mod kind;
pub mod lock_history;
pub mod lock_stats;
pub mod metrics;
pub mod recent;
