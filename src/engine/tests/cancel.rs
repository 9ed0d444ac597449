//! Cancel: a request ended from outside, waiting or active.

use super::*;
use crate::engine::{Event, Refusal, RequestState};

#[test]
fn cancel_of_a_waiter_leaves_the_queue() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Until(100))));
    let outcome = run(&mut engine, 2, cancel(b));
    assert_eq!(
        outcome,
        Outcome {
            reply: Reply::Cancelled,
            events: vec![]
        }
    );
    assert_eq!(ended(&engine, b), Some((End::Abandoned, 2)));
    assert_eq!(engine.next_deadline(), None);
    let lock = engine.lock("db").expect("still held");
    assert!(lock.waiting.is_empty());
    assert_eq!(
        lock.holder().cloned().map(|h| h.request),
        Some(a.request),
        "the holder is untouched"
    );
}

#[test]
fn cancel_of_the_holder_grants_the_next_waiter() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, Some(100), Wait::No)));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Forever)));
    let outcome = run(&mut engine, 50, cancel(a.request));
    assert_eq!(outcome.reply, Reply::Cancelled);
    match outcome.events.as_slice() {
        [
            Event::Released {
                request,
                resource,
                fence,
            },
            Event::Granted(grant),
        ] => {
            assert_eq!(
                (*request, resource.as_str(), *fence),
                (a.request, "db", a.fence)
            );
            assert_eq!((grant.request, grant.token, grant.since), (b, token(2), 50));
        }
        other => panic!("expected Released then Granted, got {other:?}"),
    }
    assert_eq!(
        engine.next_deadline(),
        None,
        "the cancelled lease is no longer due"
    );
    // The cancelled holder did not release it itself: its retry is not told "released".
    assert_eq!(
        run(&mut engine, 51, release("db", 1)).reply,
        Reply::Refused(Refusal::WrongToken)
    );
}

#[test]
fn cancel_of_an_unknown_or_ended_request_is_refused() {
    let mut engine = Engine::new();
    let refused = Reply::Refused(Refusal::UnknownRequest);
    assert_eq!(run(&mut engine, 0, cancel(RequestId(1))).reply, refused);
    let a = granted(&run(&mut engine, 1, grab("db", 1, None, Wait::No)));
    assert_eq!(
        run(&mut engine, 2, cancel(a.request)).reply,
        Reply::Cancelled
    );
    assert_eq!(run(&mut engine, 3, cancel(a.request)).reply, refused);
    assert_eq!(engine.resource_count(), 0);
}

#[test]
fn request_view_shows_active_and_waiting_requests() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        5,
        grab("db", 2, Some(30), Wait::Until(90)),
    ));
    match engine.request(b).map(|v| (v.created, v.state)) {
        Some((
            5,
            RequestState::Waiting {
                position: 1,
                waiter,
            },
        )) => {
            assert_eq!(
                (waiter.since, waiter.deadline, waiter.ttl_ms),
                (5, Some(90), Some(30))
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    run(&mut engine, 20, release("db", 1));
    assert_eq!(
        ended(&engine, a.request),
        Some((End::Released, 20)),
        "an ended request is still readable"
    );
    match engine.request(b).map(|v| (v.created, v.state)) {
        Some((5, RequestState::Active(holder))) => {
            assert_eq!(
                (holder.since, holder.expires, holder.renewed),
                (20, Some(50), 20)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}
