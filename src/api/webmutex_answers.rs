//! The WebMutex API's answers: grants, `/status` bodies and the 409s, built from engine views. Never
//! a token, except in a grant to the client that got it.

use serde_json::{Map, Value, json};

use super::json_object::JsonObject;
use super::slots;
use crate::engine::{Grant, LockView, MAX_SLOTS, Refusal};
use crate::http::message::{Response, seconds};
use crate::timefmt;

/// How long a waiter that brought its own token keeps its place after its poll ends, for its next poll.
pub(super) const POLL_GRACE_MS: u64 = 5_000;

/// 409: the request named other slots than those in force; `slots` (*extension*) says which (null:
/// none were named, the default is in force), `asked` what it named.
pub(super) fn slots_differ(id: &str, in_force: Option<u32>, asked: u32) -> Response {
    let body = json!({
        "status": "fail",
        "reason": slots::differ_reason(id, in_force, asked),
        "id": id,
        "slots": in_force,
        "asked": asked,
    });
    Response::json(409, &body)
}

/// 409 for a poll that ended while its request keeps its place for the next poll: the mutex as it
/// stands, and where the request is in line.
pub(super) fn still_queued(
    id: &str,
    view: Option<&LockView>,
    waited: f64,
    position: usize,
) -> Response {
    let mut m = lock_fields(id, view, timefmt::now_ms());
    let reason = format!(
        "timed out after {waited}s waiting for mutex {id}; still queued at position {position} for {}s: grab again with the same token to keep the place",
        POLL_GRACE_MS / 1000
    );
    m.insert("status".into(), "fail".into());
    m.insert("reason".into(), reason.into());
    m.insert("timed_out".into(), true.into());
    m.insert("queued".into(), true.into());
    m.insert("position".into(), position.into());
    Response::json(409, &Value::Object(m))
}

pub(super) fn status_of(id: &str, view: Option<&LockView>) -> Response {
    let mut body = lock_fields(id, view, timefmt::now_ms());
    body.insert("status".into(), "ok".into());
    Response::json(200, &Value::Object(body))
}

/// A mutex as `/status` shows it (never with a token). The document knows one holder: the top-level
/// fields describe the oldest; `holders` (*extension*) lists them all, and `slots`, `free` and `mode`
/// say how many more may join, and how.
pub(super) fn lock_fields(id: &str, view: Option<&LockView>, now: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    let holder = view.and_then(LockView::holder);
    m.insert("in_use".into(), holder.is_some().into());
    for (name, value) in slots::slot_fields(view) {
        m.insert(name.into(), value);
    }
    m.insert("holders".into(), slots::holders_json(view, now));
    if let (Some(view), Some(h)) = (view, holder) {
        m.insert("holder".into(), h.holder.clone().into());
        m.insert("since".into(), timefmt::rfc3339(h.since).into());
        m.insert("held_for".into(), seconds(now.saturating_sub(h.since)));
        m.insert("fence".into(), h.fence.into());
        if let (Some(ttl), Some(expires)) = (h.ttl_ms, h.expires) {
            m.insert("ttl".into(), seconds(ttl));
            m.insert("expires".into(), timefmt::rfc3339(expires).into());
            m.insert("ttl_left".into(), seconds(expires.saturating_sub(now)));
        }
        m.insert("waiting".into(), view.waiting.len().into());
        let queue: Vec<Value> = view
            .waiting
            .iter()
            .map(|w| json!({"holder": w.holder, "since": timefmt::rfc3339(w.since)}))
            .collect();
        m.insert("queue".into(), queue.into());
    }
    m
}

/// A grant's answer: the lock as granted and, to the client that got it, its token (not to a
/// renewal). Written by hand with the keys in the order a JSON map writes them (sorted), so the text
/// is the same as every other answer's shape; this is the answer a busy server writes most.
pub(super) fn granted(grant: &Grant, with_token: bool) -> Response {
    let mut body = JsonObject::with_capacity(256);
    let lease = grant.ttl_ms.zip(grant.expires);
    if let Some((_, expires)) = lease {
        body.time("expires", expires);
    }
    body.number("fence", grant.fence)
        .string("holder", &grant.holder)
        .string("id", &grant.resource)
        .plain("mode", grant.mode.as_str())
        .time("since", grant.since)
        .plain("status", "ok");
    if with_token {
        let mut text = uuid::Uuid::encode_buffer();
        body.plain("token", grant.token.hyphenated().encode_lower(&mut text));
    }
    if let Some((ttl, expires)) = lease {
        // What is left of the lease by the server's clock as the answer is rendered (just before it
        // is written: `core::confirm`); a client starts its own count from this, never from `expires`.
        body.seconds("ttl", ttl)
            .seconds("ttl_left", expires.saturating_sub(timefmt::now_ms()));
    }
    Response::json_bytes(200, body.finish())
}

/// A release's answer, the other half of every lock pair: written by hand, as `granted` is.
pub(super) fn released(id: &str) -> Response {
    let body = JsonObject::with_capacity(24 + id.len())
        .string("id", id)
        .plain("status", "ok")
        .finish();
    Response::json_bytes(200, body)
}

