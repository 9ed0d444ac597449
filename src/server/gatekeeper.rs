//! The gatekeeper API (`/api/services…`, `/api/tickets…`), translated onto the engine's gates. Its
//! words: `{"status": "ok" | "denied" | "queue"}`, and `{"status": "error", "reason": …}`.
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::core::Answer;
use super::http::{Response, Words};
use super::params::{self, Params};
use super::router::{Ctx, Handled, check_method, not_found_in};
use crate::engine::{
    Engine, GateRefusal, GateReply, GateState, GateView, Op, Reply, ServiceView, TicketView, Wait,
};
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
        ["services", _] => &["GET", "POST", "DELETE"],
        ["services", _, _] => &["GET", "PUT"],
        ["tickets", _] => &["DELETE"],
        _ => return Handled::Respond(not_found_in(ctx.req, Words::Error)),
    };
    if let Some(r) = check_method(ctx.req, allowed, Words::Error) {
        return Handled::Respond(r);
    }
    let method = ctx.req.method();
    match (parts.as_slice(), method) {
        (["services"], "PUT") => test_and_set(ctx),
        (["services"], _) => Handled::Respond(list(ctx)),
        (["services", service], "POST") => Handled::Respond(create(ctx, service)),
        (["services", service], "DELETE") => Handled::Respond(delete_service(ctx, service)),
        (["services", service], _) => Handled::Respond(show(ctx, service)),
        (["services", service, env], "PUT") => Handled::Respond(set_gate(ctx, service, env)),
        (["services", service, env], _) => watch_gate(ctx, service, env),
        (["tickets", id], _) => Handled::Respond(delete_ticket(ctx, id)),
        _ => Handled::Respond(not_found_in(ctx.req, Words::Error)),
    }
}

fn body(ctx: &Ctx) -> Result<Params, Response> {
    match Params::parse_json_body(ctx.req.header("content-type"), &ctx.req.body) {
        Ok(p) if p.json().is_some_and(|v| !v.is_object()) => {
            Err(invalid("the body must be a JSON object"))
        }
        Ok(p) => Ok(p),
        Err(e) => Err(Response::error(400, format!("Json was not valid: {e}"))),
    }
}

fn invalid(detail: impl std::fmt::Display) -> Response {
    Response::error(
        400,
        format!("Your json contains invalid information: {detail}"),
    )
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
        Reply::Gate(GateReply::Created) => ok(),
        Reply::Gate(GateReply::Refused(GateRefusal::ServiceExists)) => Response::error(
            400,
            format!("Gate with this name already exist: service {service:?} exists"),
        ),
        other => unexpected(other),
    }
}

fn delete_service(ctx: &mut Ctx, service: &str) -> Response {
    match apply(
        ctx,
        Op::DeleteService {
            service: service.to_string(),
        },
    ) {
        Reply::Gate(GateReply::Deleted) => ok(),
        Reply::Gate(GateReply::Refused(_)) => service_not_found(service),
        other => unexpected(other),
    }
}

fn show(ctx: &Ctx, service: &str) -> Response {
    match ctx.shared.core.read(|e| e.service(service)) {
        Some(view) => Response::json(200, &service_doc(&view)),
        None => service_not_found(service),
    }
}

fn list(ctx: &Ctx) -> Response {
    let services: Vec<Value> = ctx
        .shared
        .core
        .read(|e| e.services())
        .iter()
        .map(service_doc)
        .collect();
    Response::json(200, &json!({"services": services}))
}

fn set_gate(ctx: &mut Ctx, service: &str, env: &str) -> Response {
    let params = match body(ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let state = match params.get("state") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "open" => Some(GateState::Open),
        Some(Value::String(s)) if s == "closed" || s == "close" => Some(GateState::Closed),
        Some(_) => return Response::error(400, "state must be open or closed"),
    };
    let message = match params.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) if m.len() <= MAX_MESSAGE => Some(m.clone()),
        Some(_) => {
            return invalid(format!(
                "message must be a string of at most {MAX_MESSAGE} bytes"
            ));
        }
    };
    if state.is_none() && message.is_none() {
        return Response::error(400, "state must be open or closed (or give a message)");
    }
    let op = Op::SetGate {
        service: service.to_string(),
        environment: env.to_string(),
        state,
        message,
    };
    match apply(ctx, op) {
        Reply::Gate(GateReply::Set) => ok(),
        Reply::Gate(GateReply::Refused(_)) => gate_not_found(service, env),
        other => unexpected(other),
    }
}

