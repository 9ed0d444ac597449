//! Gates: services, setting gates by hand, and the atomic test-and-set. (Queues, expiry, polls and
//! watchers are in `gate_queue` and `gate_wait`.)

use super::*;
use crate::engine::{
    GateChange, GateRefusal, GateReply, GateState, GateView, Refusal, TICKET_TTL_MS, TicketView,
};

pub(super) fn create(service: &str, environments: &[&str]) -> Op {
    Op::CreateService {
        service: service.to_owned(),
        group: format!("team of {service}"),
        environments: environments.iter().map(|e| (*e).to_owned()).collect(),
    }
}

pub(super) fn set(service: &str, env: &str, state: Option<GateState>, message: Option<&str>) -> Op {
    Op::SetGate {
        service: service.to_owned(),
        environment: env.to_owned(),
        state,
        message: message.map(str::to_owned),
    }
}

pub(super) fn close(service: &str, env: &str) -> Op {
    set(service, env, Some(GateState::Closed), None)
}

pub(super) fn open(service: &str, env: &str) -> Op {
    set(service, env, Some(GateState::Open), None)
}

fn names(gates: &[(&str, &str)]) -> Vec<(String, String)> {
    gates
        .iter()
        .map(|(s, e)| ((*s).to_owned(), (*e).to_owned()))
        .collect()
}

/// A test-and-set without a ticket, creating ticket `token(new)`.
pub(super) fn take(gates: &[(&str, &str)], new: u128, queue: bool, wait: Wait) -> Op {
    Op::TestAndSet {
        gates: names(gates),
        ticket: None,
        new_ticket: token(new),
        queue,
        wait,
        ticket_ttl_ms: None,
        holder: format!("ticket {new}"),
    }
}

/// A test-and-set presenting ticket `token(ticket)`. Its `new_ticket` is a fresh id nobody uses.
pub(super) fn present(gates: &[(&str, &str)], ticket: u128, queue: bool, wait: Wait) -> Op {
    Op::TestAndSet {
        gates: names(gates),
        ticket: Some(token(ticket)),
        new_ticket: token(999_999),
        queue,
        wait,
        ticket_ttl_ms: None,
        holder: String::new(),
    }
}

pub(super) fn delete_ticket(ticket: u128) -> Op {
    Op::DeleteTicket {
        ticket: token(ticket),
    }
}

pub(super) fn watch_gate(service: &str, env: &str, wait: Wait) -> Op {
    Op::WatchGate {
        service: service.to_owned(),
        environment: env.to_owned(),
        wait,
    }
}

pub(super) fn gate_reply(outcome: &Outcome) -> &GateReply {
    match &outcome.reply {
        Reply::Gate(reply) => reply,
        other => panic!("expected a gate reply, got {other:?}"),
    }
}

/// The ticket of an `Ok` reply.
pub(super) fn ok(outcome: &Outcome) -> TicketView {
    match gate_reply(outcome) {
        GateReply::Ok(ticket) => ticket.clone(),
        other => panic!("expected ok, got {other:?}"),
    }
}

/// The ticket of a `Queued` reply.
pub(super) fn in_queue(outcome: &Outcome) -> TicketView {
    match gate_reply(outcome) {
        GateReply::Queued(ticket) => ticket.clone(),
        other => panic!("expected queue, got {other:?}"),
    }
}

pub(super) fn gate(engine: &Engine, service: &str, env: &str) -> GateView {
    let view = engine.service(service).expect("the service exists");
    view.environments.get(env).expect("the gate exists").clone()
}

/// A gate's queue as test token numbers.
pub(super) fn queue_of(engine: &Engine, service: &str, env: &str) -> Vec<u128> {
    let queue = gate(engine, service, env).queue;
    queue.into_iter().map(|id| id.as_u128()).collect()
}

/// An engine with services "s" (gates a, b, c) and "t" (gate x).
pub(super) fn two_services() -> Engine {
    let mut engine = Engine::new();
    run(&mut engine, 0, create("s", &["a", "b", "c"]));
    run(&mut engine, 0, create("t", &["x"]));
    engine
}

