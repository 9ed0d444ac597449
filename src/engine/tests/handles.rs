//! Handles: a request's HAL uid and request-queue number come in with its command, are found both
//! ways while the request is live or retained, survive snapshots, and are made from the request id
//! for commands (and snapshots) from before they were random.

use uuid::Uuid;

use super::{grab, release, run};
use crate::engine::{
    Acquire, Command, ENDED_RETENTION_MS, Engine, Handles, NUMBER_LIMIT, Op, Reply, RequestId, Wait,
};

fn handles(uid: u128, number: u64) -> Handles {
    Handles {
        uid: Uuid::from_u128(uid),
        number,
    }
}

/// `grab`, asking for `h`.
fn grab_named(resource: &str, client: u128, wait: Wait, h: Handles) -> Op {
    match grab(resource, client, None, wait) {
        Op::Acquire(a) => Op::Acquire(Acquire {
            handles: Some(h),
            ..a
        }),
        _ => unreachable!(),
    }
}

fn request_of(reply: &Reply) -> RequestId {
    match reply {
        Reply::Granted { grant, .. } => grant.request,
        Reply::Queued { request, .. } => *request,
        other => panic!("not granted or queued: {other:?}"),
    }
}

#[test]
fn a_request_has_the_handles_its_command_carried_found_both_ways() {
    let mut engine = Engine::new();
    let (a, b) = (handles(0xaa4e_181e, 9_001), handles(0x5eed, 4_242));
    let holder = request_of(&run(&mut engine, 0, grab_named("db", 1, Wait::No, a)).reply);
    let waiter = request_of(&run(&mut engine, 1, grab_named("db", 2, Wait::Forever, b)).reply);
    assert_eq!(engine.handles(holder), Some(a));
    assert_eq!(engine.handles(waiter), Some(b));
    assert_eq!(engine.request_by_uid(a.uid), Some(holder));
    assert_eq!(engine.request_by_number(b.number), Some(waiter));
    // Neighbours of a handle name nothing.
    assert_eq!(engine.request_by_uid(Uuid::from_u128(0xaa4e_181f)), None);
    assert_eq!(engine.request_by_number(9_002), None);
    assert_eq!(
        engine.request_by_uid(Uuid::from_u128(holder.0.into())),
        None
    );
    assert_eq!(engine.request_by_number(holder.0), None);
}

#[test]
fn a_retry_keeps_its_requests_handles() {
    let mut engine = Engine::new();
    let first = handles(1_000, 1_000);
    let request = request_of(&run(&mut engine, 0, grab_named("db", 1, Wait::No, first)).reply);
    let again = run(
        &mut engine,
        1,
        grab_named("db", 1, Wait::No, handles(2_000, 2_000)),
    );
    assert_eq!(request_of(&again.reply), request);
    assert_eq!(engine.handles(request), Some(first));
    assert_eq!(engine.request_by_number(2_000), None);
}

#[test]
fn handles_last_while_the_request_is_retained_then_are_free() {
    let mut engine = Engine::new();
    let h = handles(77, 77_777);
    let request = request_of(&run(&mut engine, 0, grab_named("db", 1, Wait::No, h)).reply);
    run(&mut engine, 10, release("db", 1));
    assert_eq!(
        engine.request_by_uid(h.uid),
        Some(request),
        "ended, still readable"
    );
    run(&mut engine, 10 + ENDED_RETENTION_MS, Op::Tick);
    assert_eq!(engine.request(request), None);
    assert_eq!(engine.request_by_uid(h.uid), None);
    assert_eq!(engine.request_by_number(h.number), None);
    // Free again: a later request may get them.
    let later = request_of(
        &run(
            &mut engine,
            11 + ENDED_RETENTION_MS,
            grab_named("db", 2, Wait::No, h),
        )
        .reply,
    );
    assert_eq!(engine.handles(later), Some(h));
}

