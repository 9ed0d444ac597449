//! The HAL locks API (`/locks/…`, `/resources/…`), translated onto the engine. Its words: status codes
//! with empty bodies on success, `application/hal+json` documents, and an error message otherwise.
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::auth;
use super::capabilities;
use super::ctx::{Ctx, Handled};
use super::params::Params;
use super::replies::{check_method, decode_segment, not_found_in};
use super::slots;
use crate::api::shared::responder_with;
use crate::engine::{
    Acquire, CancelBy, Engine, Handles, LockView, Mode, Op, Refusal, Reply, RequestId,
    RequestState, RequestView, Wait,
};
use crate::host::Answer;
use crate::http::message::{Response, Words, seconds};
use crate::timefmt;

const HAL_JSON: &str = "application/hal+json";
/// The longest a client may ask to wait, in seconds (a day), as on the WebMutex API.
const MAX_WAIT_SECS: f64 = 86_400.0;
/// The longest lease, in seconds (30 days), as on the other APIs.
const MAX_LIFETIME_SECS: f64 = 30.0 * 86_400.0;
/// Resource names are WebMutex ids too, which are at most this long.
const MAX_NAME: usize = 128;

/// `/locks/{resource}` and `/locks/{resource}/{uid}`; `rest` follows `/locks/`.
pub fn locks(ctx: &mut Ctx, rest: &str) -> Handled {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (resource, uid) = match rest.split_once('/') {
        Some((r, u)) => (r, Some(u)),
        None => (rest, None),
    };
    let decoded = decode_segment(resource, Words::Error).and_then(|r| {
        let uid = uid.map(|u| decode_segment(u, Words::Error)).transpose()?;
        Ok((r, uid))
    });
    let (resource, uid) = match decoded {
        Ok(d) => d,
        Err(r) => return Handled::Respond(r),
    };
    let (resource, uid) = (resource.as_str(), uid.as_deref());
    if let Err(r) = check_name(resource) {
        return Handled::Respond(r);
    }
    match uid {
        None => {
            if let Some(r) = check_method(ctx.req, &["POST"], Words::Error) {
                return Handled::Respond(r);
            }
            acquire(ctx, resource)
        }
        Some(uid) => {
            if let Some(r) = check_method(ctx.req, &["GET", "DELETE"], Words::Error) {
                return Handled::Respond(r);
            }
            // A uid names a lock of this resource, live (active or waiting); anything else is 404,
            // whether it was never given, has ended, or is another resource's.
            let found =
                capabilities::parse_uid(uid).and_then(|uid| live_request(ctx, resource, uid));
            let Some((request, view, handles)) = found else {
                return Handled::Respond(Response::error(
                    404,
                    format!("no lock {uid} on {resource}"),
                ));
            };
            Handled::Respond(if ctx.req.method() == "DELETE" {
                delete_lock(ctx, resource, request, &view, handles)
            } else {
                hal(200, lock_doc(resource, handles, &view, true))
            })
        }
    }
}

/// `/resources` and `/resources/{resource}`; `rest` follows `/resources/` (empty, or the name).
pub fn resources(ctx: &mut Ctx, rest: &str) -> Handled {
    let name = rest.strip_suffix('/').unwrap_or(rest);
    if name.contains('/') {
        return Handled::Respond(not_found_in(ctx.req, Words::Error));
    }
    let name = match decode_segment(name, Words::Error) {
        Ok(n) => n,
        Err(r) => return Handled::Respond(r),
    };
    let name = name.as_str();
    if let Some(r) = check_method(ctx.req, &["GET", "DELETE"], Words::Error) {
        return Handled::Respond(r);
    }
    if name.contains('/') {
        return Handled::Respond(not_found_in(ctx.req, Words::Error));
    }
    if name.is_empty() && ctx.req.method() == "DELETE" && ctx.req.path() != "/resources" {
        // An empty name where one was meant must not delete every resource.
        return Handled::Respond(Response::error(
            400,
            "no resource name: DELETE /resources/NAME deletes one resource, DELETE /resources all",
        ));
    }
    if !name.is_empty()
        && let Err(r) = check_name(name)
    {
        return Handled::Respond(r);
    }
    // Every request here is administrative, as the document says: the listings show every lock's
    // URL, which is what its holder ends it with.
    if let Some(refusal) = auth::check(ctx.shared.admin.as_ref(), &ctx.caller, ctx.req) {
        return Handled::Respond(refusal);
    }
    if ctx.req.method() == "DELETE" {
        let op = if name.is_empty() {
            Op::DeleteAll
        } else {
            Op::DeleteResource {
                resource: name.to_string(),
            }
        };
        let reply = ctx.apply(op);
        return Handled::Respond(match reply {
            Reply::Deleted { .. } => Response::new(204),
            Reply::Refused(_) => Response::error(404, format!("there is no lock on {name}")),
            other => Response::error(500, format!("unexpected engine reply: {other:?}")),
        });
    }
    Handled::Respond(if name.is_empty() {
        list_resources(ctx)
    } else {
        list_locks(ctx, name)
    })
}

