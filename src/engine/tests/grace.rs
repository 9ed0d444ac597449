//! Graces: a long-polling waiter keeps its place between its polls.

use super::*;
use crate::engine::{Event, Grant, RequestState, WaiterView};

/// The waiters of `name`, next in line first.
fn waiting(engine: &Engine, name: &str) -> Vec<WaiterView> {
    engine.lock(name).map(|l| l.waiting).unwrap_or_default()
}

fn poll_ended(request: RequestId, position: usize) -> Event {
    Event::PollEnded {
        request,
        resource: "db".into(),
        position,
    }
}

#[test]
fn a_waiter_whose_poll_ends_keeps_its_place_and_a_repoll_reattaches_it() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(100), Some(50)),
    ));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    assert_eq!(engine.next_deadline(), Some(100));

    let outcome = run(&mut engine, 100, Op::Tick);
    assert_eq!(outcome.events, [poll_ended(b, 1)]);
    let view = &waiting(&engine, "db")[0];
    assert_eq!(
        (view.request, view.detached, view.deadline),
        (b, true, Some(150))
    );
    assert_eq!(
        engine.next_deadline(),
        Some(150),
        "the grace deadline is due next"
    );
    match engine.request(b).map(|v| v.state) {
        Some(RequestState::Waiting { position: 1, .. }) => {}
        other => panic!("expected b waiting first, got {other:?}"),
    }

    // The client comes back within its grace: same request, same place, attached again.
    let again = run(
        &mut engine,
        120,
        poll("db", 2, None, Wait::Until(220), Some(50)),
    );
    assert_eq!(queued(&again), (b, 1));
    assert!(again.events.is_empty());
    let view = &waiting(&engine, "db")[0];
    assert_eq!((view.detached, view.deadline), (false, Some(220)));
    assert_eq!(engine.next_deadline(), Some(220), "the grace is gone");
    assert_eq!(
        waiting(&engine, "db")
            .iter()
            .map(|w| w.request)
            .collect::<Vec<_>>(),
        [b, c],
        "C, behind B, stays behind it"
    );

    let handover = run(&mut engine, 130, release("db", 1));
    match handover.events.as_slice() {
        [Event::Granted(grant)] => assert_eq!((grant.request, grant.token), (b, token(2))),
        other => panic!("expected B granted, got {other:?}"),
    }
    assert!(matches!(
        engine.request(c).map(|v| v.state),
        Some(RequestState::Waiting { position: 1, .. })
    ));
}

#[test]
fn a_detached_waiter_leaves_when_its_grace_passes_without_a_repoll() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(100), Some(50)),
    ));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    assert_eq!(run(&mut engine, 100, Op::Tick).events, [poll_ended(b, 1)]);
    assert!(run(&mut engine, 149, Op::Tick).events.is_empty());

    let outcome = run(&mut engine, 150, Op::Tick);
    assert_eq!(
        outcome.events,
        [Event::TimedOut {
            request: b,
            resource: "db".into()
        }]
    );
    assert_eq!(
        ended(&engine, b),
        Some((End::TimedOut, 150)),
        "its grace ended"
    );
    assert_eq!(engine.next_deadline(), None);
    assert_eq!(
        waiting(&engine, "db")
            .iter()
            .map(|w| w.request)
            .collect::<Vec<_>>(),
        [c]
    );
}

#[test]
fn a_late_tick_past_the_grace_too_times_the_waiter_out_at_once() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(100), Some(50)),
    ));
    // Its poll and its grace both ended before this command: no PollEnded, only the final answer.
    let outcome = run(&mut engine, 150, Op::Tick);
    assert_eq!(
        outcome.events,
        [Event::TimedOut {
            request: b,
            resource: "db".into()
        }]
    );
}

#[test]
fn a_zero_grace_is_no_grace() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(100), Some(0)),
    ));
    let outcome = run(&mut engine, 100, Op::Tick);
    assert_eq!(
        outcome.events,
        [Event::TimedOut {
            request: b,
            resource: "db".into()
        }]
    );
}

#[test]
fn a_detached_waiter_is_granted_at_its_turn_and_its_repoll_gets_the_same_grant() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, Some(1_000), Wait::Until(100), Some(50)),
    ));
    assert_eq!(run(&mut engine, 100, Op::Tick).events, [poll_ended(b, 1)]);

    let handover = run(&mut engine, 110, release("db", 1));
    let grant = match handover.events.as_slice() {
        [Event::Granted(grant)] => grant.clone(),
        other => panic!("expected the detached waiter granted, got {other:?}"),
    };
    assert_eq!((grant.request, grant.since), (b, 110));
    assert!(grant.fence > a.fence);
    assert_eq!(
        engine.next_deadline(),
        Some(160),
        "unclaimed, it is held only for the rest of its grace"
    );

    let repoll = run(
        &mut engine,
        120,
        poll("db", 2, Some(1_000), Wait::Until(220), Some(50)),
    );
    let claimed = Grant {
        expires: Some(1_110),
        ..grant
    };
    assert_eq!(
        repoll.reply,
        Reply::Granted {
            grant: claimed,
            again: true
        }
    );
    assert!(repoll.events.is_empty());
    assert_eq!(
        engine.next_deadline(),
        Some(1_110),
        "claimed: the lease it asked for, from its grant"
    );
}

