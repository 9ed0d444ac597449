//! The request-queue locking API (`/v1/locks/…`), translated onto the engine. A lock request is made
//! once (201 active, or 202 waiting) and then polled at its URL; it becomes active on its own when its
//! turn comes, and its owner keeps it with heartbeats within `timeout` seconds.
use serde_json::{Value, json};

use super::capabilities;
use super::ctx::{Ctx, Handled};
use super::params::Params;
use super::replies::{check_method, decode_segment, not_found_in};
use super::slots;
use crate::engine::{
    Acquire, CancelBy, End, Op, Refusal, Reply, RequestId, RequestState, RequestView, Wait,
};
use crate::http::message::{Response, Words, seconds};
use crate::timefmt;

const MAX_NAME: usize = 64;
/// `requester_data`, as JSON text, at most (it is stored with the request and shown back).
const MAX_REQUESTER_DATA: usize = 16 * 1024;
/// Live requests (waiting or active) the server keeps for this API's new requests, at most.
const MAX_LIVE_REQUESTS: usize = 100_000;
/// The longest lease a request may ask for (30 days), as on the other APIs.
const MAX_TIMEOUT_SECS: f64 = 30.0 * 86_400.0;
/// How much of `requester_data` is shown as the holder in status pages.
const HOLDER_TEXT_BYTES: usize = 256;

/// Everything under `/v1/`; `rest` follows it.
pub fn handle(ctx: &mut Ctx, rest: &str) -> Handled {
    let mut decoded = Vec::new();
    for raw in rest.split('/').filter(|s| !s.is_empty()) {
        match decode_segment(raw, Words::Error) {
            Ok(s) => decoded.push(s),
            Err(r) => return Handled::Respond(r),
        }
    }
    let parts: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let response = match parts.as_slice() {
        ["locks"] => only(ctx, &["GET"], list_locks),
        ["locks", name, tail @ ..] => {
            if let Err(r) = check_name(name) {
                return Handled::Respond(r);
            }
            match tail {
                [] => only(ctx, &["GET"], |ctx| resource(ctx, name)),
                ["owner"] => only(ctx, &["GET"], |ctx| owner(ctx, name)),
                ["requests"] => match ctx.req.method() {
                    "POST" => create(ctx, name),
                    _ => only(ctx, &["GET", "POST"], |ctx| list_requests(ctx, name)),
                },
                ["requests", id] => {
                    if let Some(r) =
                        check_method(ctx.req, &["GET", "PATCH", "PUT", "DELETE"], Words::Error)
                    {
                        return Handled::Respond(r);
                    }
                    // One URL per request: its number in plain decimal, no sign, no leading zeros.
                    let found = capabilities::parse_number(id)
                        .and_then(|number| find(ctx, name, number).map(|f| (number, f)));
                    let Some((number, (request, view))) = found else {
                        return Handled::Respond(Response::error(
                            404,
                            format!("no request {id} on {name}"),
                        ));
                    };
                    let found = Found {
                        number,
                        request,
                        view,
                    };
                    match ctx.req.method() {
                        "DELETE" => delete(ctx, name, &found),
                        "PATCH" | "PUT" => heartbeat(ctx, name, &found),
                        _ => Response::json(200, &request_doc(ctx, number, &found.view)),
                    }
                }
                _ => not_found_in(ctx.req, Words::Error),
            }
        }
        _ => not_found_in(ctx.req, Words::Error),
    };
    Handled::Respond(response)
}

fn only(ctx: &mut Ctx, methods: &[&str], f: impl FnOnce(&mut Ctx) -> Response) -> Response {
    check_method(ctx.req, methods, Words::Error).unwrap_or_else(|| f(ctx))
}