/// 409: held by someone else — right away, or after `waited` seconds of waiting.
pub(super) fn busy(id: &str, view: Option<&LockView>, waited: Option<f64>) -> Response {
    let now = timefmt::now_ms();
    let mut m = lock_fields(id, view, now);
    let who = view.and_then(|v| {
        let h = v.holder()?;
        let others = match v.holders.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        Some(format!(
            "held by {}{others} since {}",
            h.holder,
            timefmt::rfc3339(h.since)
        ))
    });
    let state = who.unwrap_or_else(|| "not free for this waiter".to_string());
    let reason = match waited {
        Some(w) => {
            m.insert("timed_out".into(), true.into());
            format!("timed out after {w}s waiting for mutex {id}: {state}")
        }
        None => format!("mutex {id} is {state}"),
    };
    m.insert("status".into(), "fail".into());
    m.insert("reason".into(), reason.into());
    Response::json(409, &Value::Object(m))
}

pub(super) fn refused(id: &str, refusal: Refusal) -> Response {
    let reason = match refusal {
        Refusal::NotHeld => format!("mutex {id} is not held (released, or its lease expired)"),
        Refusal::WrongToken => format!("mutex {id} is held by another token"),
        Refusal::UnknownRequest => format!("mutex {id} has no such request"),
        Refusal::InvalidSlots => {
            return Response::fail(400, format!("slots must be from 1 to {MAX_SLOTS}"));
        }
    };
    Response::fail(409, reason)
}

pub(super) fn ok(body: Value) -> Response {
    let mut body = match body {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    body.insert("status".into(), "ok".into());
    Response::json(200, &Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Mode, RequestId};

    fn grant(lease: Option<(u64, u64)>) -> Grant {
        Grant {
            request: RequestId(1),
            resource: "db \"main\"".into(),
            token: uuid::Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef),
            fence: 42,
            holder: "alice".into(),
            since: 1_234_567_890_000,
            ttl_ms: lease.map(|(ttl, _)| ttl),
            expires: lease.map(|(_, expires)| expires),
            mode: Mode::Exclusive,
        }
    }

    /// The answer as it was built before `granted`: a `Value` map (keys sorted) through `ok`.
    fn as_a_map(grant: &Grant, with_token: bool, now: u64) -> Vec<u8> {
        let mut m = Map::new();
        m.insert("id".into(), grant.resource.clone().into());
        if with_token {
            m.insert("token".into(), grant.token.to_string().into());
        }
        m.insert("fence".into(), grant.fence.into());
        m.insert("holder".into(), grant.holder.clone().into());
        m.insert("mode".into(), grant.mode.as_str().into());
        m.insert("since".into(), timefmt::rfc3339(grant.since).into());
        if let (Some(ttl), Some(expires)) = (grant.ttl_ms, grant.expires) {
            m.insert("ttl".into(), seconds(ttl));
            m.insert("expires".into(), timefmt::rfc3339(expires).into());
            m.insert("ttl_left".into(), seconds(expires.saturating_sub(now)));
        }
        ok(Value::Object(m)).body
    }

    #[test]
    fn a_grant_is_written_as_the_map_it_replaced_in_every_shape() {
        // Leases over long ago (ttl_left 0, stable however long the test takes), whole and
        // fractional seconds, one half of a lease only, none; with and without the token.
        let leases = [
            None,
            Some((2_500, 1_234_567_892_500)),
            Some((3_000, 1_234_567_893_000)),
            Some((1, 1_234_567_890_001)),
        ];
        for lease in leases {
            for with_token in [true, false] {
                let g = grant(lease);
                assert_eq!(
                    String::from_utf8(granted(&g, with_token).body).unwrap(),
                    String::from_utf8(as_a_map(&g, with_token, timefmt::now_ms())).unwrap(),
                    "{lease:?} {with_token}"
                );
            }
        }
        for (ttl_ms, expires) in [(Some(5_000), None), (None, Some(1_234_567_895_000))] {
            let mut g = grant(None);
            g.ttl_ms = ttl_ms;
            g.expires = expires;
            g.mode = Mode::Shared;
            assert_eq!(
                granted(&g, true).body,
                as_a_map(&g, true, 0),
                "{ttl_ms:?} {expires:?}"
            );
        }
    }

    #[test]
    fn a_grant_is_written_as_a_sorted_json_object() {
        let text = |r: Response| String::from_utf8(r.body).unwrap();
        assert_eq!(
            text(granted(&grant(None), true)),
            r#"{"fence":42,"holder":"alice","id":"db \"main\"","mode":"exclusive","since":"2009-02-13T23:31:30.000Z","status":"ok","token":"01234567-89ab-4def-8123-456789abcdef"}"#
        );
        assert_eq!(
            String::from_utf8(released("db").body).unwrap(),
            r#"{"id":"db","status":"ok"}"#
        );
        // A lease already over by now: nothing left of it; 2.5 s is written as a fraction.
        assert_eq!(
            text(granted(&grant(Some((2_500, 1_234_567_892_500))), false)),
            r#"{"expires":"2009-02-13T23:31:32.500Z","fence":42,"holder":"alice","id":"db \"main\"","mode":"exclusive","since":"2009-02-13T23:31:30.000Z","status":"ok","ttl":2.5,"ttl_left":0}"#
        );
    }
}