#[test]
fn taken_handles_move_to_the_next_free_ones() {
    let mut engine = Engine::new();
    let h = handles(u128::MAX, NUMBER_LIMIT - 1);
    let first = request_of(&run(&mut engine, 0, grab_named("a", 1, Wait::No, h)).reply);
    let second = request_of(&run(&mut engine, 0, grab_named("b", 2, Wait::No, h)).reply);
    assert_eq!(engine.handles(first), Some(h));
    assert_eq!(engine.handles(second), Some(handles(0, 1)));
    // Out of range: brought in range, never 0.
    let third = request_of(&run(&mut engine, 0, grab_named("c", 3, Wait::No, handles(5, 0))).reply);
    assert_eq!(engine.handles(third), Some(handles(5, 2)));
}

#[test]
fn without_handles_a_request_is_named_by_its_id_as_before() {
    let mut engine = Engine::new();
    let request = request_of(&run(&mut engine, 0, grab("db", 1, None, Wait::No)).reply);
    assert_eq!(engine.handles(request), Some(Handles::of_request(request)));
    assert_eq!(engine.request_by_number(request.0), Some(request));
    // An older journal's line: no `handles` field.
    let line = serde_json::to_string(&Command {
        now: 1,
        op: grab("db", 2, None, Wait::Forever),
    })
    .expect("serializes");
    assert!(!line.contains("handles"), "{line}");
    let command: Command = serde_json::from_str(&line).expect("an old line reads");
    let waiter = request_of(&engine.apply(command).reply);
    assert_eq!(engine.handles(waiter), Some(Handles::of_request(waiter)));
    assert_eq!(
        engine.request_by_uid(Uuid::from_u128(0x2)),
        Some(RequestId(2)),
        "uid 000…02, as the old URLs had it"
    );
}

/// An engine with a holder, a waiter and an ended request, each with random-looking handles, and
/// one made without (an old journal's).
fn engine_with_handles() -> Engine {
    let mut engine = Engine::new();
    run(
        &mut engine,
        0,
        grab_named("db", 1, Wait::No, handles(0xa1, 11)),
    );
    run(
        &mut engine,
        1,
        grab_named("db", 2, Wait::Forever, handles(0xa2, 12)),
    );
    run(&mut engine, 2, grab("db", 3, None, Wait::Forever));
    run(
        &mut engine,
        3,
        grab_named("x", 4, Wait::No, handles(0xa4, 14)),
    );
    run(&mut engine, 4, release("x", 4));
    engine
}

#[test]
fn handles_survive_a_snapshot() {
    let engine = engine_with_handles();
    let snapshot = engine.snapshot();
    let json = serde_json::to_string(&snapshot).expect("serializes");
    let read = serde_json::from_str(&json).expect("reads");
    let restored = Engine::restore(read).expect("restores");
    restored.check_invariants();
    assert_eq!(restored, engine);
    assert_eq!(restored.request_by_number(14), Some(RequestId(4)), "ended");
    assert_eq!(
        restored.request_by_uid(Uuid::from_u128(0xa2)),
        Some(RequestId(2))
    );
}

#[test]
fn a_version_2_snapshot_names_requests_by_their_ids() {
    let mut snapshot = engine_with_handles().snapshot();
    snapshot.version = 2;
    for resource in &mut snapshot.resources {
        resource.holders.iter_mut().for_each(|h| h.handles = None);
        resource.waiters.iter_mut().for_each(|w| w.handles = None);
    }
    snapshot.ended.iter_mut().for_each(|e| e.handles = None);
    let json = serde_json::to_string(&snapshot).expect("serializes");
    assert!(!json.contains("handles"), "as version 2 wrote it");
    let restored = Engine::restore(serde_json::from_str(&json).expect("reads")).expect("restores");
    restored.check_invariants();
    for id in 1..=4 {
        let request = RequestId(id);
        assert_eq!(
            restored.handles(request),
            Some(Handles::of_request(request))
        );
    }
}

#[test]
fn a_snapshot_giving_handles_twice_is_refused() {
    let mut snapshot = engine_with_handles().snapshot();
    snapshot.ended[0].handles = Some(handles(0xa1, 99));
    let refused = Engine::restore(snapshot).expect_err("a uid given twice");
    assert!(refused.contains("twice"), "{refused}");
    let mut snapshot = engine_with_handles().snapshot();
    snapshot.resources[0].waiters[0].handles = Some(handles(0xbb, NUMBER_LIMIT));
    let refused = Engine::restore(snapshot).expect_err("a number out of range");
    assert!(refused.contains("out of range"), "{refused}");
}
