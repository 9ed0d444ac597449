//! Restart: the server starts again with its state replayed, and every connection its clients were
//! parked on is gone. Nothing is granted to a client that is gone; a long-poller that comes back
//! keeps its place.

use super::gates::*;
use super::snapshot::round_trip;
use super::*;
use crate::engine::{Event, GateReply, Refusal, RequestState, TICKET_TTL_MS, WaiterView};

/// The waiters of `name`, next in line first.
fn waiting(engine: &Engine, name: &str) -> Vec<WaiterView> {
    engine.lock(name).map(|l| l.waiting).unwrap_or_default()
}

fn restarted(dropped: usize, detached: usize, watchers: usize, polls: usize) -> Reply {
    Reply::Restarted {
        dropped,
        detached,
        watchers,
        polls,
    }
}

/// The (request, detached, deadline) of each waiter of `name`.
fn line(engine: &Engine, name: &str) -> Vec<(RequestId, bool, Option<Millis>)> {
    waiting(engine, name)
        .into_iter()
        .map(|w| (w.request, w.detached, w.deadline))
        .collect()
}

#[test]
fn a_long_polling_waiter_keeps_its_place_detached_for_the_restarts_grace() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(10_000), Some(50)),
    ));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));

    let outcome = run(&mut engine, 1_000, restart(5_000));
    assert_eq!(outcome.reply, restarted(0, 1, 0, 0));
    assert!(outcome.events.is_empty(), "nobody is parked to hear one");
    assert_eq!(
        line(&engine, "db"),
        [(b, true, Some(6_000)), (c, false, None)],
        "detached until the restart's grace ends, in its place"
    );
    assert_eq!(engine.next_deadline(), Some(6_000));
}

#[test]
fn a_waiter_detached_by_its_own_poll_is_detached_for_the_restarts_grace() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(100), Some(60_000)),
    ));
    run(&mut engine, 100, Op::Tick);
    assert_eq!(line(&engine, "db"), [(b, true, Some(60_100))]);

    // The restart's grace stands for every long-poller alike, longer or shorter than its own.
    let outcome = run(&mut engine, 1_000, restart(5_000));
    assert_eq!(outcome.reply, restarted(0, 1, 0, 0));
    assert_eq!(line(&engine, "db"), [(b, true, Some(6_000))]);
}

#[test]
fn a_plain_waiter_with_a_deadline_leaves_abandoned_without_an_event() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, Some(60_000), Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        grab("db", 2, None, Wait::Until(10_000)),
    ));
    // A grace of 0 is no grace.
    let (c, _) = queued(&run(
        &mut engine,
        2,
        poll("db", 3, None, Wait::Until(10_000), Some(0)),
    ));

    let outcome = run(&mut engine, 1_000, restart(5_000));
    assert_eq!(outcome.reply, restarted(2, 0, 0, 0));
    assert!(outcome.events.is_empty());
    assert_eq!(ended(&engine, b), Some((End::Abandoned, 1_000)));
    assert_eq!(ended(&engine, c), Some((End::Abandoned, 1_000)));
    // The queue is empty now, and nothing else changed: the holder holds, with its lease.
    let lock = engine.lock("db").expect("still held");
    assert!(lock.waiting.is_empty());
    let holder = lock.holder().cloned().expect("a holder");
    assert_eq!(
        (holder.request, holder.fence, holder.expires),
        (a.request, a.fence, Some(60_000))
    );
    assert_eq!(engine.next_deadline(), Some(60_000));
}

#[test]
fn waiters_without_a_deadline_are_untouched() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    queued(&run(
        &mut engine,
        1,
        grab("db", 2, Some(500), Wait::Forever),
    ));
    let with_grace = poll("db", 3, None, Wait::Forever, Some(50));
    queued(&run(&mut engine, 2, with_grace));
    let before = engine.lock("db");
    let (requests_before, views_before): (Vec<_>, Vec<_>) =
        engine.requests_of("db").into_iter().unzip();

    let outcome = run(&mut engine, 1_000, restart(5_000));
    assert_eq!(outcome.reply, restarted(0, 0, 0, 0));
    assert_eq!(engine.lock("db"), before);
    let (requests, views): (Vec<_>, Vec<_>) = engine.requests_of("db").into_iter().unzip();
    assert_eq!((requests, views), (requests_before, views_before));
}