#[test]
fn a_grant_nobody_comes_back_for_is_freed_at_the_end_of_the_grace() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    // No lease asked for: unclaimed, it would otherwise be held for ever.
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(100), Some(50)),
    ));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    run(&mut engine, 100, Op::Tick);
    let handover = run(&mut engine, 110, release("db", 1));
    assert!(matches!(handover.events.as_slice(), [Event::Granted(g)] if g.request == b));
    assert_eq!(engine.next_deadline(), Some(160));

    let expiry = run(&mut engine, 160, Op::Tick);
    match expiry.events.as_slice() {
        [Event::Expired { request, .. }, Event::Granted(next)] => {
            assert_eq!((*request, next.request), (b, c));
        }
        other => panic!("expected b's unclaimed grant to expire to c, got {other:?}"),
    }
}

#[test]
fn renewing_an_unclaimed_grant_claims_it() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(100), Some(50)),
    ));
    run(&mut engine, 100, Op::Tick);
    run(&mut engine, 110, release("db", 1));
    let renewed = run(
        &mut engine,
        120,
        Op::Renew {
            resource: "db".into(),
            token: token(2),
            ttl_ms: None,
        },
    );
    assert!(matches!(renewed.reply, Reply::Renewed { ref grant } if grant.expires.is_none()));
    assert_eq!(
        engine.next_deadline(),
        None,
        "claimed, with no lease of its own"
    );
}

#[test]
fn a_handover_when_the_poll_ended_but_not_the_grace_grants_the_waiter() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, Some(100), Wait::No));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(100), Some(50)),
    ));
    // A's expiry and B's poll deadline fall at the same instant, A's first (by request id): without a
    // grace B would time out at the hand-over (see queue.rs); with one it is still in line.
    let outcome = run(&mut engine, 100, Op::Tick);
    match outcome.events.as_slice() {
        [Event::Expired { .. }, Event::Granted(grant)] => {
            assert_eq!((grant.request, grant.since), (b, 100));
        }
        other => panic!("expected Expired then Granted, got {other:?}"),
    }
    assert_eq!(engine.next_deadline(), None);
}

#[test]
fn a_repoll_that_will_not_wait_withdraws_a_detached_waiter() {
    for wait in [Wait::No, Wait::Until(105)] {
        let mut engine = Engine::new();
        run(&mut engine, 0, grab("db", 1, None, Wait::No));
        let (b, _) = queued(&run(
            &mut engine,
            1,
            poll("db", 2, None, Wait::Until(100), Some(50)),
        ));
        run(&mut engine, 100, Op::Tick);
        let outcome = run(&mut engine, 110, poll("db", 2, None, wait, Some(50)));
        assert_eq!(
            outcome.events,
            [Event::TimedOut {
                request: b,
                resource: "db".into()
            }],
            "{wait:?}"
        );
        match outcome.reply {
            Reply::Busy(view) => assert!(view.waiting.is_empty()),
            other => panic!("{wait:?}: expected Busy, got {other:?}"),
        }
        assert_eq!(ended(&engine, b), Some((End::TimedOut, 110)));
        assert_eq!(engine.next_deadline(), None);
    }
}

#[test]
fn a_repoll_without_grace_ends_at_its_own_deadline() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(100), Some(50)),
    ));
    run(&mut engine, 100, Op::Tick);
    queued(&run(
        &mut engine,
        110,
        grab("db", 2, None, Wait::Until(200)),
    ));
    let outcome = run(&mut engine, 200, Op::Tick);
    assert_eq!(
        outcome.events,
        [Event::TimedOut {
            request: b,
            resource: "db".into()
        }]
    );
}

#[test]
fn a_journal_without_grace_still_parses() {
    let old = r#"{"now":5,"op":{"acquire":{"resource":"db","token":"00000000-0000-0000-0000-000000000001",
        "holder":"client 1","ttl_ms":null,"wait":{"until":100}}}}"#;
    let command: Command = serde_json::from_str(old).expect("an old journal entry parses");
    assert_eq!(
        command,
        Command {
            now: 5,
            op: grab("db", 1, None, Wait::Until(100))
        }
    );
}