#[test]
fn a_service_is_created_open_refused_twice_and_deleted() {
    let mut engine = Engine::new();
    let outcome = run(&mut engine, 5, create("svc", &["live", "test", "live"]));
    assert_eq!(*gate_reply(&outcome), GateReply::Created);
    let view = engine.service("svc").expect("created");
    assert_eq!(
        (view.name.as_str(), view.group.as_str()),
        ("svc", "team of svc")
    );
    assert_eq!(
        view.environments.keys().collect::<Vec<_>>(),
        ["live", "test"]
    );
    let live = &view.environments["live"];
    assert_eq!(
        *live,
        GateView {
            state: GateState::Open,
            closed_by_hand: false,
            held_by: None,
            // Stamped at its creation, as in the original service.
            state_timestamp: Some(5),
            message: String::new(),
            message_timestamp: None,
            queue: vec![],
            queue_holders: vec![],
        }
    );
    let again = run(&mut engine, 6, create("svc", &["other"]));
    assert_eq!(
        *gate_reply(&again),
        GateReply::Refused(GateRefusal::ServiceExists)
    );
    assert!(gate_reply(&run(&mut engine, 6, create("abc", &[]))) == &GateReply::Created);
    let all: Vec<String> = engine.services().into_iter().map(|s| s.name).collect();
    assert_eq!(all, ["abc", "svc"], "sorted by name");

    let delete = Op::DeleteService {
        service: "svc".into(),
        keep_other_gates: true,
    };
    assert_eq!(
        *gate_reply(&run(&mut engine, 7, delete.clone())),
        GateReply::Deleted
    );
    assert!(engine.service("svc").is_none());
    assert_eq!(
        *gate_reply(&run(&mut engine, 8, delete)),
        GateReply::Refused(GateRefusal::UnknownService)
    );
    assert_eq!(engine.next_deadline(), None);
}

#[test]
fn setting_state_and_message_stamps_only_what_changed() {
    let mut engine = two_services();
    let outcome = run(
        &mut engine,
        10,
        set("s", "a", Some(GateState::Closed), Some("testing -Jens")),
    );
    assert_eq!(*gate_reply(&outcome), GateReply::Set);
    let a = gate(&engine, "s", "a");
    assert_eq!((a.state, a.closed_by_hand), (GateState::Closed, true));
    assert_eq!(
        (a.state_timestamp, a.message_timestamp),
        (Some(10), Some(10))
    );
    assert_eq!(a.message, "testing -Jens");

    // Only a message: the state stays.
    run(&mut engine, 20, set("s", "a", None, Some("still testing")));
    let a = gate(&engine, "s", "a");
    assert_eq!((a.state, a.state_timestamp), (GateState::Closed, Some(10)));
    assert_eq!(
        (a.message.as_str(), a.message_timestamp),
        ("still testing", Some(20))
    );

    // Closing a closed gate again changes nothing; the same message neither.
    run(
        &mut engine,
        30,
        set("s", "a", Some(GateState::Closed), Some("still testing")),
    );
    let a = gate(&engine, "s", "a");
    assert_eq!(
        (a.state_timestamp, a.message_timestamp),
        (Some(10), Some(20))
    );

    // "" clears the message (a change, stamped); opening stamps the state.
    run(
        &mut engine,
        40,
        set("s", "a", Some(GateState::Open), Some("")),
    );
    let a = gate(&engine, "s", "a");
    assert_eq!((a.state, a.state_timestamp), (GateState::Open, Some(40)));
    assert_eq!((a.message.as_str(), a.message_timestamp), ("", Some(40)));
    // Neither: nothing happens, and it is still Set.
    assert_eq!(
        *gate_reply(&run(&mut engine, 50, set("s", "a", None, None))),
        GateReply::Set
    );
    assert_eq!(gate(&engine, "s", "a"), a);

    for (op, refusal) in [
        (close("nope", "a"), GateRefusal::UnknownService),
        (close("s", "nope"), GateRefusal::UnknownGate),
    ] {
        let outcome = run(&mut engine, 60, op);
        assert_eq!(*gate_reply(&outcome), GateReply::Refused(refusal));
    }
}

