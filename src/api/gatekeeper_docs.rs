//! The gatekeeper API's documents and error answers: a service, a gate, a ticket, in the shapes of
//! the document's examples and of the original service's answers, and its errors in the document's
//! exact phrases (clients compare them).
use serde_json::{Map, Value, json};

use crate::engine::{Engine, GateState, GateView, ServiceView, TicketView};
use crate::http::Response;
use crate::timefmt;

/// `{"status": "ok"}` and, beside it, the service as `GET` shows it: the original answers a create
/// and a gate's change with the service document, and clients read `name`, `group` and
/// `environments` from it.
pub fn ok_with_service(engine: &Engine, service: &str, base: &str) -> Response {
    let mut doc = match engine.service(service) {
        Some(view) => service_doc(&view, engine, base),
        None => json!({}),
    };
    doc["status"] = "ok".into();
    Response::json(200, &doc)
}

pub fn service_doc(view: &ServiceView, engine: &Engine, base: &str) -> Value {
    let environments: Map<String, Value> = view
        .environments
        .iter()
        .map(|(name, gate)| (name.clone(), gate_doc(gate, engine, base)))
        .collect();
    json!({"name": view.name, "group": view.group, "environments": environments})
}

/// A gate as the document shows it: `closed` when closed by hand or held by a ticket; its `queue`
/// lists tickets as the original does, each `{"id", "expiration_date", "updated", "link"}`.
pub fn gate_doc(gate: &GateView, engine: &Engine, base: &str) -> Value {
    let time = |t: Option<u64>| t.map_or(String::new(), timefmt::gatekeeper);
    let state = match gate.state {
        GateState::Open => "open",
        GateState::Closed => "closed",
    };
    let queue: Vec<Value> = gate
        .queue
        .iter()
        .map(|&id| match engine.ticket(id) {
            Some(t) => ticket_doc(&t, base),
            None => json!({"id": id.to_string()}),
        })
        .collect();
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

/// `GET /api/services/{service}/{environment}`: the gate, with its `name` and `service`.
pub fn gate_answer(engine: &Engine, service: &str, env: &str, base: &str) -> Response {
    let Some(view) = engine.service(service) else {
        return gate_not_found();
    };
    match view.environments.get(env) {
        Some(gate) => {
            let mut doc = gate_doc(gate, engine, base);
            doc["name"] = env.into();
            doc["service"] = service.into();
            Response::json(200, &doc)
        }
        None => environment_not_found(),
    }
}

pub fn ticket_doc(ticket: &TicketView, base: &str) -> Value {
    // Epoch seconds, as the document shows them; 0 once granted (it holds until deleted).
    let expiration = match (ticket.granted, ticket.expires) {
        (false, Some(ms)) => json!(ms as f64 / 1000.0),
        _ => json!(0),
    };
    let mut doc = json!({
        "id": ticket.id.to_string(),
        "expiration_date": expiration,
        "updated": timefmt::gatekeeper(ticket.updated),
        "link": format!("{base}/api/tickets/{}", ticket.id),
    });
    // *Extension*: who holds or waits with it (`user@host pid`), when its client said; absent
    // otherwise, so a ticket reads exactly as the original's.
    if !ticket.holder.is_empty() {
        doc["holder"] = ticket.holder.clone().into();
    }
    doc
}

pub fn ticket_answer(status: &str, ticket: &TicketView, base: &str) -> Response {
    Response::json(
        200,
        &json!({"status": status, "ticket": ticket_doc(ticket, base)}),
    )
}

pub fn denied() -> Response {
    Response::json(200, &json!({"status": "denied"}))
}

/// An unknown service (the original's `GateNotFound`).
pub fn gate_not_found() -> Response {
    Response::error(404, "Gate not found")
}

/// A known service without that gate (the original's `EnvironmentNotFound`).
pub fn environment_not_found() -> Response {
    Response::error(404, "Environment not found")
}

pub fn ticket_not_found() -> Response {
    Response::error(404, "Ticket does not exist")
}

pub fn already_exists() -> Response {
    Response::error(400, "Gate with this name already exists")
}

pub fn json_not_valid() -> Response {
    Response::error(400, "Json was not valid")
}

/// The original's `JsonStructureError`: its phrase, then what was wrong.
pub fn invalid(detail: impl std::fmt::Display) -> Response {
    Response::error(
        400,
        format!("Your json contains invalid information. {detail}"),
    )
}

pub fn state_not_valid() -> Response {
    Response::error(400, "state must be open or closed")
}
