//! Tickets in line: FIFO per gate over overlapping gate sets, refreshes, expiry, closing by hand.

use super::gates::*;
use super::*;
use crate::engine::{Event, GateRefusal, GateReply, GateState, TICKET_TTL_MS};

#[test]
fn tickets_queue_fifo_per_gate_over_overlapping_sets() {
    let mut engine = two_services();
    ok(&run(&mut engine, 0, take(&[("s", "a")], 1, true, Wait::No)));
    let t2 = in_queue(&run(
        &mut engine,
        1,
        take(&[("s", "a"), ("s", "b")], 2, true, Wait::No),
    ));
    assert_eq!((t2.granted, t2.expires), (false, Some(1 + TICKET_TTL_MS)));
    // b is open and held by nobody, but 2 waits for it: 3 does not jump the queue.
    let t3 = run(&mut engine, 2, take(&[("s", "b")], 3, true, Wait::No));
    in_queue(&t3);
    let without_queue = run(&mut engine, 3, take(&[("s", "b")], 9, false, Wait::No));
    assert_eq!(*gate_reply(&without_queue), GateReply::Denied);
    // c is free for anyone.
    ok(&run(&mut engine, 4, take(&[("s", "c")], 4, true, Wait::No)));
    assert_eq!(queue_of(&engine, "s", "a"), [1, 2]);
    assert_eq!(queue_of(&engine, "s", "b"), [2, 3]);
    // b reads open: only queued tickets are in it, none holds it.
    assert_eq!(gate(&engine, "s", "b").state, GateState::Open);

    run(&mut engine, 10, delete_ticket(1));
    // Not polled, so nobody is granted on their own; 3 asks first but 2 is ahead of it on b.
    in_queue(&run(
        &mut engine,
        11,
        present(&[("s", "b")], 3, true, Wait::No),
    ));
    ok(&run(
        &mut engine,
        12,
        present(&[("s", "a"), ("s", "b")], 2, true, Wait::No),
    ));
    in_queue(&run(
        &mut engine,
        13,
        present(&[("s", "b")], 3, true, Wait::No),
    ));
    assert_eq!(queue_of(&engine, "s", "b"), [2, 3]);
    assert_eq!(gate(&engine, "s", "b").held_by, Some(token(2)));
    run(&mut engine, 14, delete_ticket(2));
    ok(&run(
        &mut engine,
        15,
        present(&[("s", "b")], 3, true, Wait::No),
    ));
}

#[test]
fn a_queued_ticket_refreshes_until_its_turn_and_is_denied_once_gone() {
    let mut engine = two_services();
    ok(&run(
        &mut engine,
        0,
        take(&[("s", "a")], 1, false, Wait::No),
    ));
    in_queue(&run(
        &mut engine,
        10,
        take(&[("s", "a")], 2, true, Wait::No),
    ));
    assert_eq!(engine.next_deadline(), Some(10 + TICKET_TTL_MS));

    let refreshed = in_queue(&run(
        &mut engine,
        1_000,
        present(&[("s", "a")], 2, true, Wait::No),
    ));
    assert_eq!(
        (refreshed.updated, refreshed.expires),
        (1_000, Some(1_000 + TICKET_TTL_MS))
    );
    assert_eq!(engine.next_deadline(), Some(1_000 + TICKET_TTL_MS));

    // Without queue while not its turn: denied, but it keeps its place (and was refreshed).
    let denied = run(
        &mut engine,
        2_000,
        present(&[("s", "a")], 2, false, Wait::No),
    );
    assert_eq!(*gate_reply(&denied), GateReply::Denied);
    assert_eq!(queue_of(&engine, "s", "a"), [1, 2]);
    let kept = engine.ticket(token(2)).expect("still queued");
    assert_eq!(kept.expires, Some(2_000 + TICKET_TTL_MS));

    // The gates of a presented ticket are its own, whatever the call names.
    run(&mut engine, 3_000, delete_ticket(1));
    let turn = ok(&run(
        &mut engine,
        3_001,
        present(&[("s", "c")], 2, false, Wait::No),
    ));
    assert_eq!(turn.gates, [("s".to_owned(), "a".to_owned())]);
    assert_eq!(turn.expires, None);
    assert!(gate(&engine, "s", "c").queue.is_empty());
    assert_eq!(engine.next_deadline(), None);

    run(&mut engine, 3_002, delete_ticket(2));
    let gone = run(
        &mut engine,
        3_003,
        present(&[("s", "a")], 2, true, Wait::No),
    );
    assert_eq!(
        *gate_reply(&gone),
        GateReply::Refused(GateRefusal::UnknownTicket)
    );
}

