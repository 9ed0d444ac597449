//! The WebMutex API (`/grab`, `/release`, `/status`, `/reserve`, and the `/renew` extension), translated
//! onto the engine. Its words: `"status": "ok"`, or `"status": "fail"` with a `reason`.
use std::borrow::Cow;
use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use super::ctx::{Ctx, Handled};
use super::params::Params;
use super::replies::check_method;
use super::shared::responder;
use super::slots;
use super::webmutex_answers::{
    POLL_GRACE_MS, busy, granted, lock_fields, ok, refused, released, slots_differ, status_of,
    still_queued,
};
use crate::engine::{Acquire, Op, Reply, Wait};
use crate::host::Answer;
use crate::http::{Response, Words};
use crate::timefmt;

const MAX_WAIT: Duration = Duration::from_secs(86_400);
const MAX_TTL: Duration = Duration::from_secs(30 * 86_400);
const MAX_HOLDER_BYTES: usize = 256;
const MAX_ID_CHARS: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Grab,
    Release,
    Renew,
    Status,
    Reserve,
    /// *Extension*: an administrator ends every holder and waiter of a mutex (`weblock break`).
    Break,
}

impl Endpoint {
    pub fn parse(segment: &str) -> Option<Endpoint> {
        Some(match segment {
            "grab" => Endpoint::Grab,
            "release" => Endpoint::Release,
            "renew" => Endpoint::Renew,
            "status" => Endpoint::Status,
            "reserve" => Endpoint::Reserve,
            "break" => Endpoint::Break,
            _ => return None,
        })
    }
}

/// `rest` is what follows `/<endpoint>/` in the path: an id, with or without a trailing slash.
pub fn handle(ctx: &mut Ctx, endpoint: Endpoint, rest: &str) -> Handled {
    let allowed: &[&str] = match endpoint {
        Endpoint::Status => &["GET", "POST"],
        _ => &["POST"],
    };
    if let Some(refusal) = check_method(ctx.req, allowed, Words::Fail) {
        return Handled::Respond(refusal);
    }
    let request = (|| {
        let mut params = Params::parse(
            ctx.req.head.query.as_deref(),
            ctx.req.header("content-type"),
            &ctx.req.body,
        )
        .map_err(|e| e.to_string())?;
        if params.json().is_some_and(|v| !v.is_object()) {
            return Err("a JSON body must be an object, e.g. {\"id\": \"db\"}".to_string());
        }
        let path_id = rest.strip_suffix('/').unwrap_or(rest);
        if path_id.contains('/') {
            return Err(format!("no such endpoint: {}", ctx.req.path()));
        }
        if !path_id.is_empty() {
            let id = super::params::path_segment(path_id).map_err(|e| e.to_string())?;
            params.set("id", Value::String(id));
        }
        Ok(params)
    })();
    let params = match request {
        Ok(p) => p,
        Err(reason) if reason.starts_with("no such endpoint") => {
            return Handled::Respond(Response::fail(404, reason));
        }
        Err(reason) => return Handled::Respond(Response::fail(400, reason)),
    };
    let result = match endpoint {
        Endpoint::Grab => grab(ctx, &params),
        Endpoint::Release => release(ctx, &params),
        Endpoint::Renew => renew(ctx, &params),
        Endpoint::Status => status(ctx, &params),
        Endpoint::Reserve => reserve(&params),
        Endpoint::Break => break_lock(ctx, &params),
    };
    result.unwrap_or_else(|reason| Handled::Respond(Response::fail(400, reason)))
}

/// A fresh id, left free: nothing is stored, so `slots` and `mode` are only checked and given back,
/// for the grabs that will use them (the first grab sets the slots).
fn reserve(params: &Params) -> Result<Handled, String> {
    let (slots, mode) = slots::slots_and_mode(params)?;
    let mut body = json!({"id": crate::api::random::uuid().to_string()});
    if let Some(n) = slots {
        body["slots"] = n.into();
    }
    if params.get("mode").is_some() {
        body["mode"] = mode.as_str().into();
    }
    Ok(Handled::Respond(ok(body)))
}