#[test]
fn watchers_of_locks_and_gates_are_removed_silently() {
    let mut engine = two_services();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let forever = watching(&run(&mut engine, 1, watch("db", Wait::Forever)));
    let until = watching(&run(&mut engine, 2, watch("db", Wait::Until(9_000))));
    ok(&run(
        &mut engine,
        3,
        take(&[("s", "a")], 1, false, Wait::No),
    ));
    let gate_watcher = match gate_reply(&run(&mut engine, 4, watch_gate("s", "a", Wait::Forever))) {
        GateReply::Watching { request } => *request,
        other => panic!("expected watching, got {other:?}"),
    };

    let outcome = run(&mut engine, 1_000, restart(5_000));
    assert_eq!(outcome.reply, restarted(0, 0, 3, 0));
    assert!(outcome.events.is_empty());
    for request in [forever, until, gate_watcher] {
        assert_eq!(engine.request(request), None, "{request} is gone");
        let hangup = run(&mut engine, 1_001, cancel(request));
        assert_eq!(hangup.reply, Reply::Refused(Refusal::UnknownRequest));
    }
    assert_eq!(engine.lock("db").map(|l| l.watchers), Some(0));
    assert_eq!(engine.next_deadline(), None);
    // Freed and opened later, nobody hears of it.
    assert!(run(&mut engine, 2_000, release("db", 1)).events.is_empty());
    assert!(run(&mut engine, 2_001, delete_ticket(1)).events.is_empty());
}

/// Services "s" and "t"; on gate s/a ticket 1 granted and ticket 2 polled (until 50_000); on s/b
/// ticket 3 granted and ticket 4 queued, unpolled. Then a restart at 1_000.
fn tickets_restarted() -> Engine {
    let mut engine = two_services();
    let e = &mut engine;
    let holder = ok(&run(e, 0, take(&[("s", "a")], 1, false, Wait::No)));
    let polled = take(&[("s", "a")], 2, true, Wait::Until(50_000));
    match gate_reply(&run(e, 1, polled)) {
        GateReply::Waiting { .. } => {}
        other => panic!("expected waiting, got {other:?}"),
    }
    let granted = ok(&run(e, 2, take(&[("s", "b")], 3, false, Wait::No)));
    let unpolled = in_queue(&run(e, 3, take(&[("s", "b")], 4, true, Wait::No)));

    let outcome = run(e, 1_000, restart(5_000));
    assert_eq!(outcome.reply, restarted(0, 0, 0, 1));
    assert!(outcome.events.is_empty(), "nobody to tell");
    for (id, view) in [(1, holder), (3, granted), (4, unpolled)] {
        assert_eq!(e.ticket(token(id)), Some(view), "ticket {id} untouched");
    }
    engine
}

#[test]
fn a_polled_ticket_stays_queued_and_is_never_granted_to_its_gone_client() {
    let mut engine = tickets_restarted();
    let ticket = engine.ticket(token(2)).expect("still queued");
    assert_eq!(
        (ticket.granted, ticket.expires),
        (false, Some(1_000 + TICKET_TTL_MS)),
        "it expires its ttl after the restart"
    );

    // Its turn comes: its client is gone, so it is not granted, until its client calls again.
    let deleted = run(&mut engine, 2_000, delete_ticket(1));
    assert!(deleted.events.is_empty(), "{:?}", deleted.events);
    assert!(!engine.ticket(token(2)).expect("queued").granted);
    assert_eq!(gate(&engine, "s", "a").held_by, None);
    ok(&run(
        &mut engine,
        3_000,
        present(&[("s", "a")], 2, true, Wait::No),
    ));
}

#[test]
fn a_polled_ticket_whose_client_never_comes_back_expires_its_ttl_after_the_restart() {
    let mut engine = tickets_restarted();
    assert!(run(&mut engine, 2_000, delete_ticket(1)).events.is_empty());
    // The unpolled ticket expires when it always would have; the polled one, its ttl after the restart.
    let early = run(&mut engine, 999 + TICKET_TTL_MS, Op::Tick);
    assert_eq!(early.events, [Event::TicketExpired { ticket: token(4) }]);
    let expiry = run(&mut engine, 1_000 + TICKET_TTL_MS, Op::Tick);
    assert_eq!(expiry.events, [Event::TicketExpired { ticket: token(2) }]);
    assert_eq!(engine.ticket(token(2)), None);
    assert_eq!(gate(&engine, "s", "a").held_by, None);
}

