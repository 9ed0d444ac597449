//! The gatekeeper's tickets: the test-and-set over several gates (`PUT /api/services`, with its queue
//! and its long poll) and `DELETE /api/tickets/{id}`.
use serde_json::Value;
use uuid::Uuid;

use super::{MAX_WAIT_SECS, apply, body, invalid, ok, unexpected};
use crate::api::ctx::{Ctx, Handled};
use crate::api::gatekeeper_docs::{denied, gate_not_found, ticket_answer, ticket_not_found};
use crate::api::params::Params;
use crate::api::shared::responder_with;
use crate::engine::{Engine, GateRefusal, GateReply, Op, Reply, Wait};
use crate::host::Answer;
use crate::http::Response;
use crate::timefmt;

/// `PUT /api/services`: the atomic test-and-set over every named gate, with queueing and waiting.
pub(super) fn test_and_set(ctx: &mut Ctx) -> Handled {
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
    let ticket = match params.get("ticket") {
        None | Some(Value::Null) => Ok(None),
        // An id that is not a UUID cannot name a ticket: it does not exist, like any other unknown one.
        Some(Value::String(t)) => Uuid::parse_str(t).map(Some).map_err(|_| ticket_not_found()),
        Some(_) => Err(invalid("ticket must be a ticket id string")),
    };
    // *Extension*: the id a new ticket gets, proposed by the client, so that a retry of a call whose
    // answer was lost finds its ticket instead of making a second one.
    let new_ticket = match params.get("new_ticket") {
        None | Some(Value::Null) => Ok(crate::api::random::uuid()),
        Some(Value::String(t)) => {
            Uuid::parse_str(t).map_err(|_| invalid("new_ticket must be a UUID"))
        }
        Some(_) => Err(invalid("new_ticket must be a UUID")),
    };
    // Every service named must exist, even one named with no gates: else 404 `Gate not found`. But
    // a live ticket presented (or found again by its proposed id) is judged on its own gates, and
    // names the services it was made for: one deleted since took its gates from the ticket, which
    // lives on with the rest (`delete_service`), so its client, presenting it as it made it, must
    // reach it. Those names are left out of the command (which then names only services that
    // exist, and replays alike everywhere).
    let (unknown, live) = ctx.read(|e| {
        let unknown: std::collections::BTreeSet<String> = services
            .keys()
            .filter(|s| e.service(s).is_none())
            .cloned()
            .collect();
        let live = match (&ticket, &new_ticket) {
            (Ok(Some(id)), _) | (Ok(None), Ok(id)) => e.ticket(*id).is_some(),
            _ => false,
        };
        (unknown, live)
    });
    if !unknown.is_empty() && !live {
        return Handled::Respond(gate_not_found());
    }
    let mut gates = Vec::new();
    for (service, envs) in services {
        if unknown.contains(service) {
            continue;
        }
        // One gate may be named by itself, not in a list, as the original allows.
        let envs = match envs {
            Value::Array(envs) => envs.as_slice(),
            Value::String(_) => std::slice::from_ref(envs),
            _ => {
                return Handled::Respond(invalid(
                    "services must map service names to lists of gates",
                ));
            }
        };
        for env in envs {
            let Value::String(env) = env else {
                return Handled::Respond(invalid("gate names must be strings"));
            };
            gates.push((service.clone(), env.clone()));
        }
    }
    let ticket = match ticket {
        Ok(t) => t,
        Err(r) => return Handled::Respond(r),
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
    let new_ticket = match new_ticket {
        Ok(id) => id,
        Err(r) => return Handled::Respond(r),
    };
    // *Extension*: who asks (`user@host pid`), kept with a ticket this call creates.
    let holder = match crate::api::slots::holder_text(params.get("holder")) {
        // Unnamed: the `--auth-file` identity that asks, if any.
        Ok(h) if h.is_empty() => ctx.caller.name().unwrap_or_default().to_string(),
        Ok(h) => h,
        Err(e) => return Handled::Respond(invalid(&e)),
    };
    // A ticket needs no connection to stay (a queued one lives for its TTL), so no connection limit
    // bounds how many there are: a call that would make a new one is refused past a bound.
    if ticket.is_none() && !live && ctx.read(|e| e.ticket_count()) >= max_live_tickets() {
        return Handled::Respond(Response::error(
            503,
            format!(
                "too many live tickets ({}); try again later",
                max_live_tickets()
            ),
        ));
    }
    let base = ctx.base_url();
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
        let base = base.clone();
        // The ticket as the engine has it is taken under its lock; its document is made after.
        let take = |answer: &Answer, engine: &Engine| match answer {
            Answer::TicketGranted { ticket } | Answer::TicketPollEnded { ticket } => {
                Ok(engine.ticket(*ticket))
            }
            Answer::TicketEnded => Ok(None),
            other => Err(format!("unexpected end of a wait: {other:?}")),
        };
        responder_with(take, move |taken| match taken {
            Ok(Some(t)) if t.granted => ticket_answer("ok", &t, &base),
            Ok(Some(t)) => ticket_answer("queue", &t, &base),
            Ok(None) => denied(),
            Err(why) => Response::error(500, why),
        })
    };
    let reply = ctx.apply_parking(op, || responder);
    Handled::Respond(match reply {
        Reply::Gate(GateReply::Ok(t)) => ticket_answer("ok", &t, &base),
        Reply::Gate(GateReply::Queued(t)) => ticket_answer("queue", &t, &base),
        Reply::Gate(GateReply::Waiting { request, .. }) => return Handled::Parked(request),
        Reply::Gate(GateReply::Denied) => denied(),
        Reply::Gate(GateReply::Refused(GateRefusal::UnknownService)) => gate_not_found(),
        Reply::Gate(GateReply::Refused(GateRefusal::UnknownTicket)) => ticket_not_found(),
        other => unexpected(other),
    })
}

pub(super) fn delete_ticket(ctx: &mut Ctx, id: &str) -> Response {
    let Ok(ticket) = Uuid::parse_str(id) else {
        return ticket_not_found();
    };
    match apply(ctx, Op::DeleteTicket { ticket }) {
        Reply::Gate(GateReply::Deleted) => ok(),
        Reply::Gate(GateReply::Refused(_)) => ticket_not_found(),
        other => unexpected(other),
    }
}

/// Live tickets (holding or queued) at most, as the request-queue API bounds its live requests.
const MAX_LIVE_TICKETS: usize = 100_000;

/// `MAX_LIVE_TICKETS`, or `WEBLOCK_MAX_LIVE_TICKETS` from the environment: a test knob, so that a test
/// reaches the bound with a handful of tickets.
fn max_live_tickets() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| crate::knob::test_knob("WEBLOCK_MAX_LIVE_TICKETS", MAX_LIVE_TICKETS))
}