fn grab(ctx: &mut Ctx, params: &Params) -> Result<Handled, String> {
    let id = match id_param(params)? {
        Some(id) => id,
        None => Cow::Owned(crate::api::random::uuid().to_string()),
    };
    let own_token = token_param(params)?;
    let token = own_token.unwrap_or_else(crate::api::random::uuid);
    let wait = bounded_seconds(params, "wait", MAX_WAIT)?;
    let ttl = lease_seconds(params)?;
    let (slots, mode) = slots::slots_and_mode(params)?;
    let holder = match text(params, "holder")? {
        Some(h) if h.len() > MAX_HOLDER_BYTES => {
            return Err(format!("holder is longer than {MAX_HOLDER_BYTES} bytes"));
        }
        // Status lines are printed on terminals: no escape sequences or line breaks smuggled in.
        Some(h) if h.chars().any(char::is_control) => {
            return Err("holder must not contain control characters".into());
        }
        Some(h) => h.into_owned(),
        // Unnamed: the `--auth-file` identity that asks, or else the address it asks from.
        None => match ctx.caller.name() {
            Some(name) => name.to_string(),
            None => address_text(ctx.req.peer.ip()),
        },
    };
    let wait = match wait {
        Some(w) if !w.is_zero() => Wait::Until(timefmt::now_ms() + w.as_millis() as u64),
        _ => Wait::No,
    };
    // A client that chose its own token will poll again with it: its place is kept between polls.
    let grace_ms = own_token.map(|_| POLL_GRACE_MS);
    let op = Op::Acquire(Acquire {
        resource: id.to_string(),
        token,
        holder,
        ttl_ms: ttl.map(|t| t.as_millis() as u64),
        wait,
        grace_ms,
        meta: None,
        slots,
        mode,
        handles: Some(super::capabilities::new_handles()),
    });
    let waited = wait_seconds(&wait);
    let name = &id;
    let make_responder = || {
        let id = id.to_string();
        responder(move |answer: &Answer| match answer {
            Answer::Granted(grant) => granted(grant, true),
            Answer::TimedOut(view) => busy(&id, view.as_ref(), Some(waited)),
            Answer::PollEnded { position, view } => {
                still_queued(&id, view.as_ref(), waited, *position)
            }
            Answer::Deleted => Response::fail(409, "this wait was ended by an administrator"),
            Answer::Superseded => Response::fail(
                409,
                "this wait was replaced by a newer grab with the same token",
            ),
            Answer::Withdrawn => {
                Response::fail(409, "this wait was withdrawn by a release of its token")
            }
            _ => unexpected_answer(answer),
        })
    };
    let reply = ctx.apply_parking(op, make_responder);
    Ok(match reply {
        Reply::Granted { grant, .. } => Handled::Respond(granted(&grant, true)),
        Reply::Queued { request, .. } => Handled::Parked(request),
        Reply::Busy(view) => Handled::Respond(busy(&view.resource, Some(&view), None)),
        Reply::SlotsDiffer { in_force, asked } => {
            Handled::Respond(slots_differ(name, in_force, asked))
        }
        Reply::Refused(refusal) => Handled::Respond(refused(name, refusal)),
        other => Handled::Respond(unexpected(other)),
    })
}

