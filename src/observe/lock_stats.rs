//! Per-lock metrics with a bounded number of series: the `N` busiest locks by name (`serve
//! --metrics-locks N`, default 20), the rest summed under `lock="other"`.
//!
//! - `weblock_lock_waiting{lock}` and `weblock_lock_held_seconds{lock}` (the oldest holder's time
//!   held) are read from the engine when scraped: the `N` locks with the most waiters (then the
//!   longest held) are named; for `other`, waiters are summed and held time is the longest.
//! - `weblock_lock_wait_seconds{lock}`, a histogram of how long each grant waited in line (0 for a
//!   grant at once), is kept here as grants happen. Its table holds at most `8 N` locks (at least 64):
//!   when a new lock arrives at a full table, the entry with the fewest grants is folded into `other`
//!   (the "space-saving" rule, so a lock that becomes busy later still gets its own line). The `N`
//!   entries with the most grants are named; the rest of the table is summed into `other` with it.
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::engine::{Engine, Millis};

/// Upper bounds of the wait histogram's buckets, in seconds (and `+Inf` after them).
const WAIT_BUCKETS: [f64; 11] = [
    0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

#[derive(Clone, Default)]
struct Waits {
    /// Per bucket, not cumulative; the last is `+Inf`.
    buckets: [u64; WAIT_BUCKETS.len() + 1],
    sum_ms: u64,
    count: u64,
}

impl Waits {
    fn add(&mut self, other: &Waits) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
        self.sum_ms += other.sum_ms;
        self.count += other.count;
    }
}

pub struct LockStats {
    /// How many locks are named; 0 names none (everything is `other`).
    named: usize,
    table: Mutex<Table>,
    /// The last hour of the most recently active locks, for `GET /history`.
    pub history: super::lock_history::History,
}

#[derive(Default)]
struct Table {
    by_lock: HashMap<String, Waits>,
    other: Waits,
}

impl LockStats {
    pub fn new(named: usize) -> LockStats {
        LockStats {
            named,
            table: Mutex::default(),
            history: Default::default(),
        }
    }

    fn capacity(&self) -> usize {
        (self.named * 8).max(64)
    }

    /// A grant of `lock` that waited `ms` in line.
    pub fn waited(&self, lock: &str, ms: Millis) {
        let seconds = ms as f64 / 1000.0;
        let bucket = WAIT_BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(WAIT_BUCKETS.len());
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if self.named == 0 {
            return record(&mut table.other, bucket, ms);
        }
        // A lock already counted costs no allocation (this runs for every grant).
        if let Some(waits) = table.by_lock.get_mut(lock) {
            return record(waits, bucket, ms);
        }
        if table.by_lock.len() >= self.capacity() {
            let least = table
                .by_lock
                .iter()
                .min_by_key(|(_, w)| w.count)
                .map(|(name, _)| name.clone());
            if let Some(least) = least
                && let Some(folded) = table.by_lock.remove(&least)
            {
                table.other.add(&folded);
            }
        }
        let waits = table.by_lock.entry(lock.to_string()).or_default();
        record(waits, bucket, ms);
    }

    /// The per-lock families, gauges read from `engine` (the caller holds its lock).
    pub fn render(&self, engine: &Engine, now: Millis, out: &mut String) {
        self.render_gauges(engine, now, out);
        self.render_waits(out);
    }

    fn render_gauges(&self, engine: &Engine, now: Millis, out: &mut String) {
        // (waiters, oldest holder's held ms, name)
        let mut locks: Vec<(usize, u64, String)> = engine
            .locks()
            .into_iter()
            .map(|l| {
                let held = l.holder().map_or(0, |h| now.saturating_sub(h.since));
                (l.waiting.len(), held, l.resource)
            })
            .collect();
        locks.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let cut = self.named.min(locks.len());
        let (named, rest) = locks.split_at(cut);
        let other_waiting: usize = rest.iter().map(|l| l.0).sum();
        let other_held = rest.iter().map(|l| l.1).max().unwrap_or(0);
        header(
            out,
            "weblock_lock_waiting",
            "gauge",
            "Requests waiting in line for a lock now (the busiest locks by name, the rest summed as lock=\"other\").",
        );
        for (waiting, _, name) in named {
            let _ = writeln!(
                out,
                "weblock_lock_waiting{{lock=\"{}\"}} {waiting}",
                escape(name)
            );
        }
        let _ = writeln!(
            out,
            "weblock_lock_waiting{{lock=\"other\"}} {other_waiting}"
        );
        header(
            out,
            "weblock_lock_held_seconds",
            "gauge",
            "How long the oldest holder of a lock has held it (for lock=\"other\": the longest of the rest).",
        );
        for (_, held, name) in named {
            let _ = writeln!(
                out,
                "weblock_lock_held_seconds{{lock=\"{}\"}} {}",
                escape(name),
                *held as f64 / 1000.0
            );
        }
        let _ = writeln!(
            out,
            "weblock_lock_held_seconds{{lock=\"other\"}} {}",
            other_held as f64 / 1000.0
        );
    }

