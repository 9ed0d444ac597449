//! Waiting on the server: polled tickets (the `wait` extension), gate watchers (`weblock wait`),
//! hang-ups and administrators, and deleting a service under them.

use super::gates::*;
use super::*;
use crate::engine::{Event, GateRefusal, GateReply, GateState, TICKET_TTL_MS, TicketView};

/// The ticket and request of a `Waiting` reply.
fn waiting(outcome: &Outcome) -> (TicketView, RequestId) {
    match gate_reply(outcome) {
        GateReply::Waiting { ticket, request } => (ticket.clone(), *request),
        other => panic!("expected waiting, got {other:?}"),
    }
}

fn watching_gate(outcome: &Outcome) -> RequestId {
    match gate_reply(outcome) {
        GateReply::Watching { request } => *request,
        other => panic!("expected watching, got {other:?}"),
    }
}

#[test]
fn a_polled_ticket_is_granted_at_its_turn_with_an_event() {
    let mut engine = two_services();
    ok(&run(
        &mut engine,
        0,
        take(&[("s", "a")], 1, false, Wait::No),
    ));
    let (ticket, request) = waiting(&run(
        &mut engine,
        10,
        take(&[("s", "a")], 2, true, Wait::Until(30_010)),
    ));
    assert_eq!(
        request,
        RequestId(1),
        "polls take ids from the engine's counter"
    );
    assert_eq!(ticket.expires, Some(30_010 + TICKET_TTL_MS));
    assert_eq!(engine.next_deadline(), Some(30_010), "the poll's deadline");

    let outcome = run(&mut engine, 100, delete_ticket(1));
    assert_eq!(outcome.reply, Reply::Gate(GateReply::Deleted));
    assert_eq!(
        outcome.events,
        [Event::TicketGranted {
            ticket: token(2),
            request
        }]
    );
    let now = engine.ticket(token(2)).expect("granted");
    assert!(now.granted && now.expires.is_none());
    assert_eq!(engine.next_deadline(), None);
    // Its client, answered, calls again: ok.
    ok(&run(
        &mut engine,
        101,
        present(&[("s", "a")], 2, true, Wait::Until(5_000)),
    ));
    // And a lock's Cancel of the spent request id finds nothing.
    let spent = run(&mut engine, 102, cancel(request));
    assert_eq!(
        spent.reply,
        Reply::Refused(crate::engine::Refusal::UnknownRequest)
    );
}

#[test]
fn a_poll_ends_at_its_deadline_and_the_ticket_expires_from_then() {
    let mut engine = two_services();
    run(&mut engine, 0, close("s", "a"));
    let (_, request) = waiting(&run(
        &mut engine,
        10,
        take(&[("s", "a")], 1, true, Wait::Until(1_000)),
    ));
    let ended = run(&mut engine, 1_000, Op::Tick);
    assert_eq!(
        ended.events,
        [Event::TicketPollEnded {
            ticket: token(1),
            request
        }]
    );
    assert_eq!(
        engine.ticket(token(1)).and_then(|t| t.expires),
        Some(1_000 + TICKET_TTL_MS)
    );
    // Not polled any more: reopening grants nobody.
    assert!(run(&mut engine, 2_000, open("s", "a")).events.is_empty());
    run(&mut engine, 2_001, close("s", "a"));
    // A late Tick: the poll's end and the expiry both come out, in order.
    let mut late = two_services();
    run(&mut late, 0, close("s", "a"));
    waiting(&run(
        &mut late,
        10,
        take(&[("s", "a")], 1, true, Wait::Until(1_000)),
    ));
    let both = run(&mut late, 10 * TICKET_TTL_MS, Op::Tick);
    assert_eq!(
        both.events,
        [
            Event::TicketPollEnded {
                ticket: token(1),
                request
            },
            Event::TicketExpired { ticket: token(1) }
        ]
    );
}

