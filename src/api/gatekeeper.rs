//! The gatekeeper API (`/api/services…`, `/api/tickets…`), translated onto the engine's gates. Its
//! words: `{"status": "ok" | "denied" | "queue"}`, and `{"status": "error", "reason": …}`.
use serde_json::{Value, json};

use super::ctx::{Ctx, Handled};
use super::gatekeeper_docs::{
    already_exists, environment_not_found, gate_answer, gate_not_found, invalid, json_not_valid,
    ok_with_service, service_doc, state_not_valid,
};
use super::params::{self, Params};
use super::replies::{check_method, not_found_in};
use crate::api::shared::responder_with;
use crate::engine::{Engine, GateChange, GateRefusal, GateReply, GateState, Op, Reply, Wait};
use crate::host::Answer;
use crate::http::{Response, Words};
use crate::timefmt;

const MAX_NAME: usize = 128;
const MAX_MESSAGE: usize = 1024;
/// The longest a client may wait on the server, in seconds (a day), as on the other APIs.
const MAX_WAIT_SECS: f64 = 86_400.0;

/// Everything under `/api/`; `rest` follows it.
pub fn handle(ctx: &mut Ctx, rest: &str) -> Handled {
    let raw: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let mut parts = Vec::with_capacity(raw.len());
    for segment in raw {
        match params::path_segment(segment) {
            Ok(s) => parts.push(s),
            Err(e) => return Handled::Respond(Response::error(400, e.to_string())),
        }
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let allowed: &[&str] = match parts.as_slice() {
        ["services"] => &["GET", "PUT"],
        ["services", _] => &["GET", "POST", "PUT", "DELETE"],
        ["services", _, _] => &["GET", "PUT"],
        ["tickets", _] => &["DELETE"],
        _ => return Handled::Respond(not_found_in(ctx.req, Words::Error)),
    };
    if let Some(r) = check_method(ctx.req, allowed, Words::Error) {
        return Handled::Respond(r);
    }
    let method = ctx.req.method();
    match (parts.as_slice(), method) {
        (["services"], "PUT") => tickets::test_and_set(ctx),
        (["services"], _) => Handled::Respond(list(ctx)),
        (["services", service], "POST") => Handled::Respond(create(ctx, service)),
        (["services", service], "DELETE") => Handled::Respond(delete_service(ctx, service)),
        (["services", service], "PUT") => Handled::Respond(update_service(ctx, service)),
        (["services", service], _) => Handled::Respond(show(ctx, service)),
        (["services", service, env], "PUT") => Handled::Respond(set_gate(ctx, service, env)),
        (["services", service, env], _) => watch_gate(ctx, service, env),
        (["tickets", id], _) => Handled::Respond(tickets::delete_ticket(ctx, id)),
        _ => Handled::Respond(not_found_in(ctx.req, Words::Error)),
    }
}

fn body(ctx: &Ctx) -> Result<Params, Response> {
    match Params::parse_json_body(ctx.req.header("content-type"), &ctx.req.body) {
        Ok(p) if p.json().is_some_and(|v| !v.is_object()) => {
            Err(invalid("the body must be a JSON object"))
        }
        Ok(p) => Ok(p),
        Err(_) => Err(json_not_valid()),
    }
}

fn ok() -> Response {
    Response::json(200, &json!({"status": "ok"}))
}

/// A service or gate name: not empty, no dots (the document's rule), nothing that breaks a URL or a
/// terminal line.
fn check_name(what: &str, name: &str) -> Result<(), Response> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(invalid(format!("{what} names are 1 to {MAX_NAME} bytes")));
    }
    if name.contains('.') {
        return Err(invalid(format!(
            "{what} name {name:?} must not contain dots"
        )));
    }
    if name.contains('/')
        || name.contains(':')
        || name.contains(',')
        || name.chars().any(char::is_control)
    {
        return Err(invalid(format!(
            "{what} name {name:?} must not contain slashes, colons, commas or control characters"
        )));
    }
    Ok(())
}

