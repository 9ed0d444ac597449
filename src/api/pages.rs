//! The pages that show what the observers saw: `/metrics`, `/events` and `/history`.
use serde_json::{Value, json};

use super::replies::check_method;
use super::shared::Shared;
use crate::http::{Request, Response, Words};
use crate::observe::events_log::json_line;
use crate::observe::lock_history::History;
use crate::observe::recent::{CAPACITY, Recent};
use crate::observe::{lock_stats, metrics};
use crate::timefmt;

/// `GET /metrics` (and `HEAD`); any other method is 405.
pub fn metrics(shared: &Shared, open_connections: usize, req: &Request) -> Response {
    if let Some(refusal) = check_method(req, &["GET"], Words::Fail) {
        return refusal;
    }
    let now = crate::timefmt::now_ms();
    let (gauges, per_lock) = shared.core.view(|engine| {
        let mut per_lock = String::new();
        shared.lock_stats.render(engine, now, &mut per_lock);
        (metrics::Gauges::of(engine), per_lock)
    });
    let mut text = shared.metrics.render(&gauges, open_connections);
    text.push_str(&per_lock);
    lock_stats::identity(&mut text, shared.identity.started_ms);
    let mut r = Response::new(200);
    r.body = text.into_bytes();
    r.with_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
}

/// `GET /events?since=N&limit=M`: `{"events": [{"seq", "ts", "event", "resource", …}], "next": S,
/// "missed": bool}`. `since` (default 0) is the last number the caller has seen; `limit` (default and
/// at most `CAPACITY`). `missed` says records after `since` were already forgotten, or that `since`
/// is not one of this server's numbers (from before a restart, or another server's): then the
/// answer starts at the oldest record kept.
pub fn events(recent: &Recent, req: &Request) -> Response {
    if let Some(refusal) = check_method(req, &["GET"], Words::Fail) {
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

/// `GET /history` (and `HEAD`).
pub fn history(history: &History, req: &Request) -> Response {
    if let Some(refusal) = check_method(req, &["GET"], Words::Fail) {
        return refusal;
    }
    Response::json(200, &history.json(timefmt::now_ms())).with_header("Cache-Control", "no-store")
}