#[test]
fn a_new_call_ends_the_poll_before_it() {
    let mut engine = two_services();
    run(&mut engine, 0, close("s", "a"));
    let (_, first) = waiting(&run(
        &mut engine,
        10,
        take(&[("s", "a")], 1, true, Wait::Until(5_000)),
    ));
    let again = run(
        &mut engine,
        20,
        present(&[("s", "a")], 1, true, Wait::Until(6_000)),
    );
    let (_, second) = waiting(&again);
    assert_eq!(
        again.events,
        [Event::TicketPollEnded {
            ticket: token(1),
            request: first
        }]
    );
    assert_ne!(first, second);
    assert_eq!(engine.next_deadline(), Some(6_000));
    // A call without wait: the poll ends and the ticket is queued, expiring from now.
    let plain = run(&mut engine, 30, present(&[("s", "a")], 1, true, Wait::No));
    assert_eq!(in_queue(&plain).expires, Some(30 + TICKET_TTL_MS));
    assert_eq!(plain.events.len(), 1);
    // A deadline already past is no wait.
    in_queue(&run(
        &mut engine,
        40,
        present(&[("s", "a")], 1, true, Wait::Until(40)),
    ));
    // Without queue, a wait is no wait either.
    let denied = run(
        &mut engine,
        50,
        present(&[("s", "a")], 1, false, Wait::Until(9_000)),
    );
    assert_eq!(*gate_reply(&denied), GateReply::Denied);
    assert_eq!(engine.next_deadline(), Some(50 + TICKET_TTL_MS));
}

#[test]
fn a_hung_up_poll_is_never_granted_and_an_administrator_ends_the_ticket() {
    let mut engine = two_services();
    run(&mut engine, 0, close("s", "a"));
    let (_, request) = waiting(&run(
        &mut engine,
        10,
        take(&[("s", "a")], 1, true, Wait::Forever),
    ));
    assert_eq!(engine.ticket(token(1)).and_then(|t| t.expires), None);
    assert_eq!(engine.next_deadline(), None, "a poll without deadline");
    // Its client hangs up: the poll ends silently; the ticket stays queued, expiring from now.
    let gone = run(&mut engine, 20, cancel(request));
    assert_eq!((gone.reply, gone.events.len()), (Reply::Cancelled, 0));
    assert_eq!(
        engine.ticket(token(1)).and_then(|t| t.expires),
        Some(20 + TICKET_TTL_MS)
    );
    assert!(
        run(&mut engine, 30, open("s", "a")).events.is_empty(),
        "not granted on its own"
    );
    assert_eq!(gate(&engine, "s", "a").held_by, None);

    // An administrator's cancel of a poll ends the whole ticket, and its queues move on: 3 waited
    // behind 2 on b (2 waits for c too), and is polled.
    run(&mut engine, 40, close("s", "c"));
    let (_, r2) = waiting(&run(
        &mut engine,
        41,
        take(&[("s", "b"), ("s", "c")], 2, true, Wait::Forever),
    ));
    let (_, r3) = waiting(&run(
        &mut engine,
        42,
        take(&[("s", "b")], 3, true, Wait::Forever),
    ));
    let deleted = run(&mut engine, 43, admin_cancel(r2));
    assert_eq!(deleted.reply, Reply::Cancelled);
    assert_eq!(
        deleted.events,
        [
            Event::TicketEnded {
                ticket: token(2),
                request: r2
            },
            Event::TicketGranted {
                ticket: token(3),
                request: r3
            }
        ]
    );
    assert_eq!(engine.ticket(token(2)), None);
    assert_eq!(
        engine.request(r3),
        None,
        "gate requests are not the locks' requests"
    );
    let spent = run(&mut engine, 44, admin_cancel(r2));
    assert_eq!(
        spent.reply,
        Reply::Refused(crate::engine::Refusal::UnknownRequest)
    );
}

