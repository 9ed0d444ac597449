//! FIFO queues, positions, re-polling, Busy and wait deadlines.

use super::*;
use crate::engine::{Event, LockView, RequestState};

#[test]
fn waiters_are_granted_in_arrival_order() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let b = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Forever)));
    let c = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    let d = queued(&run(
        &mut engine,
        3,
        grab("db", 4, None, Wait::Until(1_000)),
    ));
    assert_eq!([b.1, c.1, d.1], [1, 2, 3]);

    let mut order = Vec::new();
    for (now, client) in [(10, 1), (20, 2), (30, 3)] {
        let outcome = run(&mut engine, now, release("db", client));
        assert!(matches!(
            outcome.reply,
            Reply::Released { again: false, .. }
        ));
        match outcome.events.as_slice() {
            [Event::Granted(grant)] => {
                assert_eq!(
                    grant.since, now,
                    "the next waiter is granted at the release time"
                );
                order.push((grant.request, grant.token));
            }
            other => panic!("expected one Granted event, got {other:?}"),
        }
    }
    assert_eq!(
        order,
        [(b.0, token(2)), (c.0, token(3)), (d.0, token(4))],
        "granted in arrival order"
    );
    assert_eq!(
        engine.next_deadline(),
        None,
        "D's wait deadline left with its wait"
    );
}

#[test]
fn positions_move_up_as_the_queue_drains() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Forever)));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, Some(50), Wait::Forever)));
    let position = |engine: &Engine, id| match engine.request(id).map(|view| view.state) {
        Some(RequestState::Waiting { position, .. }) => position,
        other => panic!("expected {id} waiting, got {other:?}"),
    };
    assert_eq!(position(&engine, c), 2);
    run(&mut engine, 3, cancel(b));
    assert_eq!(position(&engine, c), 1);
    let view = engine.request(c).expect("c is live");
    assert_eq!((view.resource.as_str(), view.created), ("db", 2));
}

#[test]
fn repoll_keeps_place_and_updates_deadline() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Until(100))));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    assert_eq!(engine.next_deadline(), Some(100));

    let again = run(&mut engine, 50, grab("db", 2, None, Wait::Until(200)));
    assert_eq!(queued(&again), (b, 1), "same request, same place");
    assert_eq!(
        engine.next_deadline(),
        Some(200),
        "the old deadline is gone from the index"
    );
    assert!(run(&mut engine, 150, Op::Tick).events.is_empty());

    let forever = run(&mut engine, 160, grab("db", 2, None, Wait::Forever));
    assert_eq!(queued(&forever), (b, 1));
    assert_eq!(engine.next_deadline(), None);
    assert_eq!(engine.lock("db").map(|l| l.waiting.len()), Some(2));
    assert!(engine.request(c).is_some());
}

#[test]
fn repoll_that_will_not_wait_leaves_the_queue() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Forever)));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));

    let outcome = run(&mut engine, 3, grab("db", 2, None, Wait::No));
    assert_eq!(
        outcome.events,
        [Event::TimedOut {
            request: b,
            resource: "db".into()
        }]
    );
    match outcome.reply {
        Reply::Busy(view) => assert_eq!(
            view.waiting.iter().map(|w| w.request).collect::<Vec<_>>(),
            [c]
        ),
        other => panic!("expected Busy, got {other:?}"),
    }
    assert_eq!(ended(&engine, b), Some((End::TimedOut, 3)));
}

#[test]
fn busy_on_wait_no_shows_the_holders_view_and_no_token() {
    let mut engine = Engine::new();
    let grant = granted(&run(&mut engine, 5, grab("db", 1, Some(1_000), Wait::No)));
    run(&mut engine, 6, grab("db", 2, None, Wait::Forever));

    let expected: LockView = engine.lock("db").expect("db is held");
    for wait in [Wait::No, Wait::Until(7), Wait::Until(3)] {
        match run(&mut engine, 7, grab("db", 3, None, wait)).reply {
            Reply::Busy(view) => assert_eq!(view, expected),
            other => panic!("expected Busy for {wait:?}, got {other:?}"),
        }
    }
    let holder = expected.holder().expect("held");
    assert_eq!(
        (holder.request, holder.fence, holder.since),
        (grant.request, grant.fence, 5)
    );
    assert_eq!((holder.expires, holder.renewed), (Some(1_005), 5));

    let json = serde_json::to_string(&engine.locks()).expect("views serialize");
    for client in 1..=2 {
        assert!(
            !json.contains(&token(client).to_string()),
            "a view shows a token: {json}"
        );
    }
}

#[test]
fn waiter_times_out_at_its_deadline() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let (b, _) = queued(&run(&mut engine, 10, grab("db", 2, None, Wait::Until(100))));
    assert_eq!(engine.next_deadline(), Some(100));
    assert!(run(&mut engine, 99, Op::Tick).events.is_empty());

    let outcome = run(&mut engine, 100, Op::Tick);
    assert_eq!(outcome.reply, Reply::Ticked);
    assert_eq!(
        outcome.events,
        [Event::TimedOut {
            request: b,
            resource: "db".into()
        }]
    );
    assert_eq!(engine.lock("db").map(|l| l.waiting), Some(vec![]));
    assert_eq!(ended(&engine, b), Some((End::TimedOut, 100)));
    assert_eq!(engine.next_deadline(), None);
    // It no longer waits, so releasing the lock does not hand it over.
    assert!(run(&mut engine, 101, release("db", 1)).events.is_empty());
}

#[test]
fn handover_skips_a_waiter_due_at_that_moment() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, Some(100), Wait::No)));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Until(100))));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, Some(10), Wait::Forever)));

    // A's expiry and B's deadline fall at the same instant; A's comes first by request id, and B,
    // whose deadline has passed at the hand-over, times out instead of being granted.
    let outcome = run(&mut engine, 100, Op::Tick);
    match outcome.events.as_slice() {
        [
            Event::Expired { request, fence, .. },
            Event::TimedOut {
                request: timed_out, ..
            },
            Event::Granted(grant),
        ] => {
            assert_eq!((*request, *fence), (a.request, a.fence));
            assert_eq!(*timed_out, b);
            assert_eq!(
                (grant.request, grant.since, grant.expires),
                (c, 100, Some(110))
            );
        }
        other => panic!("unexpected events {other:?}"),
    }
}

#[test]
fn acquire_of_a_free_resource_is_granted_whatever_the_wait() {
    let mut engine = Engine::new();
    for (i, wait) in [Wait::No, Wait::Until(0), Wait::Forever]
        .into_iter()
        .enumerate()
    {
        let name = format!("r{i}");
        let grant = granted(&run(&mut engine, 10, grab(&name, 1, None, wait)));
        assert_eq!(
            (grant.resource, grant.since, grant.expires),
            (name, 10, None)
        );
    }
}
