//! Sends each request to the API dialect that owns its path.
use std::cell::RefCell;
use std::sync::Arc;

use super::Shared;
use super::metrics::Api;
use super::{Delivery, Net, Responder, Slot};
use super::{
    dashboard, gatekeeper, hal, identity, lock_history, metrics, recent, request_queue, webmutex,
};
use crate::engine::{Engine, Op, Refusal, Reply};
use crate::host::{DirectGrant, HostError, Session};
use crate::http::{Request, Response, Words};

/// What a dialect did with a request: an answer, or its connection parked under a request id.
pub type Handled = crate::http::Handled<Shared>;

/// What a dialect's handler gets: the request, and the means to park its connection.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    /// The transport the request came by.
    pub net: &'a Net,
    pub slot: &'a Arc<Slot>,
    pub req: &'a Request,
    /// Parked waiters a handler's change made due; answered once the connection is let go.
    pub deliveries: &'a mut Vec<Delivery>,
    /// A grant this request's change made, confirmed before its answer is written.
    pub grant: &'a mut Option<DirectGrant>,
    /// What this request has learned of the store (with `--store`, whether it caught up).
    /// (In cells: reading needs only a shared `Ctx`.)
    session: RefCell<Session>,
    /// Why the host failed this request, if it did: its answer is then a 503 saying so, whatever
    /// the dialect made of it (nothing more is asked of the host for it).
    failed: RefCell<Option<HostError>>,
}

impl Ctx<'_> {
    /// Applies `op`; its answers to parked waiters go with the request's, and a grant to this
    /// request is remembered so that its answer is confirmed before it is written.
    pub fn apply(&mut self, op: Op) -> Reply {
        if self.failed.borrow().is_some() {
            return refused();
        }
        let applied = self.shared.core.apply(self.session.get_mut(), op);
        self.note(applied)
    }

    /// `apply`, and if the request has to wait, its connection is parked (see `Core::apply_parking`).
    pub fn apply_parking(&mut self, op: Op, responder: Responder) -> Reply {
        if self.failed.borrow().is_some() {
            return refused();
        }
        let slot = self.slot.clone();
        let applied = (self.shared.core).apply_parking(self.session.get_mut(), op, slot, responder);
        self.note(applied)
    }

    /// Reads the engine's state (with `--store`, caught up with the shared log first).
    pub fn read<R>(&self, f: impl FnOnce(&Engine) -> R) -> R {
        let mut failed = self.failed.borrow_mut();
        if failed.is_none()
            && let Err(e) = self.shared.core.caught_up(&mut self.session.borrow_mut())
        {
            *failed = Some(e);
        }
        // After a failure the answer is replaced by a 503: the state as this server has it only
        // lets the dialect finish.
        self.shared.core.view(f)
    }

    fn note(&mut self, applied: Result<(Reply, Vec<Delivery>), HostError>) -> Reply {
        let (reply, deliveries) = match applied {
            Ok(applied) => applied,
            Err(e) => {
                *self.failed.get_mut() = Some(e);
                return refused();
            }
        };
        self.deliveries.extend(deliveries);
        if let Some(grant) = DirectGrant::of(&reply, crate::timefmt::now_ms()) {
            *self.grant = Some(grant);
        }
        reply
    }
}

pub fn route(
    net: &Net,
    slot: &Arc<Slot>,
    req: &Request,
    deliveries: &mut Vec<Delivery>,
    grant: &mut Option<DirectGrant>,
) -> Handled {
    let shared = &net.handler;
    let mut ctx = Ctx {
        shared,
        net,
        slot,
        req,
        deliveries,
        grant,
        session: RefCell::default(),
        failed: RefCell::default(),
    };
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
    if let Some(refusal) =
        super::auth::check_access(shared.access.as_ref(), shared.admin.as_ref(), req, words)
    {
        return Handled::Respond(refusal);
    }
    // A page on another site must not change anything through its visitor's browser.
    if let Some(refusal) = super::origin::check(req, words) {
        return Handled::Respond(refusal);
    }
    // With `--store`, etcd may fail the request wherever it needs it: then it is refused whole.
    let handled = dispatch(&mut ctx, first, rest);
    match (ctx.failed.into_inner(), handled) {
        (Some(failure), Handled::Respond(_)) => {
            Handled::Respond(Response::refusal(words, 503, failure.to_string()))
        }
        (_, handled) => handled,
    }
}

/// What a call the host failed gives the dialect: its answer is replaced by the 503 anyway.
fn refused() -> Reply {
    Reply::Refused(Refusal::UnknownRequest)
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
        "metrics" if rest.is_empty() => Handled::Respond(metrics::answer(
            ctx.shared,
            ctx.net.open_connections(),
            ctx.req,
        )),
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
