//! What a request needs to be allowed (`scopes::Need`), worked out from its path, method and, where
//! the name is not in the path, its parameters or the engine (a ticket's gates). Only asked for a
//! caller whose scopes limit it, so an open server or a bare secret pays nothing for it.
//!
//! A request its API will refuse as malformed whatever the scopes (a bad escape, an id outside the
//! alphabet, a body that is not JSON) needs `Nothing` here: its API parses it the same way and
//! answers 400 or 404 without touching anything.
use std::borrow::Cow;

use serde_json::Value;
use uuid::Uuid;

use super::ctx::Ctx;
use super::params::{Params, path_segment};
use super::scopes::Need;
use super::webmutex::{self, Endpoint};
use crate::http::Request;

/// `first` is the path's first segment, `rest` what follows it (as the router splits them).
pub fn of(ctx: &Ctx, req: &Request, first: &str, rest: &str) -> Need {
    if let Some(endpoint) = Endpoint::parse(first) {
        return webmutex_need(req, endpoint, rest);
    }
    match first {
        "locks" => hal_lock(req, rest),
        // Every request under /resources is administrative (listings show every lock's URL).
        "resources" => Need::Admin,
        "v1" => decoded(rest).map_or(Need::Nothing, |parts| request_queue(req, &parts)),
        "api" => decoded(rest).map_or(Need::Nothing, |parts| gatekeeper(ctx, req, &parts)),
        "metrics" | "events" | "history" | "" => Need::Read,
        _ => Need::Nothing,
    }
}

/// The path's segments, percent-decoded; `None` for a bad escape (its API answers 400).
fn decoded(rest: &str) -> Option<Vec<String>> {
    rest.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| path_segment(s).ok())
        .collect()
}

fn lock(name: &str, or_read: bool) -> Need {
    Need::Lock {
        name: Some(name.to_string()),
        or_read,
    }
}

fn webmutex_need(req: &Request, endpoint: Endpoint, rest: &str) -> Need {
    match endpoint {
        Endpoint::Reserve => return Need::Nothing,
        Endpoint::Break => return Need::Admin,
        _ => {}
    }
    // The id as the dialect reads it: from the path, else the query or the body, quotes taken off.
    let Ok(mut params) = Params::parse(
        req.head.query.as_deref(),
        req.header("content-type"),
        &req.body,
    ) else {
        return Need::Nothing;
    };
    let path_id = rest.strip_suffix('/').unwrap_or(rest);
    if path_id.contains('/') {
        return Need::Nothing;
    }
    if !path_id.is_empty() {
        let Ok(id) = path_segment(path_id) else {
            return Need::Nothing;
        };
        params.set("id", Value::String(id));
    }
    let Ok(id) = webmutex::id_param(&params) else {
        return Need::Nothing;
    };
    match (endpoint, id) {
        (Endpoint::Grab, name) => Need::Lock {
            name: name.map(Cow::into_owned),
            or_read: false,
        },
        (Endpoint::Status, Some(id)) => lock(&id, true),
        (Endpoint::Status, None) => Need::Read,
        (_, Some(id)) => lock(&id, false),
        // A release or renewal without an id is a 400.
        (_, None) => Need::Nothing,
    }
}

/// `/locks/{resource}` (take) and `/locks/{resource}/{uid}` (look, or release): the resource is in
/// the path, and the dialect answers 404 for a uid that is not that resource's.
fn hal_lock(req: &Request, rest: &str) -> Need {
    let resource = rest.split('/').next().unwrap_or_default();
    let Ok(resource) = path_segment(resource) else {
        return Need::Nothing;
    };
    if resource.is_empty() {
        return Need::Nothing;
    }
    lock(&resource, req.method() == "GET" || req.method() == "HEAD")
}

/// `/v1/locks…`: the lock's name is in the path of every request of one lock, and the dialect
/// answers 404 for a request number that is not that lock's.
fn request_queue(req: &Request, parts: &[String]) -> Need {
    let looking = matches!(req.method(), "GET" | "HEAD");
    match parts {
        [l] if l == "locks" => Need::Read,
        [l, name, ..] if l == "locks" => lock(name, looking),
        _ => Need::Nothing,
    }
}

fn gates(services: Vec<String>, or_read: bool) -> Need {
    Need::Gates { services, or_read }
}

fn gatekeeper(ctx: &Ctx, req: &Request, parts: &[String]) -> Need {
    let looking = matches!(req.method(), "GET" | "HEAD");
    match parts {
        [s] if s == "services" && looking => Need::Read,
        [s] if s == "services" => test_and_set(ctx, req),
        [s, service, ..] if s == "services" => gates(vec![service.clone()], looking),
        [t, id] if t == "tickets" => match Uuid::parse_str(id) {
            Ok(id) => ticket_services(ctx, id).map_or(Need::Nothing, |s| gates(s, false)),
            Err(_) => Need::Nothing,
        },
        _ => Need::Nothing,
    }
}

/// `PUT /api/services`: every service it names, and those of a live ticket it presents (or finds
/// again by its proposed id), whose gates it would enter or keep.
fn test_and_set(ctx: &Ctx, req: &Request) -> Need {
    let Ok(params) = Params::parse_json_body(req.header("content-type"), &req.body) else {
        return Need::Nothing;
    };
    let Some(Value::Object(named)) = params.get("services") else {
        return Need::Nothing;
    };
    let mut services: Vec<String> = named.keys().cloned().collect();
    for field in ["ticket", "new_ticket"] {
        let ticket = params
            .get(field)
            .and_then(Value::as_str)
            .and_then(|t| Uuid::parse_str(t).ok());
        if let Some(more) = ticket.and_then(|t| ticket_services(ctx, t)) {
            services.extend(more);
        }
    }
    services.sort();
    services.dedup();
    gates(services, false)
}

/// The services of a live ticket's gates; `None` for a ticket that does not exist.
fn ticket_services(ctx: &Ctx, ticket: Uuid) -> Option<Vec<String>> {
    // Read as the request's own reads are (with `--store`, caught up first): a ticket that this
    // server has not seen yet must not pass unchecked.
    let view = ctx.read(|e| e.ticket(ticket))?;
    let mut services: Vec<String> = view.gates.into_iter().map(|(s, _)| s).collect();
    services.dedup();
    Some(services)
}