#[test]
fn test_and_set_takes_all_gates_or_none() {
    let mut engine = two_services();
    let t1 = ok(&run(
        &mut engine,
        10,
        take(&[("s", "a"), ("t", "x")], 1, false, Wait::No),
    ));
    assert_eq!(
        t1,
        TicketView {
            id: token(1),
            gates: vec![("s".into(), "a".into()), ("t".into(), "x".into())],
            granted: true,
            expires: None,
            updated: 10,
            holder: "ticket 1".into(),
        }
    );
    assert_eq!(engine.ticket(token(1)), Some(t1));
    for (svc, env) in [("s", "a"), ("t", "x")] {
        let view = gate(&engine, svc, env);
        assert_eq!(
            (view.state, view.closed_by_hand),
            (GateState::Closed, false)
        );
        assert_eq!((view.held_by, view.queue), (Some(token(1)), vec![token(1)]));
    }

    // Any gate taken: denied, nothing taken, no ticket.
    let denied = run(
        &mut engine,
        11,
        take(&[("s", "b"), ("s", "a")], 2, false, Wait::No),
    );
    assert_eq!(*gate_reply(&denied), GateReply::Denied);
    // Any gate closed by hand: the same.
    run(&mut engine, 12, close("s", "c"));
    let denied = run(
        &mut engine,
        13,
        take(&[("s", "b"), ("s", "c")], 3, false, Wait::No),
    );
    assert_eq!(*gate_reply(&denied), GateReply::Denied);
    // An unknown gate of a known service: denied, nothing taken, even with queue.
    let unknown = run(
        &mut engine,
        14,
        take(&[("s", "b"), ("s", "zz")], 4, true, Wait::No),
    );
    assert_eq!(*gate_reply(&unknown), GateReply::Denied);
    // An unknown service: refused.
    let unknown = run(
        &mut engine,
        15,
        take(&[("s", "b"), ("u", "b")], 5, true, Wait::No),
    );
    assert_eq!(
        *gate_reply(&unknown),
        GateReply::Refused(GateRefusal::UnknownService)
    );
    // Nothing named: nothing to take.
    assert_eq!(
        *gate_reply(&run(&mut engine, 16, take(&[], 6, true, Wait::No))),
        GateReply::Denied
    );
    assert_eq!(engine.ticket_count(), 1);
    assert!(gate(&engine, "s", "b").queue.is_empty());
    assert_eq!(gate(&engine, "s", "b").state, GateState::Open);

    // A proposed id that is a live ticket's: a retry whose first answer was lost. It is that ticket
    // presented again, with its own gates: no second ticket, and nothing else taken.
    let retry = run(&mut engine, 17, take(&[("s", "b")], 1, false, Wait::No));
    assert!(
        matches!(gate_reply(&retry), GateReply::Ok(t) | GateReply::Queued(t) if t.id == token(1))
            || *gate_reply(&retry) == GateReply::Denied,
        "{retry:?}"
    );
    assert_eq!(engine.ticket_count(), 1);
    assert!(gate(&engine, "s", "b").queue.is_empty());
}

#[test]
fn of_two_callers_racing_for_overlapping_gates_exactly_one_wins() {
    for queue in [false, true] {
        let mut engine = two_services();
        let first = run(
            &mut engine,
            10,
            take(&[("s", "a"), ("s", "b")], 1, queue, Wait::No),
        );
        let second = run(
            &mut engine,
            10,
            take(&[("s", "b"), ("s", "c")], 2, queue, Wait::No),
        );
        ok(&first);
        match (queue, gate_reply(&second)) {
            (false, GateReply::Denied) => assert_eq!(engine.ticket_count(), 1),
            (true, GateReply::Queued(t)) => assert!(!t.granted),
            (_, other) => panic!("the second won too: {other:?}"),
        }
        assert_eq!(gate(&engine, "s", "b").held_by, Some(token(1)));
        // The second took nothing: not even c, which was free.
        assert_eq!(gate(&engine, "s", "c").held_by, None);
    }
}

