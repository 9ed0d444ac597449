//! The recent changes: the last `CAPACITY` records the event log is fed (grants, releases, expiries,
//! gate changes…), numbered in the engine's order, kept in memory whatever `--log-format` says, and
//! read back by `GET /events?since=N` (the dashboard's "recent changes" panel, or any script).
//!
//! Records are pushed under the engine's lock (one short lock of the ring's own, no I/O); a reader
//! copies what it asked for under that lock and renders it after.
use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::{Value, json};

use super::events_log::{Record, json_line};
use crate::http::{Request, Response, Words};

/// Records kept; older ones are forgotten.
pub const CAPACITY: usize = 500;

pub struct Recent {
    inner: Mutex<Ring>,
}

struct Ring {
    /// The number the next record gets (the first is 1).
    next: u64,
    records: VecDeque<(u64, Record)>,
}

impl Default for Recent {
    fn default() -> Recent {
        Recent {
            inner: Mutex::new(Ring {
                next: 1,
                records: VecDeque::with_capacity(CAPACITY),
            }),
        }
    }
}

impl Recent {
    pub fn push(&self, record: Record) {
        let mut ring = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if ring.records.len() == CAPACITY {
            ring.records.pop_front();
        }
        let seq = ring.next;
        ring.next += 1;
        ring.records.push_back((seq, record));
    }

    /// The records numbered above `since`, oldest first, at most `limit`; and the number the next
    /// record will get.
    pub fn since(&self, since: u64, limit: usize) -> (Vec<(u64, Record)>, u64) {
        let ring = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let list = ring
            .records
            .iter()
            .filter(|(seq, _)| *seq > since)
            .take(limit)
            .cloned()
            .collect();
        (list, ring.next)
    }
}

/// `GET /events?since=N&limit=M`: `{"events": [{"seq", "ts", "event", "resource", …}], "next": S,
/// "missed": bool}`. `since` (default 0) is the last number the caller has seen; `limit` (default and
/// at most `CAPACITY`). `missed` says records after `since` were already forgotten, or that `since`
/// is not one of this server's numbers (from before a restart, or another server's): then the
/// answer starts at the oldest record kept.
pub fn answer(recent: &Recent, req: &Request) -> Response {
    if let Some(refusal) = super::router::check_method(req, &["GET"], Words::Fail) {
        return refusal;
    }
    let mut since = 0u64;
    let mut limit = CAPACITY;
    let query = req.head.query.as_deref().unwrap_or("");
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = |what: &str| {
            Response::fail(
                400,
                format!(
                    "{key} must be {what}, not {:?}",
                    value.chars().take(40).collect::<String>()
                ),
            )
        };
        match key {
            "since" => match value.parse() {
                Ok(n) => since = n,
                Err(_) => return bad("a whole number (the last seq seen)"),
            },
            "limit" => match value.parse::<usize>() {
                Ok(n) if n >= 1 => limit = n.min(CAPACITY),
                _ => return bad("a whole number from 1"),
            },
            _ => {}
        }
    }
    let (mut list, mut next) = recent.since(since, limit);
    // A `since` this server never gave (its numbers start again at 1 when it restarts, and each
    // server of a `--store` group has its own): the caller's place is unknown, so it gets what is
    // kept, from the oldest, and is told it may have missed some; not silence until the numbers
    // catch up with its old one.
    let elsewhere = since >= next;
    if elsewhere {
        (list, next) = recent.since(0, limit);
    }
    let oldest = list.first().map(|(seq, _)| *seq).unwrap_or(next);
    let events: Vec<Value> = list
        .iter()
        .map(|(seq, record)| {
            let mut v = json_line(record);
            if let Value::Object(m) = &mut v {
                m.insert("seq".into(), (*seq).into());
            }
            v
        })
        .collect();
    let missed = elsewhere || (oldest > since.saturating_add(1) && since > 0);
    Response::json(
        200,
        &json!({"status": "ok", "events": events, "next": next, "missed": missed}),
    )
    .with_header("Cache-Control", "no-store")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(resource: &str) -> Record {
        Record {
            resource: resource.into(),
            ..Record::default()
        }
    }

    #[test]
    fn the_ring_keeps_the_last_records_in_order() {
        let recent = Recent::default();
        for i in 0..CAPACITY + 10 {
            recent.push(record(&format!("r{i}")));
        }
        let (all, next) = recent.since(0, usize::MAX);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(next, CAPACITY as u64 + 11);
        assert_eq!(all[0].0, 11);
        assert_eq!(all[0].1.resource, "r10");
        assert!(all.windows(2).all(|w| w[0].0 + 1 == w[1].0));
        let (tail, _) = recent.since(next - 3, 10);
        assert_eq!(
            tail.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [next - 2, next - 1]
        );
        assert_eq!(recent.since(0, 5).0.len(), 5);
    }
}
