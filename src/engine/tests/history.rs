//! The history of a request: its metadata, when it was made, granted and renewed, and how and when
//! it ended, for every way a holder or a waiter can end.

use super::*;
use crate::engine::{Event, RequestView};

fn view(engine: &Engine, request: RequestId) -> RequestView {
    engine.request(request).expect("the request is readable")
}

#[test]
fn meta_is_kept_waiting_active_and_ended_and_a_repoll_keeps_the_first() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab_with("db", 1, Wait::No, "A")));
    assert_eq!(
        engine
            .lock("db")
            .and_then(|l| l.holder().cloned())
            .and_then(|h| h.meta),
        Some("A".to_owned())
    );
    let (b, _) = queued(&run(
        &mut engine,
        5,
        grab_with("db", 2, Wait::Until(100), r#"{"wait":5,"lifetime":300}"#),
    ));
    let meta = Some(r#"{"wait":5,"lifetime":300}"#.to_owned());
    match view(&engine, b) {
        RequestView {
            meta: m,
            state: RequestState::Waiting { waiter, .. },
            created: 5,
            granted: None,
            renewed: None,
            ..
        } => assert_eq!((m, waiter.meta), (meta.clone(), meta.clone())),
        other => panic!("expected b waiting, got {other:?}"),
    }
    assert_eq!(
        engine.lock("db").map(|l| l.waiting[0].meta.clone()),
        Some(meta.clone())
    );

    // A re-poll with other metadata (or none) keeps the first.
    let again = run(
        &mut engine,
        10,
        grab_with("db", 2, Wait::Until(200), "other"),
    );
    assert_eq!(queued(&again), (b, 1));
    run(&mut engine, 11, grab("db", 2, None, Wait::Until(200)));
    assert_eq!(view(&engine, b).meta, meta);
    // So does a holder's retry.
    let retry = run(&mut engine, 12, grab_with("db", 1, Wait::No, "other"));
    assert!(matches!(retry.reply, Reply::Granted { again: true, .. }));
    assert_eq!(view(&engine, a.request).meta.as_deref(), Some("A"));

    run(&mut engine, 20, release("db", 1));
    match view(&engine, b) {
        RequestView {
            meta: m,
            state: RequestState::Active(holder),
            created: 5,
            granted: Some(20),
            renewed: Some(20),
            ..
        } => assert_eq!((m, holder.meta), (meta.clone(), meta.clone())),
        other => panic!("expected b active, got {other:?}"),
    }
    run(&mut engine, 30, renew("db", 2, None));
    assert_eq!(view(&engine, b).renewed, Some(30));

    run(&mut engine, 40, release("db", 2));
    let ended = view(&engine, b);
    assert_eq!(
        ended,
        RequestView {
            resource: "db".into(),
            created: 5,
            holder: "client 2".into(),
            meta,
            ttl_ms: None,
            granted: Some(20),
            renewed: Some(30),
            waited: true,
            state: RequestState::Ended {
                end: End::Released,
                at: 40
            },
        }
    );
    assert_eq!(view(&engine, a.request).meta.as_deref(), Some("A"));
}

#[test]
fn a_release_and_a_clients_cancel_of_a_holder_are_released() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, Some(500), Wait::No)));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Forever)));
    run(&mut engine, 10, release("db", 1));
    assert_eq!(ended(&engine, a.request), Some((End::Released, 10)));
    let ended_a = view(&engine, a.request);
    assert_eq!(
        (ended_a.granted, ended_a.renewed, ended_a.ttl_ms),
        (Some(0), Some(0), Some(500))
    );
    run(&mut engine, 20, cancel(b));
    assert_eq!(ended(&engine, b), Some((End::Released, 20)));
    assert_eq!(view(&engine, b).granted, Some(10));
}

#[test]
fn a_waiter_that_leaves_is_abandoned_and_one_whose_wait_ends_timed_out() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let (cancelled, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Forever)));
    let (withdrawn, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    let (timed_out, _) = queued(&run(&mut engine, 3, grab("db", 4, None, Wait::Until(50))));
    let (graced, _) = queued(&run(
        &mut engine,
        4,
        poll("db", 5, None, Wait::Until(60), Some(40)),
    ));
    run(&mut engine, 10, cancel(cancelled));
    assert_eq!(
        run(&mut engine, 11, release("db", 3)).reply,
        Reply::Withdrawn { request: withdrawn }
    );
    run(&mut engine, 50, Op::Tick);
    run(&mut engine, 60, Op::Tick);
    assert_eq!(ended(&engine, graced), None, "detached, still waiting");
    run(&mut engine, 100, Op::Tick);
    assert_eq!(ended(&engine, cancelled), Some((End::Abandoned, 10)));
    assert_eq!(ended(&engine, withdrawn), Some((End::Abandoned, 11)));
    assert_eq!(ended(&engine, timed_out), Some((End::TimedOut, 50)));
    assert_eq!(ended(&engine, graced), Some((End::TimedOut, 100)));
    let never = view(&engine, timed_out);
    assert_eq!(
        (never.created, never.granted, never.renewed),
        (3, None, None)
    );
}