/// `PUT /api/services`: the atomic test-and-set over every named gate, with queueing and waiting.
fn test_and_set(ctx: &mut Ctx) -> Handled {
    let params = match body(ctx) {
        Ok(p) => p,
        Err(r) => return Handled::Respond(r),
    };
    let query = match Params::parse(ctx.req.head.query.as_deref(), None, b"") {
        Ok(q) => q,
        Err(e) => return Handled::Respond(Response::error(400, e.to_string())),
    };
    let Some(Value::Object(services)) = params.get("services") else {
        return Handled::Respond(invalid("services must map service names to lists of gates"));
    };
    // Every service named must exist, even one named with no gates: 404 names the first that does not.
    if let Some(unknown) = ctx
        .shared
        .core
        .read(|e| services.keys().find(|s| e.service(s).is_none()).cloned())
    {
        return Handled::Respond(service_not_found(&unknown));
    }
    let mut gates = Vec::new();
    for (service, envs) in services {
        let Value::Array(envs) = envs else {
            return Handled::Respond(invalid("services must map service names to lists of gates"));
        };
        for env in envs {
            let Value::String(env) = env else {
                return Handled::Respond(invalid("gate names must be strings"));
            };
            gates.push((service.clone(), env.clone()));
        }
    }
    let ticket = match params.get("ticket") {
        None | Some(Value::Null) => None,
        // An id that is not a UUID cannot name a ticket: it is gone, like any other unknown one.
        Some(Value::String(t)) => match Uuid::parse_str(t) {
            Ok(id) => Some(id),
            Err(_) => return Handled::Respond(denied()),
        },
        Some(_) => return Handled::Respond(invalid("ticket must be a ticket id string")),
    };
    let queue = match query.flag("queue") {
        Ok(q) => q.unwrap_or(false),
        Err(e) => return Handled::Respond(Response::error(400, e.to_string())),
    };
    let wait = match params
        .seconds("wait")
        .and_then(|w| Ok(w.or(query.seconds("wait")?)))
    {
        Ok(Some(w)) if w.as_secs_f64() > MAX_WAIT_SECS => {
            return Handled::Respond(Response::error(400, "wait must be at most 86400 seconds"));
        }
        Ok(w) => w.filter(|w| queue && !w.is_zero()),
        Err(e) => return Handled::Respond(Response::error(400, e.to_string())),
    };
    let wait = match wait {
        Some(w) => Wait::Until(timefmt::now_ms() + w.as_millis() as u64),
        None => Wait::No,
    };
    // *Extension*: the id a new ticket gets, proposed by the client, so that a retry of a call whose
    // answer was lost finds its ticket instead of making a second one.
    let new_ticket = match params.get("new_ticket") {
        None | Some(Value::Null) => Uuid::new_v4(),
        Some(Value::String(t)) => match Uuid::parse_str(t) {
            Ok(id) => id,
            Err(_) => return Handled::Respond(invalid("new_ticket must be a UUID")),
        },
        Some(_) => return Handled::Respond(invalid("new_ticket must be a UUID")),
    };
    // *Extension*: who asks (`user@host pid`), kept with a ticket this call creates.
    let holder = match super::slots::holder_text(params.get("holder")) {
        Ok(h) => h,
        Err(e) => return Handled::Respond(invalid(&e)),
    };
    let host = ctx.req.host();
    let op = Op::TestAndSet {
        gates,
        ticket,
        new_ticket,
        queue,
        wait,
        ticket_ttl_ms: ctx.shared.ticket_ttl.map(|t| t.as_millis() as u64),
        holder,
    };
    let responder = {
        let host = host.clone();
        Box::new(move |answer: &Answer, engine: &Engine| match answer {
            Answer::TicketGranted { ticket } | Answer::TicketPollEnded { ticket } => {
                match engine.ticket(*ticket) {
                    Some(t) if t.granted => ticket_answer("ok", &t, &host),
                    Some(t) => ticket_answer("queue", &t, &host),
                    None => denied(),
                }
            }
            Answer::TicketEnded => denied(),
            other => Response::error(500, format!("unexpected end of a wait: {other:?}")),
        })
    };
    let reply = ctx.apply_parking(op, responder);
    Handled::Respond(match reply {
        Reply::Gate(GateReply::Ok(t)) => ticket_answer("ok", &t, &host),
        Reply::Gate(GateReply::Queued(t)) => ticket_answer("queue", &t, &host),
        Reply::Gate(GateReply::Waiting { request, .. }) => return Handled::Parked(request),
        Reply::Gate(GateReply::Denied) => denied(),
        Reply::Gate(GateReply::Refused(GateRefusal::UnknownService)) => {
            Response::error(404, "Gate not found: a named service does not exist")
        }
        other => unexpected(other),
    })
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
    let Some(wait) = wait else {
        return Handled::Respond(gate_answer(
            ctx.shared.core.read(|e| e.service(service)).as_ref(),
            service,
            env,
        ));
    };
    let op = Op::WatchGate {
        service: service.to_string(),
        environment: env.to_string(),
        wait: Wait::Until(timefmt::now_ms() + wait.as_millis() as u64),
    };
    let (s, g) = (service.to_string(), env.to_string());
    let responder = Box::new(move |_: &Answer, engine: &Engine| {
        gate_answer(engine.service(&s).as_ref(), &s, &g)
    });
    let reply = ctx.apply_parking(op, responder);
    match reply {
        Reply::Gate(GateReply::Watching { request }) => Handled::Parked(request),
        _ => Handled::Respond(gate_answer(
            ctx.shared.core.read(|e| e.service(service)).as_ref(),
            service,
            env,
        )),
    }
}