/// An address as text, as `Display` writes it; an IPv4 one without the formatter, which costs more
/// than the rest of an unnamed grab's parameters.
fn address_text(ip: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

fn wait_seconds(wait: &Wait) -> f64 {
    match wait {
        Wait::Until(deadline) => deadline.saturating_sub(timefmt::now_ms()) as f64 / 1000.0,
        _ => 0.0,
    }
}

fn release(ctx: &mut Ctx, params: &Params) -> Result<Handled, String> {
    let id = id_param(params)?.ok_or("id is required: the mutex to release")?;
    let token = token_param(params)?.ok_or("token is required: the token /grab returned")?;
    let reply = ctx.apply(Op::Release {
        resource: id.to_string(),
        token,
    });
    Ok(Handled::Respond(match reply {
        Reply::Released { .. } => released(&id),
        Reply::Withdrawn { .. } => ok(json!({"id": id, "withdrawn": true})),
        Reply::Refused(refusal) => refused(&id, refusal),
        other => unexpected(other),
    }))
}

/// `/break` (*extension*): with the administrator's HTTP Basic credentials, ends every holder and
/// waiter of `id`, as the HAL API's `DELETE /resources/{id}` does, for any WebMutex id.
fn break_lock(ctx: &mut Ctx, params: &Params) -> Result<Handled, String> {
    if let Some(refusal) = super::auth::check(ctx.shared.admin.as_ref(), &ctx.caller, ctx.req) {
        return Ok(Handled::Respond(refusal));
    }
    let id = id_param(params)?.ok_or("id is required: the mutex to break")?;
    // What it was, for the answer: who was ended, since when, how many waited.
    let before = ctx.read(|e| e.lock(&id));
    let reply = ctx.apply(Op::DeleteResource {
        resource: id.to_string(),
    });
    Ok(Handled::Respond(match reply {
        Reply::Deleted { count } => {
            let mut fields = lock_fields(&id, before.as_ref(), timefmt::now_ms());
            fields.insert("ended".into(), count.into());
            ok(Value::Object(fields))
        }
        Reply::Refused(_) => Response::fail(409, format!("mutex {id} is not held")),
        other => unexpected(other),
    }))
}

fn renew(ctx: &mut Ctx, params: &Params) -> Result<Handled, String> {
    let id = id_param(params)?.ok_or("id is required: the mutex to renew")?;
    let token = token_param(params)?.ok_or("token is required: the token /grab returned")?;
    let ttl = lease_seconds(params)?;
    let reply = ctx.apply(Op::Renew {
        resource: id.to_string(),
        token,
        ttl_ms: ttl.map(|t| t.as_millis() as u64),
    });
    Ok(Handled::Respond(match reply {
        Reply::Renewed { grant } => granted(&grant, false),
        Reply::Refused(refusal) => refused(&id, refusal),
        other => unexpected(other),
    }))
}

/// `/status`; with `wait` (*extension*), answered when the mutex is free or the wait runs out.
fn status(ctx: &mut Ctx, params: &Params) -> Result<Handled, String> {
    let now = timefmt::now_ms();
    let wait = bounded_seconds(params, "wait", MAX_WAIT)?.filter(|w| !w.is_zero());
    match id_param(params)? {
        Some(id) if wait.is_some() => {
            let deadline = now + wait.map_or(0, |w| w.as_millis() as u64);
            let op = Op::Watch {
                resource: id.to_string(),
                wait: Wait::Until(deadline),
            };
            let watched = id.to_string();
            let responder = responder(move |answer: &Answer| match answer {
                Answer::Free => status_of(&watched, None),
                Answer::TimedOut(view) => status_of(&watched, view.as_ref()),
                _ => unexpected_answer(answer),
            });
            let reply = ctx.apply_parking(op, || responder);
            Ok(match reply {
                Reply::Watching { request } => Handled::Parked(request),
                Reply::Free => Handled::Respond(status_of(&id, None)),
                Reply::Busy(view) => Handled::Respond(status_of(&id, Some(&view))),
                other => Handled::Respond(unexpected(other)),
            })
        }
        Some(id) => {
            let view = ctx.read(|e| e.lock(&id));
            Ok(Handled::Respond(status_of(&id, view.as_ref())))
        }
        None if wait.is_some() => Err("wait needs an id: the mutex to wait for".into()),
        None => {
            let locks: Vec<Value> = ctx.read(|e| {
                e.locks()
                    .iter()
                    .map(|v| Value::Object(lock_fields(&v.resource, Some(v), now)))
                    .collect()
            });
            Ok(Handled::Respond(ok(json!({"locks": locks}))))
        }
    }
}

/// A wait's end this endpoint never asks for; a bug, reported rather than hidden.
fn unexpected_answer(answer: &Answer) -> Response {
    Response::fail(500, format!("unexpected end of a wait: {answer:?}"))
}

/// An engine answer this endpoint never asks for; a bug, reported rather than hidden.
fn unexpected(reply: Reply) -> Response {
    Response::fail(500, format!("unexpected engine reply: {reply:?}"))
}

/// A text parameter, taken without one pair of surrounding double quotes (`$(jq .id)` keeps them).
/// Borrowed from the parameters when sent as a string, as nearly all are.
fn text<'a>(params: &'a Params, name: &str) -> Result<Option<Cow<'a, str>>, String> {
    let unquote = |s: &str| -> Option<std::ops::Range<usize>> {
        let inner = s.strip_prefix('"')?.strip_suffix('"')?;
        Some(1..1 + inner.len())
    };
    if let Some(Value::String(s)) = params.get(name) {
        return Ok(Some(Cow::Borrowed(
            unquote(s).map_or(s.as_str(), |r| &s[r]),
        )));
    }
    let value = params.text(name).map_err(|e| e.to_string())?;
    Ok(value.map(|v| match unquote(&v) {
        Some(r) => Cow::Owned(v[r].to_string()),
        None => Cow::Owned(v),
    }))
}

/// The mutex id: `None` when absent or empty; 400 for one outside the allowed characters.
pub(super) fn id_param(params: &Params) -> Result<Option<Cow<'_, str>>, String> {
    let Some(id) = text(params, "id")?.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    // Every allowed character is ASCII, so bytes count characters here.
    let valid = id.len() <= MAX_ID_CHARS
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-'));
    if !valid {
        return Err(format!(
            "invalid id {id:?}: use 1 to {MAX_ID_CHARS} characters from A-Z a-z 0-9 . _ : -"
        ));
    }
    Ok(Some(id))
}

fn token_param(params: &Params) -> Result<Option<Uuid>, String> {
    match text(params, "token")?.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(t) => Uuid::parse_str(&t)
            .map(Some)
            .map_err(|_| format!("invalid token {t:?}: use the token /grab returned (a UUID)")),
    }
}

/// `ttl`: a lease of at least a millisecond (the engine's unit; less would be granted expired).
fn lease_seconds(params: &Params) -> Result<Option<Duration>, String> {
    let ttl = bounded_seconds(params, "ttl", MAX_TTL)?;
    if ttl.is_some_and(|t| t < Duration::from_millis(1)) {
        return Err("ttl must be at least 0.001 seconds".into());
    }
    Ok(ttl)
}

fn bounded_seconds(params: &Params, name: &str, max: Duration) -> Result<Option<Duration>, String> {
    let value = params.seconds(name).map_err(|e| e.to_string())?;
    match value {
        Some(d) if d > max => Err(format!("{name} must be at most {} seconds", max.as_secs())),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_reads_as_display_writes_it() {
        for text in [
            "0.0.0.0",
            "127.0.0.1",
            "10.9.99.100",
            "255.255.255.255",
            "192.168.1.20",
            "::1",
            "2001:db8::7",
        ] {
            let ip: std::net::IpAddr = text.parse().expect("a test address");
            assert_eq!(address_text(ip), ip.to_string());
            assert_eq!(address_text(ip), text);
        }
    }
}
