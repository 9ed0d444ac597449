//! Leases: expiry hands over at the expiry time, renewals push the deadline, late commands see it.

use super::*;
use crate::engine::{Event, Refusal};

#[test]
fn lease_expiry_hands_over_at_tick_time_and_next_deadline_reports_it() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, Some(1_000), Wait::No)));
    assert_eq!(a.expires, Some(1_000));
    let (b, _) = queued(&run(
        &mut engine,
        10,
        grab("db", 2, Some(500), Wait::Forever),
    ));
    assert_eq!(engine.next_deadline(), Some(1_000));

    assert!(
        run(&mut engine, 999, Op::Tick).events.is_empty(),
        "not due yet"
    );
    let outcome = run(&mut engine, 1_000, Op::Tick);
    match outcome.events.as_slice() {
        [
            Event::Expired {
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
            assert_eq!(grant.request, b);
            assert_eq!(
                grant.since, 1_000,
                "the next holder's lease starts at the hand-over"
            );
            assert_eq!(grant.expires, Some(1_500));
            assert!(grant.fence > a.fence);
        }
        other => panic!("expected Expired then Granted, got {other:?}"),
    }
    assert_eq!(engine.next_deadline(), Some(1_500));
    let expired = run(&mut engine, 1_500, Op::Tick);
    assert!(matches!(expired.events.as_slice(), [Event::Expired { .. }]));
    assert_eq!(engine.resource_count(), 0);
    assert_eq!(engine.next_deadline(), None);
}

#[test]
fn renew_pushes_the_deadline() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, Some(1_000), Wait::No));
    let renewed = run(&mut engine, 800, renew("db", 1, None));
    match renewed.reply {
        Reply::Renewed { grant } => assert_eq!((grant.since, grant.expires), (0, Some(1_800))),
        other => panic!("expected Renewed, got {other:?}"),
    }
    assert_eq!(engine.next_deadline(), Some(1_800));
    let holder = engine
        .lock("db")
        .and_then(|l| l.holder().cloned())
        .expect("held");
    assert_eq!((holder.renewed, holder.since), (800, 0));

    assert!(
        run(&mut engine, 1_000, Op::Tick).events.is_empty(),
        "the old deadline is gone"
    );
    run(&mut engine, 1_200, renew("db", 1, Some(100)));
    assert_eq!(
        engine.next_deadline(),
        Some(1_300),
        "a new ttl replaces the old one"
    );
    assert!(!run(&mut engine, 1_300, Op::Tick).events.is_empty());
    assert_eq!(engine.resource_count(), 0);
}

#[test]
fn renew_with_a_ttl_gives_an_unleased_lock_a_lease() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    assert_eq!(engine.next_deadline(), None);
    match run(&mut engine, 50, renew("db", 1, None)).reply {
        Reply::Renewed { grant } => assert_eq!((grant.ttl_ms, grant.expires), (None, None)),
        other => panic!("expected Renewed, got {other:?}"),
    }
    match run(&mut engine, 60, renew("db", 1, Some(300))).reply {
        Reply::Renewed { grant } => {
            assert_eq!((grant.ttl_ms, grant.expires), (Some(300), Some(360)))
        }
        other => panic!("expected Renewed, got {other:?}"),
    }
    assert_eq!(engine.next_deadline(), Some(360));
}

#[test]
fn renew_by_anyone_but_the_holder_is_refused() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, Some(100), Wait::No));
    run(&mut engine, 1, grab("db", 2, None, Wait::Forever));
    let refused = |engine: &mut Engine, client, now| match run(
        engine,
        now,
        renew("db", client, None),
    )
    .reply
    {
        Reply::Refused(refusal) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        refused(&mut engine, 2, 2),
        Refusal::WrongToken,
        "a waiter is not the holder"
    );
    assert_eq!(refused(&mut engine, 3, 3), Refusal::WrongToken);
    assert_eq!(
        engine.next_deadline(),
        Some(100),
        "a refused renew changes nothing"
    );
    run(&mut engine, 4, release("db", 2));
    run(&mut engine, 5, release("db", 1));
    assert_eq!(refused(&mut engine, 1, 6), Refusal::NotHeld);
}