fn create(ctx: &mut Ctx, service: &str) -> Response {
    let params = match body(ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = check_name("service", service) {
        return r;
    }
    let group = match params.get("group") {
        Some(Value::String(g)) if g.len() <= MAX_NAME && !g.chars().any(char::is_control) => {
            g.clone()
        }
        _ => return invalid("group must be a string of at most 128 bytes"),
    };
    let Some(Value::Array(list)) = params.get("environments") else {
        return invalid("environments must be a list of gate names");
    };
    let mut environments: Vec<String> = Vec::with_capacity(list.len());
    // A set, not `environments.contains`: a body of 100,000 names would cost a worker a minute.
    let mut seen = std::collections::HashSet::with_capacity(list.len());
    for env in list {
        let Value::String(env) = env else {
            return invalid("environments must be a list of gate names");
        };
        if let Err(r) = check_name("gate", env) {
            return r;
        }
        if !seen.insert(env.as_str()) {
            return invalid(format!("gate {env:?} is named twice"));
        }
        environments.push(env.clone());
    }
    if environments.is_empty() {
        return invalid("environments must name at least one gate");
    }
    let op = Op::CreateService {
        service: service.to_string(),
        group,
        environments,
    };
    match apply(ctx, op) {
        Reply::Gate(GateReply::Created) => with_service(ctx, service),
        Reply::Gate(GateReply::Refused(GateRefusal::ServiceExists)) => already_exists(),
        other => unexpected(other),
    }
}

fn delete_service(ctx: &mut Ctx, service: &str) -> Response {
    match apply(
        ctx,
        Op::DeleteService {
            service: service.to_string(),
            keep_other_gates: true,
        },
    ) {
        Reply::Gate(GateReply::Deleted) => ok(),
        Reply::Gate(GateReply::Refused(_)) => gate_not_found(),
        other => unexpected(other),
    }
}

/// `{"status": "ok"}` with the service document beside it, as it is now.
fn with_service(ctx: &Ctx, service: &str) -> Response {
    let base = ctx.base_url();
    ctx.read(|e| ok_with_service(e, service, &base))
}

fn show(ctx: &Ctx, service: &str) -> Response {
    let base = ctx.base_url();
    ctx.read(|e| match e.service(service) {
        Some(view) => Response::json(200, &service_doc(&view, e, &base)),
        None => gate_not_found(),
    })
}

fn list(ctx: &Ctx) -> Response {
    let base = ctx.base_url();
    let services: Vec<Value> = ctx.read(|e| {
        e.services()
            .iter()
            .map(|view| service_doc(view, e, &base))
            .collect()
    });
    Response::json(200, &json!({"services": services}))
}

/// A gate's `state` and `message` as a body gives them: `None` for absent (or null).
type GateFields = (Option<GateState>, Option<String>);

fn gate_fields<'a>(get: impl Fn(&str) -> Option<&'a Value>) -> Result<GateFields, Response> {
    let state = match get("state") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "open" => Some(GateState::Open),
        Some(Value::String(s)) if s == "closed" || s == "close" => Some(GateState::Closed),
        Some(_) => return Err(state_not_valid()),
    };
    let message = match get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) if m.len() <= MAX_MESSAGE => Some(m.clone()),
        Some(_) => {
            return Err(invalid(format!(
                "message must be a string of at most {MAX_MESSAGE} bytes"
            )));
        }
    };
    Ok((state, message))
}