    fn render_waits(&self, out: &mut String) {
        let (named, other) = {
            let table = self.table.lock().unwrap_or_else(|p| p.into_inner());
            let mut all: Vec<(&String, &Waits)> = table.by_lock.iter().collect();
            all.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
            let cut = self.named.min(all.len());
            let mut other = table.other.clone();
            for (_, w) in &all[cut..] {
                other.add(w);
            }
            let named: Vec<(String, Waits)> = all[..cut]
                .iter()
                .map(|(n, w)| ((*n).clone(), (*w).clone()))
                .collect();
            (named, other)
        };
        let name = "weblock_lock_wait_seconds";
        header(
            out,
            name,
            "histogram",
            "How long each grant of a lock waited in line (0 for a grant at once); the busiest locks by name, the rest as lock=\"other\".",
        );
        for (lock, waits) in &named {
            histogram(out, name, &escape(lock), waits);
        }
        histogram(out, name, "other", &other);
    }
}

/// `weblock_build_info{version}` and `weblock_start_time_seconds`.
pub fn identity(out: &mut String, started_ms: Millis) {
    header(
        out,
        "weblock_build_info",
        "gauge",
        "Always 1; the labels say which weblock this is.",
    );
    let _ = writeln!(
        out,
        "weblock_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    header(
        out,
        "weblock_start_time_seconds",
        "gauge",
        "When this server started, in seconds since the Unix epoch.",
    );
    let _ = writeln!(
        out,
        "weblock_start_time_seconds {}",
        started_ms as f64 / 1000.0
    );
}

fn record(waits: &mut Waits, bucket: usize, ms: Millis) {
    waits.buckets[bucket] += 1;
    waits.sum_ms = waits.sum_ms.saturating_add(ms);
    waits.count += 1;
}

fn histogram(out: &mut String, name: &str, lock: &str, waits: &Waits) {
    let mut cumulative = 0;
    for (i, le) in WAIT_BUCKETS.iter().enumerate() {
        cumulative += waits.buckets[i];
        let _ = writeln!(
            out,
            "{name}_bucket{{lock=\"{lock}\",le=\"{le}\"}} {cumulative}"
        );
    }
    cumulative += waits.buckets[WAIT_BUCKETS.len()];
    let _ = writeln!(
        out,
        "{name}_bucket{{lock=\"{lock}\",le=\"+Inf\"}} {cumulative}"
    );
    let _ = writeln!(
        out,
        "{name}_sum{{lock=\"{lock}\"}} {}",
        waits.sum_ms as f64 / 1000.0
    );
    let _ = writeln!(out, "{name}_count{{lock=\"{lock}\"}} {cumulative}");
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value in the exposition format: backslash, double quote and newline escaped. A lock named
/// `other` is shown as is (its series then share the label with the sum; names are the users' own).
fn escape(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_stays_bounded_and_keeps_the_busiest() {
        let stats = LockStats::new(2);
        for _ in 0..100 {
            stats.waited("busy", 2_000);
        }
        for i in 0..1_000 {
            stats.waited(&format!("once{i}"), 5);
        }
        let table = stats.table.lock().unwrap();
        assert!(table.by_lock.len() <= 64);
        assert_eq!(table.by_lock["busy"].count, 100);
        let total: u64 = table.by_lock.values().map(|w| w.count).sum::<u64>() + table.other.count;
        assert_eq!(total, 1_100);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