#[test]
fn a_granted_ticket_holds_until_deleted() {
    let mut engine = two_services();
    ok(&run(
        &mut engine,
        10,
        take(&[("s", "a")], 1, false, Wait::No),
    ));
    assert_eq!(
        engine.next_deadline(),
        None,
        "a granted ticket never expires"
    );
    run(&mut engine, 10 + 100 * TICKET_TTL_MS, Op::Tick);
    assert_eq!(gate(&engine, "s", "a").held_by, Some(token(1)));
    // Presented again: ok, the same grant (and its last use is stamped).
    let again = ok(&run(
        &mut engine,
        20 + 100 * TICKET_TTL_MS,
        present(&[], 1, false, Wait::No),
    ));
    assert!(again.granted && again.expires.is_none());

    let outcome = run(&mut engine, 30, delete_ticket(1));
    assert_eq!(outcome.reply, Reply::Gate(GateReply::Deleted));
    assert!(outcome.events.is_empty());
    assert_eq!(gate(&engine, "s", "a").state, GateState::Open);
    assert_eq!(engine.ticket(token(1)), None);
    let twice = run(&mut engine, 31, delete_ticket(1));
    assert_eq!(
        *gate_reply(&twice),
        GateReply::Refused(GateRefusal::UnknownTicket)
    );
    let gone = run(&mut engine, 32, present(&[("s", "a")], 1, true, Wait::No));
    assert_eq!(
        *gate_reply(&gone),
        GateReply::Refused(GateRefusal::UnknownTicket)
    );
}

#[test]
fn gates_and_locks_are_separate_namespaces() {
    let mut engine = Engine::new();
    run(&mut engine, 0, create("svc", &["env"]));
    ok(&run(
        &mut engine,
        1,
        take(&[("svc", "env")], 1, false, Wait::No),
    ));
    granted(&run(&mut engine, 2, grab("svc:env", 2, None, Wait::No)));
    granted(&run(&mut engine, 3, grab("svc/env", 3, None, Wait::No)));
    assert_eq!(engine.resource_count(), 2);
    // A ticket's id is not a lock's token.
    let foreign = run(&mut engine, 4, release("svc:env", 1));
    assert_eq!(foreign.reply, Reply::Refused(Refusal::WrongToken));
    // DeleteAll is the locks' own: the gate stays held.
    run(&mut engine, 5, Op::DeleteAll);
    assert_eq!(gate(&engine, "svc", "env").held_by, Some(token(1)));
    assert_eq!(engine.resource_count(), 0);
}

#[test]
fn updating_a_service_sets_its_group_and_gates_together_or_nothing() {
    let mut engine = two_services();
    let change = |env: &str, state: Option<GateState>, message: Option<&str>| GateChange {
        environment: env.to_owned(),
        state,
        message: message.map(str::to_owned),
    };
    let unknown_gate = Op::UpdateService {
        service: "s".into(),
        group: Some("team13".into()),
        gates: vec![
            change("a", Some(GateState::Closed), None),
            change("nope", None, None),
        ],
    };
    assert_eq!(
        *gate_reply(&run(&mut engine, 10, unknown_gate)),
        GateReply::Refused(GateRefusal::UnknownGate)
    );
    let s = engine.service("s").expect("s");
    assert_eq!(s.group, "team of s", "nothing changed");
    assert_eq!(s.environments["a"].state, GateState::Open);

    let update = Op::UpdateService {
        service: "s".into(),
        group: Some("team13".into()),
        gates: vec![
            change("a", Some(GateState::Closed), Some("testing")),
            change("b", None, Some("note")),
        ],
    };
    assert_eq!(*gate_reply(&run(&mut engine, 20, update)), GateReply::Set);
    let s = engine.service("s").expect("s");
    assert_eq!(s.group, "team13");
    let a = &s.environments["a"];
    assert_eq!((a.state, a.state_timestamp), (GateState::Closed, Some(20)));
    assert_eq!(a.message, "testing");
    let b = &s.environments["b"];
    assert_eq!((b.state, b.state_timestamp), (GateState::Open, Some(0)));
    assert_eq!(
        (b.message.as_str(), b.message_timestamp),
        ("note", Some(20))
    );

    let nobody = Op::UpdateService {
        service: "nosuch".into(),
        group: None,
        gates: vec![],
    };
    assert_eq!(
        *gate_reply(&run(&mut engine, 30, nobody)),
        GateReply::Refused(GateRefusal::UnknownService)
    );
}