fn delete_ticket(ctx: &mut Ctx, id: &str) -> Response {
    let Ok(ticket) = Uuid::parse_str(id) else {
        return Response::error(404, "Ticket does not exist");
    };
    match apply(ctx, Op::DeleteTicket { ticket }) {
        Reply::Gate(GateReply::Deleted) => ok(),
        Reply::Gate(GateReply::Refused(_)) => Response::error(404, "Ticket does not exist"),
        other => unexpected(other),
    }
}

fn apply(ctx: &mut Ctx, op: Op) -> Reply {
    ctx.apply(op)
}

fn service_doc(view: &ServiceView) -> Value {
    let environments: Map<String, Value> = view
        .environments
        .iter()
        .map(|(name, gate)| (name.clone(), gate_doc(gate)))
        .collect();
    json!({"name": view.name, "group": view.group, "environments": environments})
}

/// A gate as the document shows it: `closed` when closed by hand or held by a ticket.
fn gate_doc(gate: &GateView) -> Value {
    let time = |t: Option<u64>| t.map_or(String::new(), timefmt::gatekeeper);
    let state = match gate.state {
        GateState::Open => "open",
        GateState::Closed => "closed",
    };
    let queue: Vec<String> = gate.queue.iter().map(Uuid::to_string).collect();
    json!({
        "state": state,
        "state_timestamp": time(gate.state_timestamp),
        "message": gate.message,
        "message_timestamp": time(gate.message_timestamp),
        "queue": queue,
        // Extensions (for the dashboard): which ticket holds it, and whether it is closed by hand.
        "held_by": gate.held_by.map(|t| t.to_string()),
        "closed_by_hand": gate.closed_by_hand,
        "queue_holders": gate.queue_holders,
    })
}

fn gate_answer(view: Option<&ServiceView>, service: &str, env: &str) -> Response {
    match view.and_then(|v| v.environments.get(env)) {
        Some(gate) => {
            let mut doc = gate_doc(gate);
            doc["name"] = env.into();
            doc["service"] = service.into();
            Response::json(200, &doc)
        }
        None => gate_not_found(service, env),
    }
}

fn ticket_answer(status: &str, ticket: &TicketView, host: &str) -> Response {
    // Epoch seconds, as the document shows them; 0 once granted (it holds until deleted).
    let expiration = match (ticket.granted, ticket.expires) {
        (false, Some(ms)) => json!(ms as f64 / 1000.0),
        _ => json!(0),
    };
    Response::json(
        200,
        &json!({"status": status, "ticket": {
            "id": ticket.id.to_string(),
            "expiration_date": expiration,
            "updated": timefmt::gatekeeper(ticket.updated),
            "link": format!("http://{host}/api/tickets/{}", ticket.id),
            "holder": ticket.holder,
        }}),
    )
}

fn denied() -> Response {
    Response::json(200, &json!({"status": "denied"}))
}

fn service_not_found(service: &str) -> Response {
    Response::error(404, format!("Gate not found: no service {service:?}"))
}

fn gate_not_found(service: &str, env: &str) -> Response {
    Response::error(
        404,
        format!("Gate not found: no gate {env:?} in service {service:?}"),
    )
}

fn unexpected(reply: Reply) -> Response {
    Response::error(500, format!("unexpected engine reply: {reply:?}"))
}