#[test]
fn a_detached_waiter_that_polls_again_keeps_its_place() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(10_000), Some(50)),
    ));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    run(&mut engine, 1_000, restart(5_000));

    // Its client comes back (the CLI's long-poll, same token) within the grace.
    let again = run(
        &mut engine,
        4_000,
        poll("db", 2, None, Wait::Until(34_000), Some(50)),
    );
    assert_eq!(queued(&again), (b, 1), "same request, same place");
    assert!(again.events.is_empty());
    assert_eq!(
        line(&engine, "db"),
        [(b, false, Some(34_000)), (c, false, None)]
    );
    // Past the restart's grace, attached, it waits on.
    assert!(run(&mut engine, 6_000, Op::Tick).events.is_empty());
    let handover = run(&mut engine, 7_000, release("db", 1));
    match handover.events.as_slice() {
        [Event::Granted(grant)] => assert_eq!((grant.request, grant.token), (b, token(2))),
        other => panic!("expected b granted, got {other:?}"),
    }
}

#[test]
fn a_detached_waiter_that_does_not_come_back_leaves_at_the_end_of_the_grace() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(10_000), Some(50)),
    ));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    run(&mut engine, 1_000, restart(5_000));

    assert!(run(&mut engine, 5_999, Op::Tick).events.is_empty());
    let outcome = run(&mut engine, 6_000, Op::Tick);
    assert_eq!(
        outcome.events,
        [Event::TimedOut {
            request: b,
            resource: "db".into()
        }]
    );
    assert_eq!(ended(&engine, b), Some((End::TimedOut, 6_000)));
    assert_eq!(line(&engine, "db"), [(c, false, None)], "c moves up");
}

#[test]
fn a_grant_nobody_collects_after_a_restart_ends_with_the_grace_and_the_next_gets_it() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, Some(3_000), Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(10_000), Some(50)),
    ));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    run(&mut engine, 1_000, restart(5_000));

    // The lease runs out: b's turn, before it polls again. Granted unclaimed, it holds only until
    // the restart's grace ends (not its own 50 ms from now, which its client could not make).
    let expiry = run(&mut engine, 3_000, Op::Tick);
    let grant = match expiry.events.as_slice() {
        [Event::Expired { .. }, Event::Granted(grant)] => grant.clone(),
        other => panic!("expected b granted, got {other:?}"),
    };
    assert_eq!(
        (grant.request, grant.since, grant.expires),
        (b, 3_000, Some(6_000))
    );
    assert_eq!(engine.next_deadline(), Some(6_000));

    let gone = run(&mut engine, 6_000, Op::Tick);
    match gone.events.as_slice() {
        [Event::Expired { request, .. }, Event::Granted(next)] => {
            assert_eq!((*request, next.request), (b, c));
        }
        other => panic!("expected b's grant to expire to c, got {other:?}"),
    }
    assert_eq!(ended(&engine, b), Some((End::Expired, 6_000)));
}

#[test]
fn a_grant_made_after_a_restart_is_collected_by_the_next_poll() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, Some(3_000), Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, Some(60_000), Wait::Until(10_000), Some(50)),
    ));
    run(&mut engine, 1_000, restart(5_000));
    let grant = match run(&mut engine, 3_000, Op::Tick).events.as_slice() {
        [Event::Expired { .. }, Event::Granted(grant)] => grant.clone(),
        other => panic!("expected b granted, got {other:?}"),
    };
    assert_eq!((grant.request, grant.expires), (b, Some(6_000)));

    let collected = run(
        &mut engine,
        4_000,
        poll("db", 2, Some(60_000), Wait::Until(34_000), Some(50)),
    );
    match collected.reply {
        Reply::Granted {
            ref grant,
            again: true,
        } => assert_eq!(
            (grant.request, grant.expires),
            (b, Some(63_000)),
            "claimed: its lease, from its grant"
        ),
        ref other => panic!("expected the same grant, got {other:?}"),
    }
}