#[test]
fn a_watcher_hears_when_its_gate_opens() {
    let mut engine = two_services();
    let at_once = run(&mut engine, 0, watch_gate("s", "a", Wait::No));
    assert_eq!(*gate_reply(&at_once), GateReply::Open);
    for (op, refusal) in [
        (
            watch_gate("u", "a", Wait::Forever),
            GateRefusal::UnknownService,
        ),
        (
            watch_gate("s", "z", Wait::Forever),
            GateRefusal::UnknownGate,
        ),
    ] {
        assert_eq!(
            *gate_reply(&run(&mut engine, 1, op)),
            GateReply::Refused(refusal)
        );
    }

    run(&mut engine, 10, close("s", "a"));
    let closed = run(&mut engine, 11, watch_gate("s", "a", Wait::Until(11)));
    assert_eq!(*gate_reply(&closed), GateReply::Closed);
    let w1 = watching_gate(&run(&mut engine, 12, watch_gate("s", "a", Wait::Forever)));
    let w2 = watching_gate(&run(
        &mut engine,
        13,
        watch_gate("s", "a", Wait::Until(500)),
    ));
    assert_eq!(engine.next_deadline(), Some(500));
    // A message changes nothing.
    assert!(
        run(&mut engine, 14, set("s", "a", None, Some("hi")))
            .events
            .is_empty()
    );
    let opened = run(&mut engine, 20, open("s", "a"));
    assert_eq!(
        opened.events,
        [
            Event::GateOpened { request: w1 },
            Event::GateOpened { request: w2 }
        ]
    );
    assert_eq!(engine.next_deadline(), None);

    // Held by a ticket: watching until the ticket leaves.
    ok(&run(
        &mut engine,
        30,
        take(&[("s", "a")], 1, false, Wait::No),
    ));
    let w3 = watching_gate(&run(&mut engine, 31, watch_gate("s", "a", Wait::Forever)));
    // Its holder leaves, but a polled ticket takes it in the same step: still closed, still watching.
    let polled = run(&mut engine, 32, take(&[("s", "a")], 2, true, Wait::Forever));
    waiting(&polled);
    let handover = run(&mut engine, 33, delete_ticket(1));
    assert!(matches!(
        handover.events.as_slice(),
        [Event::TicketGranted { .. }]
    ));
    let freed = run(&mut engine, 34, delete_ticket(2));
    assert_eq!(freed.events, [Event::GateOpened { request: w3 }]);

    // Its deadline passes first.
    run(&mut engine, 40, close("s", "a"));
    let w4 = watching_gate(&run(
        &mut engine,
        41,
        watch_gate("s", "a", Wait::Until(100)),
    ));
    let ended = run(&mut engine, 100, Op::Tick);
    assert_eq!(ended.events, [Event::GateWatchEnded { request: w4 }]);
    // A client's cancel ends it silently; an administrator's with an event.
    let w5 = watching_gate(&run(&mut engine, 101, watch_gate("s", "a", Wait::Forever)));
    let w6 = watching_gate(&run(&mut engine, 102, watch_gate("s", "a", Wait::Forever)));
    assert!(run(&mut engine, 103, cancel(w5)).events.is_empty());
    let by_admin = run(&mut engine, 104, admin_cancel(w6));
    assert_eq!(by_admin.events, [Event::GateWatchEnded { request: w6 }]);
    assert!(run(&mut engine, 105, open("s", "a")).events.is_empty());
}

#[test]
fn deleting_a_service_drops_only_its_part_of_each_ticket() {
    let mut engine = two_services();
    ok(&run(
        &mut engine,
        0,
        take(&[("s", "a"), ("t", "x")], 1, false, Wait::No),
    ));
    let (_, r2) = waiting(&run(
        &mut engine,
        1,
        take(&[("s", "a")], 2, true, Wait::Forever),
    ));
    waiting(&run(
        &mut engine,
        2,
        take(&[("t", "x")], 3, true, Wait::Forever),
    ));
    in_queue(&run(
        &mut engine,
        3,
        take(&[("s", "b"), ("t", "x")], 4, true, Wait::No),
    ));
    let w = watching_gate(&run(&mut engine, 4, watch_gate("s", "a", Wait::Forever)));

    let outcome = run(
        &mut engine,
        10,
        Op::DeleteService {
            service: "s".into(),
            keep_other_gates: true,
        },
    );
    assert_eq!(outcome.reply, Reply::Gate(GateReply::Deleted));
    // 2 named only s: it ends. 1 still holds t/x, so 3 is not granted.
    assert_eq!(
        outcome.events,
        [
            Event::TicketEnded {
                ticket: token(2),
                request: r2
            },
            Event::GateWatchEnded { request: w },
        ]
    );
    assert_eq!(engine.ticket(token(2)), None);
    let one = engine.ticket(token(1)).expect("1 survives");
    assert!(one.granted);
    assert_eq!(one.gates, [("t".to_owned(), "x".to_owned())]);
    assert_eq!(gate(&engine, "t", "x").held_by, Some(token(1)));
    assert_eq!(gate(&engine, "t", "x").state, GateState::Closed);
    assert_eq!(queue_of(&engine, "t", "x"), [1, 3, 4]);
    let four = engine.ticket(token(4)).expect("4 survives, queued");
    assert_eq!(four.gates, [("t".to_owned(), "x".to_owned())]);
    // Presented again, 1 is still granted: its pipeline goes on holding t/x.
    let again = run(&mut engine, 11, present(&[("t", "x")], 1, false, Wait::No));
    assert!(ok(&again).granted);
    assert_eq!(engine.ticket_count(), 3);
    // The name is free again, with fresh gates.
    run(&mut engine, 12, create("s", &["a"]));
    assert_eq!(gate(&engine, "s", "a").state, GateState::Open);
}