#[test]
fn a_queued_ticket_expires_unrefreshed_and_lets_the_next_through() {
    let mut engine = two_services();
    ok(&run(
        &mut engine,
        0,
        take(&[("s", "a")], 1, false, Wait::No),
    ));
    in_queue(&run(
        &mut engine,
        10,
        take(&[("s", "a")], 2, true, Wait::No),
    ));
    // 3 polls for a long time, so it does not expire and is granted at its turn.
    let far = Wait::Until(10 * TICKET_TTL_MS);
    let three = run(&mut engine, 20, take(&[("s", "a")], 3, true, far));
    let GateReply::Waiting { request, .. } = *gate_reply(&three) else {
        panic!("expected waiting, got {three:?}");
    };
    // 1 leaves: 2 is first, but nobody is parked on it, so nobody is granted.
    let freed = run(&mut engine, 50, delete_ticket(1));
    assert!(freed.events.is_empty());
    assert_eq!(gate(&engine, "s", "a").held_by, None);

    let expiry = 10 + TICKET_TTL_MS;
    assert_eq!(engine.next_deadline(), Some(expiry));
    assert!(run(&mut engine, expiry - 1, Op::Tick).events.is_empty());
    let outcome = run(&mut engine, expiry, Op::Tick);
    assert_eq!(
        outcome.events,
        [
            Event::TicketExpired { ticket: token(2) },
            Event::TicketGranted {
                ticket: token(3),
                request
            }
        ]
    );
    assert_eq!(engine.ticket(token(2)), None);
    assert_eq!(gate(&engine, "s", "a").held_by, Some(token(3)));
    let gone = run(
        &mut engine,
        expiry + 1,
        present(&[("s", "a")], 2, true, Wait::No),
    );
    assert_eq!(
        *gate_reply(&gone),
        GateReply::Refused(GateRefusal::UnknownTicket)
    );
}

#[test]
fn any_command_expires_what_is_due_first() {
    let mut engine = two_services();
    run(&mut engine, 0, close("s", "a"));
    in_queue(&run(&mut engine, 0, take(&[("s", "a")], 1, true, Wait::No)));
    // No Tick came; a refresh after the expiry finds the ticket gone.
    let late = run(
        &mut engine,
        TICKET_TTL_MS,
        present(&[("s", "a")], 1, true, Wait::No),
    );
    assert_eq!(late.events, [Event::TicketExpired { ticket: token(1) }]);
    assert_eq!(
        *gate_reply(&late),
        GateReply::Refused(GateRefusal::UnknownTicket)
    );
    assert_eq!(engine.next_deadline(), None);
}

#[test]
fn closing_by_hand_blocks_queued_tickets_until_reopened() {
    let mut engine = two_services();
    run(&mut engine, 0, close("s", "a"));
    in_queue(&run(
        &mut engine,
        1,
        take(&[("s", "a"), ("s", "b")], 1, true, Wait::No),
    ));
    in_queue(&run(&mut engine, 2, present(&[], 1, true, Wait::No)));
    // Reopening grants nobody on their own: 1 is not polled.
    let reopened = run(&mut engine, 3, open("s", "a"));
    assert!(reopened.events.is_empty());
    assert_eq!(gate(&engine, "s", "a").held_by, None);
    ok(&run(&mut engine, 4, present(&[], 1, true, Wait::No)));
}

#[test]
fn closing_a_held_gate_by_hand_takes_nothing_from_its_ticket() {
    let mut engine = two_services();
    ok(&run(
        &mut engine,
        0,
        take(&[("s", "a")], 1, false, Wait::No),
    ));
    let wait = Wait::Until(TICKET_TTL_MS);
    run(&mut engine, 1, take(&[("s", "a")], 2, true, wait));
    run(&mut engine, 2, close("s", "a"));
    let a = gate(&engine, "s", "a");
    assert_eq!(
        (a.state, a.closed_by_hand, a.held_by),
        (GateState::Closed, true, Some(token(1)))
    );
    assert_eq!(a.queue, [token(1), token(2)], "holder first, then waiting");
    // The holder leaves: the gate still reads closed (by hand), and 2 waits for it to reopen.
    let left = run(&mut engine, 3, delete_ticket(1));
    assert!(left.events.is_empty());
    let a = gate(&engine, "s", "a");
    assert_eq!(
        (a.state, a.held_by, a.queue.len()),
        (GateState::Closed, None, 1)
    );
    let reopened = run(&mut engine, 4, open("s", "a"));
    assert!(matches!(
        reopened.events.as_slice(),
        [Event::TicketGranted { ticket, .. }] if *ticket == token(2)
    ));
    assert_eq!(gate(&engine, "s", "a").held_by, Some(token(2)));
}

#[test]
fn a_ticket_lives_as_long_as_its_command_says_and_keeps_that_life_on_refresh() {
    let mut engine = two_services();
    run(&mut engine, 0, close("s", "a"));
    let mut short = take(&[("s", "a")], 1, true, Wait::No);
    if let Op::TestAndSet { ticket_ttl_ms, .. } = &mut short {
        *ticket_ttl_ms = Some(500);
    }
    in_queue(&run(&mut engine, 0, short));
    assert_eq!(engine.next_deadline(), Some(500));
    // A refresh (which carries no life of its own) keeps the ticket's 500 ms.
    in_queue(&run(
        &mut engine,
        300,
        present(&[("s", "a")], 1, true, Wait::No),
    ));
    assert_eq!(engine.next_deadline(), Some(800));
    let outcome = run(&mut engine, 800, Op::Tick);
    assert_eq!(outcome.events, [Event::TicketExpired { ticket: token(1) }]);
}