#[test]
fn a_lease_that_ran_out_while_the_server_was_down_goes_to_no_client_that_is_gone() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, Some(100), Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        grab("db", 2, Some(1_000), Wait::Until(10_000)),
    ));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    // The server was down from 50 to 1_000: the lease ended at 100, with nobody to expire it.
    let outcome = run(&mut engine, 1_000, restart(5_000));
    assert_eq!(outcome.reply, restarted(1, 0, 0, 0));
    match outcome.events.as_slice() {
        [Event::Expired { .. }, Event::Granted(grant)] => assert_eq!(grant.request, c),
        other => panic!("expected the lock handed over to c, got {other:?}"),
    }
    assert_eq!(ended(&engine, b), Some((End::Abandoned, 1_000)));

    // The same with a long-poller first: it is granted, unclaimed, until the grace ends.
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, Some(100), Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(10_000), Some(50)),
    ));
    let outcome = run(&mut engine, 1_000, restart(5_000));
    match outcome.events.as_slice() {
        [Event::Expired { .. }, Event::Granted(grant)] => {
            assert_eq!((grant.request, grant.expires), (b, Some(6_000)));
        }
        other => panic!("expected b granted unclaimed, got {other:?}"),
    }
}

#[test]
fn a_queue_that_lost_its_head_moves_on() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (a, _) = queued(&run(
        &mut engine,
        1,
        grab("db", 2, None, Wait::Until(10_000)),
    ));
    let (b, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    run(&mut engine, 1_000, restart(5_000));
    assert_eq!(ended(&engine, a), Some((End::Abandoned, 1_000)));
    assert!(matches!(
        engine.request(b).map(|v| v.state),
        Some(RequestState::Waiting { position: 1, .. })
    ));
    let handover = run(&mut engine, 2_000, release("db", 1));
    assert!(matches!(handover.events.as_slice(), [Event::Granted(g)] if g.request == b));
}

#[test]
fn without_a_grace_every_waiter_with_a_deadline_leaves() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (a, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(10_000), Some(50)),
    ));
    let (b, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    let outcome = run(&mut engine, 1_000, restart(0));
    assert_eq!(outcome.reply, restarted(1, 0, 0, 0));
    assert_eq!(ended(&engine, a), Some((End::Abandoned, 1_000)));
    assert_eq!(line(&engine, "db"), [(b, false, None)]);
}

#[test]
fn holders_fences_gates_tickets_and_history_are_untouched() {
    let mut engine = two_services();
    granted(&run(&mut engine, 0, grab("a", 1, Some(60_000), Wait::No)));
    granted(&run(&mut engine, 1, grab("b", 2, None, Wait::No)));
    granted(&run(&mut engine, 2, grab("c", 3, None, Wait::No)));
    run(&mut engine, 3, release("c", 3));
    run(&mut engine, 4, close("t", "x"));
    ok(&run(
        &mut engine,
        5,
        take(&[("s", "a")], 1, false, Wait::No),
    ));
    in_queue(&run(&mut engine, 6, take(&[("s", "a")], 2, true, Wait::No)));
    let before = engine.snapshot();

    let outcome = run(&mut engine, 1_000, restart(5_000));
    assert_eq!(outcome.reply, restarted(0, 0, 0, 0));
    assert!(outcome.events.is_empty());
    let mut after = engine.snapshot();
    after.clock = before.clock;
    assert_eq!(after, before, "only the clock moved");
}

#[test]
fn a_second_restart_detaches_again_and_a_restart_detached_waiter_restores() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(10_000), Some(50)),
    ));
    run(&mut engine, 1_000, restart(5_000));
    // A snapshot holds a waiter detached by a restart (without a grace of its own), and gives it back.
    let snapshot = engine.snapshot();
    let waiter = &snapshot.resources[0].waiters[0];
    assert_eq!(
        (waiter.detached, waiter.grace_ms, waiter.deadline),
        (true, None, Some(6_000))
    );
    let mut engine = round_trip(&engine);

    let outcome = run(&mut engine, 2_000, restart(10_000));
    assert_eq!(outcome.reply, restarted(0, 1, 0, 0));
    assert_eq!(line(&engine, "db"), [(b, true, Some(12_000))]);
}

#[test]
fn a_restart_is_journaled_like_any_command() {
    let command = Command {
        now: 7,
        op: restart(5_000),
    };
    let json = serde_json::to_string(&command).expect("serializes");
    assert_eq!(json, r#"{"now":7,"op":{"restart":{"grace_ms":5000}}}"#);
    let back: Command = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, command);
    let reply = serde_json::to_value(restarted(1, 2, 3, 4)).expect("serializes");
    assert_eq!(
        reply,
        serde_json::json!({"restarted": {"dropped": 1, "detached": 2, "watchers": 3, "polls": 4}})
    );
}
