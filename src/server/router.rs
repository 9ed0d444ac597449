//! Sends each request to the API dialect that owns its path.
use std::sync::Arc;

use super::Shared;
use super::conn::Slot;
use super::core::{self, Delivery, DirectGrant, Responder};
use super::http::{Request, Response, Words};
use super::metrics::Api;
use super::scopes::Caller;
use super::{
    dashboard, gatekeeper, hal, identity, lock_history, metrics, recent, request_queue, webmutex,
};
use crate::engine::{Op, Reply, RequestId};

/// What a dialect did with a request.
pub enum Handled {
    Respond(Response),
    /// The request waits for a lock; its connection is parked under this request id.
    Parked(RequestId),
}

/// What a dialect's handler gets: the request, and the means to park its connection.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub slot: &'a Arc<Slot>,
    pub req: &'a Request,
    /// Parked waiters a handler's change made due; answered once the connection is let go.
    pub deliveries: &'a mut Vec<Delivery>,
    /// A grant this request's change made, confirmed before its answer is written.
    pub grant: &'a mut Option<DirectGrant>,
    /// Who sent it (`--auth-file`): its name is the holder of a request that names none.
    pub caller: Caller,
}

impl Ctx<'_> {
    /// The base of the absolute URLs in this request's answer (`base_url.rs`).
    pub fn base_url(&self) -> String {
        self.shared.urls.base(self.req)
    }
}

impl Ctx<'_> {
    /// Applies `op`; its answers to parked waiters go with the request's, and a grant to this
    /// request is remembered so that its answer is confirmed before it is written.
    pub fn apply(&mut self, op: Op) -> Reply {
        let (reply, deliveries) = self.shared.core.apply(op);
        self.note(reply, deliveries)
    }

    /// `apply`, and if the request has to wait, its connection is parked (see `Core::apply_parking`).
    pub fn apply_parking(&mut self, op: Op, responder: Responder) -> Reply {
        let (reply, deliveries) = self.shared.core.apply_parking(op, self.slot, responder);
        self.note(reply, deliveries)
    }

    fn note(&mut self, reply: Reply, deliveries: Vec<Delivery>) -> Reply {
        self.deliveries.extend(deliveries);
        if let Some(grant) = DirectGrant::of(&reply, crate::timefmt::now_ms()) {
            *self.grant = Some(grant);
        }
        reply
    }
}

pub fn route(
    shared: &Shared,
    slot: &Arc<Slot>,
    req: &Request,
    deliveries: &mut Vec<Delivery>,
    grant: &mut Option<DirectGrant>,
) -> Handled {
    let path = req.path();
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let first = segments.next().unwrap_or("");
    let rest = segments.next().unwrap_or("");
    // Access control (`serve --auth-file`) before anything else, in the words of the API addressed.
    let words = match first {
        "locks" | "resources" | "v1" | "api" => Words::Error,
        _ => Words::Fail,
    };
    // The page itself holds nothing (no state, no secret): it is served to anyone, and asks for the
    // secret of `--auth-file` when the API answers its first request with 401.
    if dashboard::wanted(req) {
        return Handled::Respond(dashboard::page());
    }
    let secrets = shared.access.current();
    let caller =
        match super::auth::check_access(secrets.as_deref(), shared.admin.as_ref(), req, words) {
            Ok(caller) => caller,
            Err(refusal) => return Handled::Respond(refusal),
        };
    // A page on another site must not change anything through its visitor's browser.
    if let Some(refusal) = super::origin::check(req, words) {
        return Handled::Respond(refusal);
    }
    // With `--store`, etcd may fail the request wherever it needs it: then it is refused whole.
    core::begin_request();
    // An identity's scopes, once its request is known to be this server's to answer.
    if caller.is_limited() {
        let need = super::needs::of(shared, req, first, rest);
        if let Some(refusal) = super::scopes::refusal(&caller, &need, words) {
            core::end_request();
            return Handled::Respond(refusal);
        }
    }
    let mut ctx = Ctx {
        shared,
        slot,
        req,
        deliveries,
        grant,
        caller,
    };
    let handled = dispatch(&mut ctx, first, rest);
    match (core::end_request(), handled) {
        (Some(reason), Handled::Respond(_)) => {
            Handled::Respond(Response::refusal(words, 503, reason))
        }
        (_, handled) => handled,
    }
}

fn dispatch(ctx: &mut Ctx, first: &str, rest: &str) -> Handled {
    if let Some(endpoint) = webmutex::Endpoint::parse(first) {
        return webmutex::handle(ctx, endpoint, rest);
    }
    match first {
        "locks" if !rest.is_empty() => hal::locks(ctx, rest),
        "resources" => hal::resources(ctx, rest),
        "v1" => request_queue::handle(ctx, rest),
        "api" => gatekeeper::handle(ctx, rest),
        "metrics" if rest.is_empty() => Handled::Respond(metrics::answer(ctx.shared, ctx.req)),
        "events" if rest.is_empty() => {
            Handled::Respond(recent::answer(&ctx.shared.recent, ctx.req))
        }
        "history" if rest.is_empty() => Handled::Respond(lock_history::answer(
            &ctx.shared.lock_stats.history,
            ctx.req,
        )),
        "" => Handled::Respond(identity::answer(&ctx.shared.identity, ctx.req)),
        _ => Handled::Respond(not_found(ctx.req)),
    }
}

/// One segment of a path (an id, a name, a number) percent-decoded, the same way for every API
/// (`shop%3Alive` is `shop:live`; `+` stays a plus); a bad escape or bytes that are not UTF-8 are a
/// 400 in the API's `words`.
pub fn decode_segment(raw: &str, words: Words) -> Result<String, Response> {
    if !raw.contains('%') {
        return Ok(raw.to_string());
    }
    super::params::path_segment(raw).map_err(|e| Response::refusal(words, 400, e.to_string()))
}

/// The words an API's errors are in.
pub fn words_of(api: Api) -> Words {
    match api {
        Api::Hal | Api::RequestQueue | Api::Gatekeeper => Words::Error,
        Api::WebMutex | Api::Other => Words::Fail,
    }
}

/// 404 for a path no API owns (in WebMutex's words, as outside any dialect), or one inside a dialect.
pub fn not_found(req: &Request) -> Response {
    not_found_in(req, Words::Fail)
}

pub fn not_found_in(req: &Request, words: Words) -> Response {
    Response::refusal(
        words,
        404,
        format!("no such endpoint: {} {}", req.method(), req.path()),
    )
}

/// 405 with the `Allow` header, or `None` when `allowed` lists the request's method (HEAD goes with GET).
pub fn check_method(req: &Request, allowed: &[&str], words: Words) -> Option<Response> {
    let method = req.method();
    let ok = allowed.contains(&method) || (method == "HEAD" && allowed.contains(&"GET"));
    if ok {
        return None;
    }
    let mut list: Vec<&str> = allowed.to_vec();
    if allowed.contains(&"GET") {
        list.push("HEAD");
    }
    let list = list.join(", ");
    Some(
        Response::refusal(
            words,
            405,
            format!(
                "method {method} is not allowed on {}; use {list}",
                req.path()
            ),
        )
        .with_header("Allow", list),
    )
}