#[test]
fn a_late_command_sees_the_lease_already_expired() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, Some(100), Wait::No)));
    // No Tick was sent at 100; the next command expires the lease before it does anything else.
    let outcome = run(&mut engine, 150, grab("db", 2, None, Wait::No));
    assert_eq!(
        outcome.events,
        [Event::Expired {
            request: a.request,
            resource: "db".into(),
            fence: a.fence
        }]
    );
    let b = granted(&outcome);
    assert_eq!(b.since, 150);
    assert_eq!(
        run(&mut engine, 160, renew("db", 1, None)).reply,
        Reply::Refused(Refusal::WrongToken),
        "an expired lease cannot be renewed"
    );
}

#[test]
fn huge_ttls_saturate_instead_of_overflowing() {
    let mut engine = Engine::new();
    let grant = granted(&run(
        &mut engine,
        10,
        grab("db", 1, Some(u64::MAX), Wait::No),
    ));
    assert_eq!(grant.expires, Some(u64::MAX));
    run(&mut engine, 20, renew("db", 1, Some(u64::MAX - 5)));
    assert_eq!(engine.next_deadline(), Some(u64::MAX));
    run(&mut engine, u64::MAX - 1, Op::Tick);
    assert_eq!(engine.resource_count(), 1);
    run(&mut engine, u64::MAX, Op::Tick);
    assert_eq!(engine.resource_count(), 0);
}

#[test]
fn extend_only_lengthens_a_lease_and_keeps_its_length() {
    let mut engine = Engine::new();
    let request = granted(&run(&mut engine, 0, grab("db", 1, Some(1_000), Wait::No))).request;
    let extend = |until| Op::Extend { request, until };
    match run(&mut engine, 500, extend(2_500)).reply {
        Reply::Renewed { grant } => {
            assert_eq!((grant.ttl_ms, grant.expires), (Some(1_000), Some(2_500)))
        }
        other => panic!("expected Renewed, got {other:?}"),
    }
    assert_eq!(engine.next_deadline(), Some(2_500));
    run(&mut engine, 600, extend(1_200));
    assert_eq!(engine.next_deadline(), Some(2_500), "never shorter");
    let holder = engine
        .lock("db")
        .and_then(|l| l.holder().cloned())
        .expect("held");
    assert_eq!(holder.renewed, 0, "not the holder's heartbeat");
    assert!(run(&mut engine, 2_499, Op::Tick).events.is_empty());
    assert!(!run(&mut engine, 2_500, Op::Tick).events.is_empty());
    assert_eq!(engine.resource_count(), 0);
}

#[test]
fn extend_of_a_waiter_an_unleased_holder_or_an_ended_request_changes_nothing() {
    let mut engine = Engine::new();
    let holder = granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No))).request;
    let waiter = match run(&mut engine, 1, grab("db", 2, Some(100), Wait::Forever)).reply {
        Reply::Queued { request, .. } => request,
        other => panic!("expected Queued, got {other:?}"),
    };
    let extend = |request| Op::Extend {
        request,
        until: 5_000,
    };
    assert!(matches!(
        run(&mut engine, 2, extend(waiter)).reply,
        Reply::Refused(Refusal::NotHeld)
    ));
    match run(&mut engine, 3, extend(holder)).reply {
        Reply::Renewed { grant } => assert_eq!((grant.ttl_ms, grant.expires), (None, None)),
        other => panic!("expected Renewed, got {other:?}"),
    }
    assert_eq!(engine.next_deadline(), None, "no lease is given");
    assert!(matches!(
        run(&mut engine, 4, extend(RequestId(99))).reply,
        Reply::Refused(Refusal::UnknownRequest)
    ));
}