fn create(ctx: &mut Ctx, name: &str) -> Response {
    let params = match Params::parse_json_body(ctx.req.header("content-type"), &ctx.req.body) {
        Ok(p) if p.json().is_some_and(|v| !v.is_object()) => {
            return Response::error(
                400,
                "the body must be a JSON object: {\"requester_data\": {…}, \"timeout\": 600}",
            );
        }
        Ok(p) => p,
        Err(e) => return Response::error(400, e.to_string()),
    };
    let timeout = match timeout_param(&params) {
        Ok(t) => t.unwrap_or(0.0),
        Err(r) => return r,
    };
    let (slots, mode) = match slots::slots_and_mode(&params) {
        Ok(sm) => sm,
        Err(reason) => return Response::error(400, reason),
    };
    let requester_data = params.get("requester_data").cloned().unwrap_or(Value::Null);
    // Kept with the request (and in its history): bounded, as is the number of live requests, which
    // need no connection to stay (so no connection limit bounds them).
    if requester_data.to_string().len() > MAX_REQUESTER_DATA {
        return Response::error(
            413,
            format!("requester_data is larger than {MAX_REQUESTER_DATA} bytes"),
        );
    }
    if ctx.read(|e| e.request_count()) >= MAX_LIVE_REQUESTS {
        return Response::error(
            503,
            format!("too many live lock requests ({MAX_LIVE_REQUESTS}); try again later"),
        );
    }
    let handles = capabilities::new_handles();
    let op = Op::Acquire(Acquire {
        resource: name.to_string(),
        token: crate::api::random::uuid(),
        // Without requester_data, the `--auth-file` identity that asks, if any.
        holder: match (&requester_data, ctx.caller.name()) {
            (Value::Null, Some(name)) => name.to_string(),
            (data, _) => holder_text(data),
        },
        ttl_ms: (timeout > 0.0).then_some((timeout * 1000.0) as u64),
        wait: Wait::Forever,
        grace_ms: None,
        meta: Some(json!({"requester_data": requester_data}).to_string()),
        slots,
        mode,
        handles: Some(handles),
    });
    let reply = ctx.apply(op);
    let (status, request) = match reply {
        Reply::Granted { grant, .. } => (201, grant.request),
        Reply::Queued { request, .. } => (202, request),
        Reply::SlotsDiffer { in_force, asked } => {
            return Response::error(409, slots::differ_reason(name, in_force, asked));
        }
        other => return Response::error(500, format!("unexpected engine reply: {other:?}")),
    };
    // The number asked for, unless taken (then the engine gave the next free one).
    let (given, view) = ctx.read(|e| (e.handles(request), e.request(request)));
    let number = given.unwrap_or(handles).number;
    let url = request_url(ctx, name, number);
    let body = view.map_or(Value::Null, |view| request_doc(ctx, number, &view));
    Response::json(status, &body).with_header("Location", url)
}

/// `timeout`: absent, or a non-negative number of seconds (0 = no lease: held until deleted).
fn timeout_param(params: &Params) -> Result<Option<f64>, Response> {
    match params.get("timeout") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64().or_else(|| v.as_str()?.trim().parse().ok()) {
            // 0 is "no time limit"; else at least the engine's unit, a millisecond.
            Some(t) if t == 0.0 || (t.is_finite() && (0.001..=MAX_TIMEOUT_SECS).contains(&t)) => {
                Ok(Some(t))
            }
            _ => Err(Response::error(
                400,
                format!(
                    "timeout must be a non-negative number of seconds, at most {MAX_TIMEOUT_SECS}"
                ),
            )),
        },
    }
}