/// `PUT /api/services/{service}` (the original's update of a service): `group`, and
/// `environments: {gate: {"state", "message"}}`, all at once or nothing. `name` may be given only as
/// the service's own: weblock does not rename services (tickets and pipelines name them).
fn update_service(ctx: &mut Ctx, service: &str) -> Response {
    let params = match body(ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let group = match params.get("group") {
        None | Some(Value::Null) => None,
        Some(Value::String(g)) if g.len() <= MAX_NAME && !g.chars().any(char::is_control) => {
            Some(g.clone())
        }
        Some(_) => return invalid("group must be a string of at most 128 bytes"),
    };
    match params.get("name") {
        None | Some(Value::Null) => {}
        Some(Value::String(n)) if n == service => {}
        Some(_) => return invalid("a service cannot be renamed"),
    }
    let mut gates = Vec::new();
    match params.get("environments") {
        None | Some(Value::Null) => {}
        Some(Value::Object(envs)) => {
            for (env, fields) in envs {
                let Value::Object(fields) = fields else {
                    return invalid("environments must map gate names to {state, message}");
                };
                let (state, message) = match gate_fields(|k| fields.get(k)) {
                    Ok(f) => f,
                    Err(r) => return r,
                };
                gates.push(GateChange {
                    environment: env.clone(),
                    state,
                    message,
                });
            }
        }
        Some(_) => return invalid("environments must map gate names to {state, message}"),
    }
    let op = Op::UpdateService {
        service: service.to_string(),
        group,
        gates,
    };
    match apply(ctx, op) {
        Reply::Gate(GateReply::Set) => with_service(ctx, service),
        Reply::Gate(GateReply::Refused(GateRefusal::UnknownGate)) => environment_not_found(),
        Reply::Gate(GateReply::Refused(_)) => gate_not_found(),
        other => unexpected(other),
    }
}

fn set_gate(ctx: &mut Ctx, service: &str, env: &str) -> Response {
    let params = match body(ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (state, message) = match gate_fields(|k| params.get(k)) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if state.is_none() && message.is_none() {
        // Neither: the document's phrase (the original answered 200 and changed nothing).
        return state_not_valid();
    }
    let op = Op::SetGate {
        service: service.to_string(),
        environment: env.to_string(),
        state,
        message,
    };
    match apply(ctx, op) {
        Reply::Gate(GateReply::Set) => with_service(ctx, service),
        Reply::Gate(GateReply::Refused(GateRefusal::UnknownGate)) => environment_not_found(),
        Reply::Gate(GateReply::Refused(_)) => gate_not_found(),
        other => unexpected(other),
    }
}

/// `GET /api/services/{service}/{environment}` (*extension*): one gate; with `wait`, answered when
/// it is open or the wait runs out.
fn watch_gate(ctx: &mut Ctx, service: &str, env: &str) -> Handled {
    let query = match Params::parse(ctx.req.head.query.as_deref(), None, b"") {
        Ok(q) => q,
        Err(e) => return Handled::Respond(Response::error(400, e.to_string())),
    };
    let wait = match query.seconds("wait") {
        Ok(Some(w)) if w.as_secs_f64() > MAX_WAIT_SECS => {
            return Handled::Respond(Response::error(400, "wait must be at most 86400 seconds"));
        }
        Ok(w) => w.filter(|w| !w.is_zero()),
        Err(e) => return Handled::Respond(Response::error(400, e.to_string())),
    };
    let base = ctx.base_url();
    let Some(wait) = wait else {
        return Handled::Respond(ctx.read(|e| gate_answer(e, service, env, &base)));
    };
    let op = Op::WatchGate {
        service: service.to_string(),
        environment: env.to_string(),
        wait: Wait::Until(timefmt::now_ms() + wait.as_millis() as u64),
    };
    let (s, g, h) = (service.to_string(), env.to_string(), base.clone());
    // The gate as it is when the wait ends, read under the engine lock (its document names its
    // tickets, which only the engine has); sent as it is.
    let responder = responder_with(
        move |_: &Answer, engine: &Engine| gate_answer(engine, &s, &g, &h),
        |answer| answer,
    );
    let reply = ctx.apply_parking(op, || responder);
    match reply {
        Reply::Gate(GateReply::Watching { request }) => Handled::Parked(request),
        _ => Handled::Respond(ctx.read(|e| gate_answer(e, service, env, &base))),
    }
}

fn apply(ctx: &mut Ctx, op: Op) -> Reply {
    ctx.apply(op)
}

mod tickets;

fn unexpected(reply: Reply) -> Response {
    Response::error(500, format!("unexpected engine reply: {reply:?}"))
}