fn acquire(ctx: &mut Ctx, resource: &str) -> Handled {
    let body = match read_body(ctx) {
        Ok(b) => b,
        Err(reason) => return Handled::Respond(Response::error(400, reason)),
    };
    let base = ctx.base_url();
    let name = resource.to_string();
    let wait = if body.wait > 0.0 {
        Wait::Until(timefmt::now_ms() + (body.wait * 1000.0) as u64)
    } else {
        Wait::No
    };
    let handles = capabilities::new_handles();
    let op = Op::Acquire(Acquire {
        resource: name.clone(),
        token: crate::api::random::uuid(),
        holder: body.title,
        ttl_ms: (body.lifetime > 0.0).then_some((body.lifetime * 1000.0) as u64),
        wait,
        grace_ms: None,
        meta: Some(json!({"wait": seconds((body.wait * 1000.0) as u64)}).to_string()),
        slots: body.slots,
        mode: body.mode,
        handles: Some(handles),
    });
    let responder = {
        let (base, name) = (base.clone(), name.clone());
        // The handles given are the engine's to say (under its lock); the rest is made after.
        let take = |answer: &Answer, engine: &Engine| {
            let given = match answer {
                Answer::Granted(grant) => engine.handles(grant.request),
                _ => None,
            };
            (answer.clone(), given)
        };
        responder_with(take, move |(answer, given)| match answer {
            Answer::Granted(_) => created(&base, &name, given.unwrap_or(handles)),
            Answer::TimedOut(_) => Response::new(408),
            Answer::Deleted => Response::new(409),
            other => Response::error(500, format!("unexpected end of a wait: {other:?}")),
        })
    };
    let reply = ctx.apply_parking(op, || responder);
    match reply {
        Reply::Granted { grant, .. } => {
            // The handles asked for, unless taken (then the engine gave the next free ones).
            let given = ctx.read(|e| e.handles(grant.request));
            Handled::Respond(created(&base, &name, given.unwrap_or(handles)))
        }
        Reply::Queued { request, .. } => Handled::Parked(request),
        Reply::Busy(_) => Handled::Respond(Response::new(408)),
        Reply::SlotsDiffer { in_force, asked } => Handled::Respond(Response::error(
            409,
            slots::differ_reason(&name, in_force, asked),
        )),
        other => Handled::Respond(Response::error(
            500,
            format!("unexpected engine reply: {other:?}"),
        )),
    }
}

/// `201 Created` with the unique lock URL, absolute (`base_url.rs`): its holder's key.
fn created(base: &str, resource: &str, handles: Handles) -> Response {
    Response::new(201).with_header(
        "Location",
        format!("{base}{}", lock_path(resource, handles)),
    )
}

struct Body {
    title: String,
    wait: f64,
    lifetime: f64,
    /// *Extensions*: how many may hold the resource at once, and how this request holds it.
    slots: Option<u32>,
    mode: Mode,
}

/// The JSON body `{"title", "wait", "lifetime"}` (a form with those fields is accepted too).
fn read_body(ctx: &Ctx) -> Result<Body, String> {
    if ctx.req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(
            "the body is empty: send {\"title\": \"…\", \"wait\": 5, \"lifetime\": 300}".into(),
        );
    }
    let params = Params::parse_json_body(ctx.req.header("content-type"), &ctx.req.body)
        .map_err(|e| e.to_string())?;
    if params.json().is_some_and(|v| !v.is_object()) {
        return Err("the body must be a JSON object with a title".into());
    }
    let title = params
        .text("title")
        .map_err(|e| e.to_string())?
        .filter(|t| !t.trim().is_empty())
        .ok_or("title is required")?;
    if title.chars().any(char::is_control) || title.len() > 256 {
        return Err("title must be at most 256 bytes, without control characters".into());
    }
    let number = |name: &str, max: f64| -> Result<f64, String> {
        match params.get(name) {
            None | Some(Value::Null) => Ok(0.0),
            Some(v) => match v.as_f64().or_else(|| v.as_str()?.trim().parse().ok()) {
                Some(n) if n.is_finite() && (0.0..=max).contains(&n) => Ok(n),
                _ => Err(format!(
                    "{name} must be a non-negative number of seconds, at most {max}"
                )),
            },
        }
    };
    let lifetime = number("lifetime", MAX_LIFETIME_SECS)?;
    // 0 is "no lifetime"; anything else is a lease of at least the engine's unit, a millisecond.
    if lifetime > 0.0 && lifetime < 0.001 {
        return Err("lifetime must be 0 (none) or at least 0.001 seconds".into());
    }
    let (slots, mode) = slots::slots_and_mode(&params)?;
    Ok(Body {
        title,
        wait: number("wait", MAX_WAIT_SECS)?,
        lifetime,
        slots,
        mode,
    })
}

