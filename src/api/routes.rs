//! The route table: which API owns a path (by its first segment), the words its errors are in, and
//! the handler it goes to. The router, the metrics' labels and the 404/405 answers all read it.
use std::sync::Arc;

use super::ctx::{Ctx, Handled};
use super::replies::{not_found, words_of};
use super::scopes::Caller;
use super::shared::{Delivery, Net, Shared, Slot};
use super::webmutex::Endpoint;
use super::{dashboard, gatekeeper, hal, identity, pages, request_queue, webmutex};
use crate::host::DirectGrant;
use crate::http::{Request, Response, Words};
use crate::observe::metrics::Api;

/// One route: a path's first segment, the API that owns it, and its handler (given what follows
/// the first segment).
struct Route {
    first: &'static str,
    api: Api,
    handle: fn(&mut Ctx, &str) -> Handled,
}

const ROUTES: &[Route] = &[
    Route {
        first: "grab",
        api: Api::WebMutex,
        handle: |ctx, rest| webmutex::handle(ctx, Endpoint::Grab, rest),
    },
    Route {
        first: "release",
        api: Api::WebMutex,
        handle: |ctx, rest| webmutex::handle(ctx, Endpoint::Release, rest),
    },
    Route {
        first: "renew",
        api: Api::WebMutex,
        handle: |ctx, rest| webmutex::handle(ctx, Endpoint::Renew, rest),
    },
    Route {
        first: "status",
        api: Api::WebMutex,
        handle: |ctx, rest| webmutex::handle(ctx, Endpoint::Status, rest),
    },
    Route {
        first: "reserve",
        api: Api::WebMutex,
        handle: |ctx, rest| webmutex::handle(ctx, Endpoint::Reserve, rest),
    },
    Route {
        first: "break",
        api: Api::WebMutex,
        handle: |ctx, rest| webmutex::handle(ctx, Endpoint::Break, rest),
    },
    Route {
        first: "locks",
        api: Api::Hal,
        handle: |ctx, rest| match rest {
            "" => Handled::Respond(not_found(ctx.req)),
            rest => hal::locks(ctx, rest),
        },
    },
    Route {
        first: "resources",
        api: Api::Hal,
        handle: hal::resources,
    },
    Route {
        first: "v1",
        api: Api::RequestQueue,
        handle: request_queue::handle,
    },
    Route {
        first: "api",
        api: Api::Gatekeeper,
        handle: gatekeeper::handle,
    },
    Route {
        first: "metrics",
        api: Api::Other,
        handle: |ctx, rest| {
            let open = ctx.net.open_connections();
            page(ctx, rest, |ctx| pages::metrics(ctx.shared, open, ctx.req))
        },
    },
    Route {
        first: "events",
        api: Api::Other,
        handle: |ctx, rest| page(ctx, rest, |ctx| pages::events(&ctx.shared.recent, ctx.req)),
    },
    Route {
        first: "history",
        api: Api::Other,
        handle: |ctx, rest| {
            page(ctx, rest, |ctx| {
                pages::history(&ctx.shared.lock_stats.history, ctx.req)
            })
        },
    },
    Route {
        first: "",
        api: Api::Other,
        handle: |ctx, rest| {
            page(ctx, rest, |ctx| {
                identity::answer(&ctx.shared.identity, ctx.req)
            })
        },
    },
];

/// A page at one path, with nothing below it.
fn page(ctx: &Ctx, rest: &str, answer: impl FnOnce(&Ctx) -> Response) -> Handled {
    Handled::Respond(match rest {
        "" => answer(ctx),
        _ => not_found(ctx.req),
    })
}

/// A path split at its first segment: the segment, and what follows its slash.
fn split(path: &str) -> (&str, &str) {
    let path = path.trim_start_matches('/');
    match memchr::memchr(b'/', path.as_bytes()) {
        // `/` is one byte of its own in UTF-8, so both sides are whole text.
        Some(at) => (&path[..at], &path[at + 1..]),
        None => (path, ""),
    }
}

fn route_of(path: &str) -> Option<&'static Route> {
    let (first, _) = split(path);
    ROUTES.iter().find(|r| r.first == first)
}