#[test]
fn a_waiter_due_at_a_handover_times_out_there() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, Some(100), Wait::No));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Until(100))));
    // The lease (id 1) and b's wait end at the same instant: the lease goes first, b is not granted.
    let outcome = run(&mut engine, 100, Op::Tick);
    assert_eq!(outcome.events.len(), 2);
    assert_eq!(ended(&engine, RequestId(1)), Some((End::Expired, 100)));
    assert_eq!(ended(&engine, b), Some((End::TimedOut, 100)));
}

#[test]
fn a_lease_that_runs_out_and_an_unclaimed_grant_are_expired() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, Some(100), Wait::No)));
    let (b, _) = queued(&run(
        &mut engine,
        1,
        poll("db", 2, None, Wait::Until(50), Some(100)),
    ));
    run(&mut engine, 50, Op::Tick);
    // a's lease runs out at 100: b, detached, is granted unclaimed until 200.
    let outcome = run(&mut engine, 100, Op::Tick);
    assert!(matches!(
        outcome.events.as_slice(),
        [Event::Expired { .. }, Event::Granted(_)]
    ));
    assert_eq!(ended(&engine, a.request), Some((End::Expired, 100)));
    run(&mut engine, 200, Op::Tick);
    assert_eq!(ended(&engine, b), Some((End::Expired, 200)));
    let b_view = view(&engine, b);
    assert_eq!((b_view.created, b_view.granted), (1, Some(100)));
}

#[test]
fn a_watcher_leaves_no_history() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let w = watching(&run(&mut engine, 1, watch("db", Wait::Forever)));
    assert_eq!(engine.token_of(w), None, "a watcher has no token");
    run(&mut engine, 2, release("db", 1));
    assert!(engine.request(w).is_none());
    assert_eq!(engine.ended_count(), 1);
}

#[test]
fn a_request_granted_at_once_did_not_wait_one_granted_from_the_queue_did() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 7, grab("db", 1, None, Wait::No)));
    assert!(!view(&engine, a.request).waited, "granted at once");
    // b waits, and is granted in the very millisecond it was made: `granted == created`, yet it waited.
    let (b, _) = queued(&run(&mut engine, 10, grab("db", 2, None, Wait::Forever)));
    assert!(view(&engine, b).waited, "waiting");
    run(&mut engine, 10, release("db", 1));
    let active = view(&engine, b);
    assert!(
        matches!(active.state, RequestState::Active(_)),
        "{active:?}"
    );
    assert_eq!((active.created, active.granted), (10, Some(10)));
    assert!(active.waited, "active after waiting");
    assert!(!view(&engine, a.request).waited, "ended, granted at once");

    // Through a snapshot, active and ended alike.
    let restored = super::snapshot::round_trip(&engine);
    assert!(view(&restored, b).waited, "restored active");
    assert!(!view(&restored, a.request).waited, "restored ended");

    run(&mut engine, 10, release("db", 2));
    let ended_b = view(&engine, b);
    assert_eq!(ended(&engine, b), Some((End::Released, 10)));
    assert_eq!((ended_b.created, ended_b.granted), (10, Some(10)));
    assert!(ended_b.waited, "ended after waiting");
    let restored = super::snapshot::round_trip(&engine);
    assert!(view(&restored, b).waited, "restored ended after waiting");
    assert!(!view(&restored, a.request).waited, "restored ended at once");

    // A waiter that ended waiting waited; a watcher did not.
    let c = granted(&run(&mut engine, 11, grab("db", 3, None, Wait::No)));
    let (d, _) = queued(&run(&mut engine, 11, grab("db", 4, None, Wait::Forever)));
    let w = watching(&run(&mut engine, 11, watch("db", Wait::Forever)));
    assert!(!view(&engine, c.request).waited && !view(&engine, w).waited);
    run(&mut engine, 12, cancel(d));
    assert_eq!(ended(&engine, d), Some((End::Abandoned, 12)));
    assert!(view(&engine, d).waited, "ended waiting");
    assert!(view(&super::snapshot::round_trip(&engine), d).waited);
}

#[test]
fn a_snapshot_without_waited_restores_it_from_the_times() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Forever)));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    run(&mut engine, 3, cancel(c));
    run(&mut engine, 5, release("db", 1));
    // An older snapshot: no `waited` anywhere.
    let mut value = serde_json::to_value(engine.snapshot()).expect("serializes");
    let holder = value["resources"][0]["holders"][0]
        .as_object_mut()
        .expect("a holder");
    assert_eq!(holder.remove("waited"), Some(serde_json::json!(true)));
    for ended in value["ended"].as_array_mut().expect("ended requests") {
        ended
            .as_object_mut()
            .expect("an ended request")
            .remove("waited");
    }
    let old: crate::engine::Snapshot = serde_json::from_value(value).expect("an old one parses");
    assert!(!old.resources[0].holders[0].waited && old.ended.iter().all(|e| !e.waited));
    let restored = Engine::restore(old).expect("an old one restores");
    restored.check_invariants();
    assert_eq!(
        restored, engine,
        "granted later than made, or never: it waited"
    );
    assert!(!view(&restored, a.request).waited);
    assert!(view(&restored, b).waited && view(&restored, c).waited);
}