/// Releases an active lock, or deletes a waiting request (its waiting client gets its 409).
fn delete_lock(
    ctx: &mut Ctx,
    resource: &str,
    request: RequestId,
    view: &RequestView,
    handles: Handles,
) -> Response {
    if let Some(refusal) = capabilities::hal_may_end(view) {
        return refusal;
    }
    let op = match (&view.state, ctx.read(|e| e.token_of(request))) {
        (RequestState::Active(_), Some(token)) => Op::Release {
            resource: resource.to_string(),
            token,
        },
        _ => Op::Cancel {
            request,
            by: CancelBy::Admin,
        },
    };
    let reply = ctx.apply(op);
    match reply {
        Reply::Released { .. } | Reply::Cancelled => Response::new(204),
        Reply::Refused(Refusal::UnknownRequest | Refusal::NotHeld | Refusal::WrongToken) => {
            Response::error(
                404,
                format!("no lock {} on {resource}", capabilities::uid_text(handles)),
            )
        }
        other => Response::error(500, format!("unexpected engine reply: {other:?}")),
    }
}

/// The request of `resource` whose uid is `uid`, if it is active or waiting.
fn live_request(ctx: &Ctx, resource: &str, uid: Uuid) -> Option<(RequestId, RequestView, Handles)> {
    let (request, view, handles) = ctx.read(|e| {
        let request = e.request_by_uid(uid)?;
        Some((request, e.request(request)?, e.handles(request)?))
    })?;
    let live = matches!(
        view.state,
        RequestState::Active(_) | RequestState::Waiting { .. }
    );
    (live && view.resource == resource).then_some((request, view, handles))
}

fn list_resources(ctx: &Ctx) -> Response {
    let names: Vec<String> = ctx.read(|e| {
        e.locks()
            .into_iter()
            .map(|l: LockView| l.resource)
            .collect()
    });
    let resources: Vec<Value> = names
        .iter()
        .map(|n| json!({"_links": {"self": {"href": format!("/resources/{n}")}}, "name": n}))
        .collect();
    hal(
        200,
        json!({"_embedded": {"resources": resources}, "_links": {"self": {"href": "/resources"}}}),
    )
}

fn list_locks(ctx: &Ctx, name: &str) -> Response {
    let requests = ctx.read(|e| {
        e.requests_of(name)
            .into_iter()
            .filter_map(|(id, view)| Some((e.handles(id)?, view)))
            .collect::<Vec<_>>()
    });
    let locks: Vec<Value> = requests
        .iter()
        .filter(|(_, v)| {
            matches!(
                v.state,
                RequestState::Active(_) | RequestState::Waiting { .. }
            )
        })
        .map(|(handles, v)| lock_doc(name, *handles, v, false))
        .collect();
    hal(
        200,
        json!({"_embedded": {"locks": locks}, "_links": {"self": {"href": format!("/resources/{name}")}}, "name": name}),
    )
}

/// A lock as the document shows it. A waiting request shows `active: false` and when it started and
/// stops waiting.
fn lock_doc(
    resource: &str,
    handles: Handles,
    view: &RequestView,
    with_resource_link: bool,
) -> Value {
    let meta: Map<String, Value> = view
        .meta
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    // The lifetime is the lease in force, whichever API set it; `wait` is HAL's own (0 elsewhere).
    let lifetime = view.ttl_ms.map_or(json!(0), seconds);
    let wait = meta.get("wait").cloned().unwrap_or(json!(0));
    let time = |t: Option<u64>| t.map_or(Value::Null, |t| Value::from(timefmt::hal(t)));
    let mut links = json!({"self": {"href": lock_path(resource, handles)}});
    if with_resource_link {
        links["resource"] = json!({"href": format!("/resources/{resource}")});
    }
    let mut doc = json!({
        "uid": capabilities::uid_text(handles),
        "title": view.holder,
        "lifetime": lifetime,
        "wait": wait,
        "_links": links,
    });
    match &view.state {
        RequestState::Active(h) => {
            doc["mode"] = json!(h.mode.as_str());
            doc["active"] = json!(true);
            doc["active_since"] = time(Some(h.since));
            doc["active_expires"] = time(h.expires);
        }
        RequestState::Waiting { waiter, .. } => {
            doc["mode"] = json!(waiter.mode.as_str());
            doc["active"] = json!(false);
            doc["active_since"] = Value::Null;
            doc["active_expires"] = Value::Null;
            // The original server's names (rdlm-py reads them), and the names weblock first used.
            doc["wait_since"] = time(Some(waiter.since));
            doc["wait_expires"] = time(waiter.deadline);
            doc["waiting_since"] = doc["wait_since"].clone();
            doc["waiting_expires"] = doc["wait_expires"].clone();
        }
        _ => {}
    }
    doc
}

fn lock_path(resource: &str, handles: Handles) -> String {
    format!("/locks/{resource}/{}", capabilities::uid_text(handles))
}

/// Resource names of this API: `[a-zA-Z0-9]+`.
fn check_name(name: &str) -> Result<(), Response> {
    if !name.is_empty() && name.len() <= MAX_NAME && name.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        Ok(())
    } else {
        Err(Response::error(
            400,
            format!(
                "invalid resource name {name:?}: use 1 to {MAX_NAME} letters and digits ([a-zA-Z0-9]+)"
            ),
        ))
    }
}

fn hal(status: u16, doc: Value) -> Response {
    let mut r = Response::json(status, &doc);
    r.content_type = Some(HAL_JSON);
    r
}