/// The API that owns `path` (`Other` for the pages and for paths nobody owns).
pub fn api_of(path: &str) -> Api {
    route_of(path).map_or(Api::Other, |r| r.api)
}

/// Who sent `req`, if it may be answered at all: the checks every request passes before its API
/// that need nothing of its body: access (`--auth-file`, a 401) and the cross-site check.
fn admitted(shared: &Shared, req: &Request, words: Words) -> Result<Caller, Response> {
    let secrets = shared.access.current();
    let caller = super::auth::check_access(secrets.as_deref(), shared.admin.as_ref(), req, words)?;
    // A page on another site must not change anything through its visitor's browser.
    match super::origin::check(req, words) {
        Some(refusal) => Err(refusal),
        None => Ok(caller),
    }
}

/// A request whose client waits for `100 Continue`: refused before its body is sent if it would be
/// refused after (a missing or wrong secret, a cross-site request).
pub fn before_body(shared: &Shared, req: &Request) -> Option<Response> {
    if dashboard::wanted(req) {
        return None;
    }
    admitted(shared, req, words_of(api_of(req.path()))).err()
}

/// Sends `req` to the API that owns its path, after the checks every request passes: access
/// (`serve --auth-file`) and the cross-site check, in the words of the API addressed.
pub fn route(
    net: &Net,
    slot: &Arc<Slot>,
    req: &Request,
    deliveries: &mut Vec<Delivery>,
    grant: &mut Option<DirectGrant>,
) -> Handled {
    let route = route_of(req.path());
    let words = words_of(route.map_or(Api::Other, |r| r.api));
    // The page itself holds nothing (no state, no secret): it is served to anyone, and asks for the
    // secret of `--auth-file` when the API answers its first request with 401.
    if dashboard::wanted(req) {
        return Handled::Respond(dashboard::page());
    }
    let caller = match admitted(&net.handler, req, words) {
        Ok(caller) => caller,
        Err(refusal) => return Handled::Respond(refusal),
    };
    let Some(route) = route else {
        return Handled::Respond(not_found(req));
    };
    let (first, rest) = split(req.path());
    let mut ctx = Ctx::new(net, slot, req, deliveries, grant, caller);
    // An identity's scopes, once its request is known to be this server's to answer.
    let refusal = match ctx.caller.is_limited() {
        true => super::scopes::refusal(
            &ctx.caller,
            &super::needs::of(&ctx, req, first, rest),
            words,
        ),
        false => None,
    };
    let handled = match refusal {
        Some(refusal) => Handled::Respond(refusal),
        None => (route.handle)(&mut ctx, rest),
    };
    // With `--store`, etcd may fail the request wherever it needs it: then it is refused whole.
    match (ctx.failure(), handled) {
        (Some(failure), Handled::Respond(_)) => {
            Handled::Respond(Response::refusal(words, 503, failure.to_string()))
        }
        (_, handled) => handled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Words;

    #[test]
    fn every_path_has_one_owner_and_its_words() {
        let cases = [
            ("/grab", Api::WebMutex, Words::Fail),
            ("/status/db", Api::WebMutex, Words::Fail),
            ("/break", Api::WebMutex, Words::Fail),
            ("/locks/db", Api::Hal, Words::Error),
            ("/resources/db", Api::Hal, Words::Error),
            ("/v1/locks/db", Api::RequestQueue, Words::Error),
            ("/api/services", Api::Gatekeeper, Words::Error),
            ("/metrics", Api::Other, Words::Fail),
            ("/", Api::Other, Words::Fail),
            ("/nowhere", Api::Other, Words::Fail),
            ("/grabber", Api::Other, Words::Fail),
        ];
        for (path, api, words) in cases {
            assert_eq!(api_of(path), api, "{path}");
            assert_eq!(words_of(api_of(path)), words, "{path}");
        }
    }

    #[test]
    fn the_table_names_each_first_segment_once() {
        for (i, a) in ROUTES.iter().enumerate() {
            assert!(
                ROUTES[i + 1..].iter().all(|b| b.first != a.first),
                "{} twice",
                a.first
            );
        }
    }
}