/// The requester's data as one line for status pages (control characters replaced).
fn holder_text(data: &Value) -> String {
    let mut text: String = data
        .to_string()
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.len() > HOLDER_TEXT_BYTES {
        let mut end = HOLDER_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// A request found by its URL.
struct Found {
    number: u64,
    request: RequestId,
    view: RequestView,
}

/// PATCH/PUT: the owner's heartbeat, optionally with a new `timeout`.
fn heartbeat(ctx: &mut Ctx, name: &str, found: &Found) -> Response {
    let (number, id, view) = (found.number, found.request, &found.view);
    if let Some(refusal) = capabilities::queue_may_end(view) {
        return refusal;
    }
    if !matches!(view.state, RequestState::Active(_)) {
        return Response::error(
            412,
            format!("request {} is not active ({})", number, status_word(view)),
        );
    }
    let timeout = match Params::parse_json_body(ctx.req.header("content-type"), &ctx.req.body) {
        Ok(p) if p.json().is_some_and(|v| !v.is_object()) => {
            return Response::error(400, "the body must be a JSON object: {\"timeout\": 600}");
        }
        Ok(p) => match timeout_param(&p) {
            Ok(t) => t,
            Err(r) => return r,
        },
        Err(e) => return Response::error(400, e.to_string()),
    };
    if timeout == Some(0.0) {
        return Response::error(
            400,
            "timeout 0 (no time limit) can only be asked for when the request is made; send a positive timeout",
        );
    }
    let Some(token) = ctx.read(|e| e.token_of(id)) else {
        return Response::error(412, format!("request {} is not active", number));
    };
    let reply = ctx.apply(Op::Renew {
        resource: name.to_string(),
        token,
        ttl_ms: timeout.map(|t| (t * 1000.0) as u64),
    });
    match reply {
        Reply::Renewed { .. } => Response::new(204),
        Reply::Refused(_) => Response::error(412, format!("request {} is not active", number)),
        other => Response::error(500, format!("unexpected engine reply: {other:?}")),
    }
}

/// DELETE: an active request is released, a waiting one abandoned; an ended one is 412.
fn delete(ctx: &mut Ctx, name: &str, found: &Found) -> Response {
    let (number, id, view) = (found.number, found.request, &found.view);
    if let Some(refusal) = capabilities::queue_may_end(view) {
        return refusal;
    }
    let op = match (&view.state, ctx.read(|e| e.token_of(id))) {
        (RequestState::Active(_), Some(token)) => Op::Release {
            resource: name.to_string(),
            token,
        },
        (RequestState::Waiting { .. }, _) => Op::Cancel {
            request: id,
            by: CancelBy::Client,
        },
        _ => {
            return Response::error(
                412,
                format!("request {} is already {}", number, status_word(view)),
            );
        }
    };
    let reply = ctx.apply(op);
    match reply {
        Reply::Released { .. } | Reply::Cancelled => Response::new(204),
        Reply::Refused(Refusal::UnknownRequest | Refusal::NotHeld | Refusal::WrongToken) => {
            Response::error(412, format!("request {} has already ended", number))
        }
        other => Response::error(500, format!("unexpected engine reply: {other:?}")),
    }
}

fn list_locks(ctx: &mut Ctx) -> Response {
    let names = ctx.read(|e| e.known_resources());
    let urls: Vec<String> = names.iter().map(|n| resource_url(ctx, n)).collect();
    Response::json(200, &json!({"locks": urls}))
}

/// The lock requests of `name`, live and remembered (not the watchers of other APIs' waits), in
/// the order they were made, each with its number.
fn requests_of(ctx: &Ctx, name: &str) -> Vec<(u64, RequestView)> {
    ctx.read(|e| {
        e.requests_of(name)
            .into_iter()
            .filter(|(_, v)| !matches!(v.state, RequestState::Watching { .. }))
            .filter_map(|(id, v)| Some((e.handles(id)?.number, v)))
            .collect()
    })
}

fn resource(ctx: &mut Ctx, name: &str) -> Response {
    let requests = requests_of(ctx, name);
    if requests.is_empty() {
        return Response::error(404, format!("no lock {name}"));
    }
    // The document knows one owner: the oldest active request (in the order made, which is FIFO).
    // `owners` (*extension*) lists every active one, for a resource with several holders.
    let owners: Vec<String> = requests
        .iter()
        .filter(|(_, v)| matches!(v.state, RequestState::Active(_)))
        .map(|(id, _)| request_url(ctx, name, *id))
        .collect();
    let owner = owners.first().map_or(Value::Null, |url| url.clone().into());
    let urls: Vec<String> = requests
        .iter()
        .map(|(id, _)| request_url(ctx, name, *id))
        .collect();
    Response::json(
        200,
        &json!({"owner": owner, "owners": owners, "requests": urls}),
    )
}

fn list_requests(ctx: &mut Ctx, name: &str) -> Response {
    let requests = requests_of(ctx, name);
    if requests.is_empty() {
        return Response::error(404, format!("no lock {name}"));
    }
    let urls: Vec<String> = requests
        .iter()
        .map(|(id, _)| request_url(ctx, name, *id))
        .collect();
    Response::json(200, &json!({"requests": urls}))
}

fn owner(ctx: &mut Ctx, name: &str) -> Response {
    let now = timefmt::now_ms();
    let requests = requests_of(ctx, name);
    let Some((id, holder)) = requests.iter().find_map(|(id, v)| match &v.state {
        RequestState::Active(h) => Some((*id, h.clone())),
        _ => None,
    }) else {
        return Response::error(404, format!("{name} has no owner"));
    };
    // Whole seconds, as the document shows them; the lease left is rounded up, so 0 means gone.
    let ttl = holder
        .expires
        .map_or(Value::Null, |e| e.saturating_sub(now).div_ceil(1000).into());
    Response::json(
        200,
        &json!({
            "duration_active": now.saturating_sub(holder.since) / 1000,
            "time_since_last_heartbeat": now.saturating_sub(holder.renewed) / 1000,
            "ttl": ttl,
            "request": request_url(ctx, name, id),
        }),
    )
}

/// A request as the document shows it.
fn request_doc(ctx: &Ctx, number: u64, view: &RequestView) -> Value {
    let now = timefmt::now_ms();
    let meta: Value = view
        .meta
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or(Value::Null);
    let ended = match &view.state {
        RequestState::Ended { end, at } => Some((*end, *at)),
        _ => None,
    };
    let until = ended.map_or(now, |(_, at)| at);
    let waited_until = view.granted.unwrap_or(until);
    let mut statuses = Vec::new();
    // It waited exactly when the engine says so (a queued request may be granted in the very
    // millisecond it was made); one that never became active was waiting.
    if view.waited || view.granted.is_none() {
        statuses
            .push(json!({"timestamp": timefmt::request_queue(view.created), "type": "waiting"}));
    }
    if let Some(granted) = view.granted {
        statuses.push(json!({"timestamp": timefmt::request_queue(granted), "type": "active"}));
    }
    if let Some((_, at)) = ended {
        statuses.push(json!({"timestamp": timefmt::request_queue(at), "type": status_word(view)}));
    }
    // The lease in force (a heartbeat may have changed it): whole seconds as an integer.
    let timeout = view.ttl_ms.map_or(json!(0), seconds);
    json!({
        "creation_time": timefmt::request_queue(view.created),
        "current_status": status_word(view),
        "duration_active": view.granted.map_or(0, |g| until.saturating_sub(g) / 1000),
        "duration_waiting": waited_until.saturating_sub(view.created) / 1000,
        "requester_data": meta.get("requester_data").cloned().unwrap_or(Value::Null),
        "resource": view.resource,
        "statuses": statuses,
        "timeout": timeout,
        "url": request_url(ctx, &view.resource, number),
    })
}

/// The document's status words. An administrator's deletion (through the HAL API) and a wait that ran
/// out (through another API) have no word of their own here: they read as released when the request
/// had been active, abandoned when it was still waiting.
fn status_word(view: &RequestView) -> &'static str {
    match &view.state {
        RequestState::Active(_) => "active",
        RequestState::Waiting { .. } | RequestState::Watching { .. } => "waiting",
        RequestState::Ended { end, .. } => match end {
            End::Released => "released",
            End::Abandoned | End::TimedOut => "abandoned",
            End::Expired => "expired",
            End::Deleted if view.granted.is_some() => "released",
            End::Deleted => "abandoned",
        },
    }
}

/// The request of `name` numbered `number`, live or still remembered.
fn find(ctx: &Ctx, name: &str, number: u64) -> Option<(RequestId, RequestView)> {
    let (id, view) = ctx.read(|e| {
        let id = e.request_by_number(number)?;
        Some((id, e.request(id)?))
    })?;
    let is_request = !matches!(view.state, RequestState::Watching { .. });
    (is_request && view.resource == name).then_some((id, view))
}

fn resource_url(ctx: &Ctx, name: &str) -> String {
    format!("{}/v1/locks/{name}/", ctx.base_url())
}

fn request_url(ctx: &Ctx, name: &str, number: u64) -> String {
    format!("{}/v1/locks/{name}/requests/{number}/", ctx.base_url())
}

/// Resource names of this API: `[A-Za-z0-9:_-]{1,64}`.
fn check_name(name: &str) -> Result<(), Response> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Response::error(
            400,
            format!(
                "invalid resource name {name:?}: use 1 to {MAX_NAME} characters from A-Z a-z 0-9 : _ -"
            ),
        ))
    }
}