#[test]
fn a_polled_ticket_waiting_only_for_a_deleted_gate_is_granted_the_rest() {
    let mut engine = two_services();
    ok(&run(
        &mut engine,
        0,
        take(&[("s", "a")], 1, false, Wait::No),
    ));
    let (_, r2) = waiting(&run(
        &mut engine,
        1,
        take(&[("s", "a"), ("t", "x")], 2, true, Wait::Forever),
    ));
    let outcome = run(
        &mut engine,
        5,
        Op::DeleteService {
            service: "s".into(),
            keep_other_gates: true,
        },
    );
    assert_eq!(
        outcome.events,
        [Event::TicketGranted {
            ticket: token(2),
            request: r2
        }]
    );
    assert_eq!(engine.ticket(token(1)), None, "1 named only s");
    assert_eq!(gate(&engine, "t", "x").held_by, Some(token(2)));
    // Deleting t as well ends 2: nothing of it is left.
    let gone = run(
        &mut engine,
        6,
        Op::DeleteService {
            service: "t".into(),
            keep_other_gates: true,
        },
    );
    assert!(
        gone.events.is_empty(),
        "2 was granted: nobody is parked on it"
    );
    assert_eq!(engine.ticket_count(), 0);
    assert_eq!(engine.next_deadline(), None);
}

#[test]
fn a_journal_from_before_the_rule_replays_deleting_whole_tickets() {
    // A DeleteService journaled without `keep_other_gates` (older servers) reads as false.
    let old: Op = serde_json::from_str(r#"{"delete_service": {"service": "s"}}"#)
        .expect("an old DeleteService parses");
    assert_eq!(
        old,
        Op::DeleteService {
            service: "s".into(),
            keep_other_gates: false,
        }
    );
    let mut engine = two_services();
    ok(&run(
        &mut engine,
        0,
        take(&[("s", "a"), ("t", "x")], 1, false, Wait::No),
    ));
    let (_, r2) = waiting(&run(
        &mut engine,
        1,
        take(&[("t", "x")], 2, true, Wait::Forever),
    ));
    let outcome = run(&mut engine, 2, old);
    // As those servers did: ticket 1 ended whole, so t/x went to 2.
    assert_eq!(
        outcome.events,
        [Event::TicketGranted {
            ticket: token(2),
            request: r2
        }]
    );
    assert_eq!(engine.ticket(token(1)), None);
    assert_eq!(gate(&engine, "t", "x").held_by, Some(token(2)));
}

/// `UpdateService` changes its gates at once: a polled ticket is not granted halfway through it,
/// through a gate the same update closes. Opening `a` and closing `b` together leaves a ticket
/// waiting for both where it was, whatever order the changes come in.
#[test]
fn an_update_that_opens_one_gate_and_closes_another_lets_nobody_through_the_closed_one() {
    let change = |env: &str, state: GateState| crate::engine::GateChange {
        environment: env.to_owned(),
        state: Some(state),
        message: None,
    };
    for order in [["a", "b"], ["b", "a"]] {
        let mut engine = two_services();
        run(&mut engine, 0, close("s", "a"));
        waiting(&run(
            &mut engine,
            10,
            take(&[("s", "a"), ("s", "b")], 1, true, Wait::Until(60_000)),
        ));
        let gates = order
            .iter()
            .map(|&env| {
                let state = if env == "a" {
                    GateState::Open
                } else {
                    GateState::Closed
                };
                change(env, state)
            })
            .collect();
        let update = Op::UpdateService {
            service: "s".into(),
            group: None,
            gates,
        };
        let outcome = run(&mut engine, 20, update);
        assert_eq!(*gate_reply(&outcome), GateReply::Set, "{order:?}");
        assert!(
            !outcome
                .events
                .iter()
                .any(|e| matches!(e, Event::TicketGranted { .. })),
            "{order:?}: granted through a gate the update closes: {:?}",
            outcome.events
        );
        let ticket = engine.ticket(token(1)).expect("still queued");
        assert!(!ticket.granted, "{order:?}");
        assert_eq!(gate(&engine, "s", "b").held_by, None, "{order:?}");
        assert_eq!(gate(&engine, "s", "b").state, GateState::Closed);
        // Reopening b later lets it in.
        let later = run(&mut engine, 30, open("s", "b"));
        assert!(
            later
                .events
                .iter()
                .any(|e| matches!(e, Event::TicketGranted { .. })),
            "{order:?}: {:?}",
            later.events
        );
    }
}
