//! The rules of the moment of writing, with time passed in: a grant is written only while it is
//! still its client's, expiries due at that moment come first, and a late direct answer is refused
//! and given back. No sleeps: each test says what the clock reads.

use super::super::test_ops::{
    Core, TestWaiter, conn, grab, holder_token, parked, queue_of_three, release, run,
};
use super::super::{Answer, Claim, Inner, Parked};
use super::DirectGrant;
use crate::engine::{Acquire, CancelBy, Command, Engine, Millis, Op, Reply, Wait};

#[test]
fn a_parked_grant_whose_lease_ran_out_before_writing_is_not_written_and_the_next_is_granted() {
    let core = Core::default();
    let mut inner = core.inner();
    let c2 = conn(2);
    let request = queue_of_three(&core, &mut inner, &c2, 3_000);
    // Client 1 releases at t=2000: client 2 is granted (lease to t=5000), its answer due.
    let (_, mut due) = run(&core, &mut inner, 2_000, release(1));
    assert_eq!(due.len(), 1, "client 2's grant is due");
    let delivery = due.remove(0);
    assert_eq!(delivery.request, request);

    // The server was paused: the answer is about to be written at t=6000, past the lease.
    let (ready, more) = core.confirm_at(&mut inner, delivery, 6_000, None);
    let reason = ready
        .response
        .map(|r| r())
        .expect_err("a grant past its lease is not written");
    assert!(reason.contains("lease ran out"), "{reason}");
    assert!(
        ready.undo.is_none(),
        "expired already: nothing to give back"
    );
    // The expiry was applied first, in the same step: client 3 holds the lock now, alone.
    assert_eq!(holder_token(&inner), Some("client 3".to_string()));
    assert!(inner.engine.grant_of(request).is_none());
    assert!(!inner.unclaimed.contains(&Claim::Request(request)));
    assert!(
        more.is_empty(),
        "client 3 is not parked here: nothing to deliver"
    );
}

#[test]
fn a_parked_grant_still_held_when_written_is_rendered_then() {
    let core = Core::default();
    let mut inner = core.inner();
    let c2 = conn(2);
    let request = queue_of_three(&core, &mut inner, &c2, 3_000);
    let (_, mut due) = run(&core, &mut inner, 2_000, release(1));
    // Written 1.5 s later, with 1.5 s of its lease left: still its client's.
    let (ready, more) = core.confirm_at(&mut inner, due.remove(0), 3_500, None);
    let response = ready.response.expect("written")();
    assert_eq!(response.0, 200);
    assert!(
        ready.undo.is_some(),
        "a client gone now would still give it back"
    );
    assert!(more.is_empty());
    assert_eq!(holder_token(&inner), Some("client 2".to_string()));
    assert!(inner.engine.grant_of(request).is_some());
}

#[test]
fn a_parked_grant_ended_before_writing_is_not_written() {
    let core = Core::default();
    let mut inner = core.inner();
    let c2 = conn(2);
    let request = queue_of_three(&core, &mut inner, &c2, 60_000);
    let (_, mut due) = run(&core, &mut inner, 2_000, release(1));
    let delivery = due.remove(0);
    // An administrator ended it before its answer went out.
    let cancel = Op::Cancel {
        request,
        by: CancelBy::Admin,
    };
    run(&core, &mut inner, 2_001, cancel);
    let (ready, _) = core.confirm_at(&mut inner, delivery, 2_002, None);
    let reason = ready
        .response
        .map(|r| r())
        .expect_err("an ended grant is not written");
    assert!(reason.contains("ended"), "{reason}");
    assert!(ready.undo.is_none());
    assert_eq!(holder_token(&inner), Some("client 3".to_string()));
}

#[test]
fn a_grant_that_cannot_be_confirmed_is_not_written_and_is_kept_to_be_given_back() {
    let core = Core::default();
    let mut inner = core.inner();
    let c2 = conn(2);
    let request = queue_of_three(&core, &mut inner, &c2, 60_000);
    let (_, mut due) = run(&core, &mut inner, 2_000, release(1));
    let why = Some("etcd did not answer".to_string());
    let (ready, _) = core.confirm_at(&mut inner, due.remove(0), 2_001, why);
    let reason = ready
        .response
        .map(|r| r())
        .expect_err("unconfirmed: not written");
    assert!(reason.contains("etcd did not answer"), "{reason}");
    assert_eq!(
        ready.undo.map(|(claim, _)| claim),
        Some(Claim::Request(request))
    );
    assert!(inner.unclaimed.contains(&Claim::Request(request)));
}

#[test]
fn answers_that_are_not_grants_are_rendered_without_checks() {
    let core = Core::default();
    let mut inner = core.inner();
    let c2 = conn(2);
    run(&core, &mut inner, 1_000, grab(1, None));
    let waiter = Op::Acquire(Acquire {
        wait: Wait::Until(2_000),
        ..match grab(2, None) {
            Op::Acquire(a) => a,
            _ => unreachable!(),
        }
    });
    let request = match run(&core, &mut inner, 1_001, waiter).0 {
        Reply::Queued { request, .. } => request,
        other => panic!("client 2 should wait: {other:?}"),
    };
    inner.parked.insert(request, parked(&c2));
    let (_, mut due) = run(&core, &mut inner, 2_500, Op::Tick);
    let (ready, _) = core.confirm_at(&mut inner, due.remove(0), 9_000, None);
    assert_eq!(ready.response.expect("written")().0, 409);
    assert!(ready.undo.is_none());
}

fn direct(
    core: &Core,
    inner: &mut Inner<TestWaiter>,
    now: Millis,
    ttl_ms: Option<u64>,
) -> DirectGrant {
    let reply = run(core, inner, now, grab(1, ttl_ms)).0;
    DirectGrant::of(&reply, now).expect("a grant")
}

#[test]
fn a_late_direct_grant_is_refused_and_given_back_to_the_next_in_line() {
    let core = Core::default();
    let mut inner = core.inner();
    let grant = direct(&core, &mut inner, 1_000, Some(4_000));
    run(&core, &mut inner, 1_001, grab(2, Some(4_000)));
    // Written 2 s late (more than a quarter of its lease): its reported lease is untrue by then.
    let (verdict, more) = core.confirm_direct_at(&mut inner, &grant, 3_000);
    let reason = verdict.expect_err("refused");
    assert!(reason.contains("too late"), "{reason}");
    assert!(more.is_empty());
    assert_eq!(
        holder_token(&inner),
        Some("client 2".to_string()),
        "given back"
    );
}

#[test]
fn a_direct_grant_past_its_lease_is_refused_after_the_expiry() {
    let core = Core::default();
    let mut inner = core.inner();
    let grant = direct(&core, &mut inner, 1_000, Some(3_000));
    run(&core, &mut inner, 1_001, grab(2, Some(3_000)));
    let (verdict, _) = core.confirm_direct_at(&mut inner, &grant, 5_000);
    let reason = verdict.expect_err("refused");
    assert!(reason.contains("lease ran out"), "{reason}");
    assert_eq!(holder_token(&inner), Some("client 2".to_string()));
}

#[test]
fn a_late_direct_grant_without_a_lease_is_still_written() {
    let core = Core::default();
    let mut inner = core.inner();
    let grant = direct(&core, &mut inner, 1_000, None);
    let (verdict, _) = core.confirm_direct_at(&mut inner, &grant, 60_000);
    assert!(verdict.is_ok());
    assert_eq!(holder_token(&inner), Some("client 1".to_string()));
}

#[test]
fn a_direct_grant_may_be_late_by_a_quarter_of_its_lease_and_at_most_a_second() {
    let now = 1_000;
    let reply = |ttl_ms: Option<u64>| {
        let mut engine = Engine::new();
        engine
            .apply(Command {
                now,
                op: grab(1, ttl_ms),
            })
            .reply
    };
    let of = |ttl| DirectGrant::of(&reply(ttl), now).expect("a grant");
    assert_eq!(of(Some(400)).allowed_lateness(), 100);
    assert_eq!(of(Some(60_000)).allowed_lateness(), super::LATE_MS);
    assert_eq!(of(None).allowed_lateness(), super::LATE_MS);
}

/// With `--store`: a late direct grant that cannot be confirmed (etcd does not answer) is refused,
/// and its give-back is not lost with the failed write: it goes to the background to be written
/// again, as every other give-back does. A grant without a lease, refused and never given back,
/// would be held for ever while its client was told it holds nothing.
#[test]
fn a_refused_direct_grant_on_an_unreachable_store_is_still_given_back() {
    use crate::host::replica::{Body, Job, Origins, Replica, SharedSnapshot};
    let mut engine = Engine::new();
    let reply = engine
        .apply(Command {
            now: 1_000,
            op: grab(1, None),
        })
        .reply;
    let request = match &reply {
        Reply::Granted { grant, .. } => grant.request,
        other => panic!("client 1 should hold: {other:?}"),
    };
    let snapshot = SharedSnapshot {
        revision: 10,
        engine: engine.snapshot(),
        origins: Origins::default().snapshot(),
    };
    // An etcd nobody listens at: no catch-up, no write, can succeed.
    let url = "etcd://127.0.0.1:9/t".parse().expect("a store URL");
    let (replica, queues) = Replica::new(crate::store::Store::new(url));
    let core = Core::replicated(snapshot, replica).expect("a core");
    // Written long after it was answered.
    let grant = DirectGrant::of(&reply, 1_000).expect("a grant");
    let (verdict, _) = core.confirm_direct(&grant);
    let reason = verdict.expect_err("refused: it cannot be confirmed");
    assert!(reason.contains("confirm"), "{reason}");
    let given_back = queues.jobs_so_far().into_iter().any(|j| {
        matches!(&j, Job::Append(e) if matches!(&e.body,
            Body::Command { command, .. } if command.op == Op::Cancel { request, by: CancelBy::Client }))
    });
    assert!(
        given_back,
        "its give-back waits in the background to be written again"
    );
}

/// A parked answer that is not a grant shows the state as of the step that made it due, which the
/// delivery's barrier has put on disk before it is written (`threads::deliver`); never a change made
/// after that (journaled by another thread, perhaps not yet synced when the answer goes out), which
/// a crash could take back after the client heard of it. Here a gate watcher, whose answer is the
/// gate as the engine shows it (as `gatekeeper::watch_gate`'s is): woken by the gate opening with
/// message "deploy 1", it must not report the closing and message that came after.
#[test]
fn a_watchers_answer_shows_no_change_made_after_it_was_due() {
    use crate::engine::{GateReply, GateState};
    let core = Core::default();
    let mut inner = core.inner();
    let c = conn(5);
    let set = |state, message: &str| Op::SetGate {
        service: "s".to_string(),
        environment: "prod".to_string(),
        state: Some(state),
        message: Some(message.to_string()),
    };
    let create = Op::CreateService {
        service: "s".to_string(),
        group: "g".to_string(),
        environments: vec!["prod".to_string()],
    };
    run(&core, &mut inner, 1_000, create);
    run(&core, &mut inner, 1_000, set(GateState::Closed, "frozen"));
    let watch = Op::WatchGate {
        service: "s".to_string(),
        environment: "prod".to_string(),
        wait: Wait::Until(60_000),
    };
    let request = match run(&core, &mut inner, 1_001, watch).0 {
        Reply::Gate(GateReply::Watching { request }) => request,
        other => panic!("the watcher should wait: {other:?}"),
    };
    let watcher = Parked {
        waiter: c.clone(),
        responder: Box::new(|_: &Answer, engine: &Engine| {
            let gate = engine
                .service("s")
                .and_then(|s| s.environments.get("prod").cloned());
            let doc = gate.map_or(
                serde_json::Value::Null,
                |g| serde_json::json!({"open": g.state == GateState::Open, "message": g.message}),
            );
            Box::new(move || (200, doc))
        }),
    };
    inner.parked.insert(request, watcher);
    let (_, mut due) = run(&core, &mut inner, 2_000, set(GateState::Open, "deploy 1"));
    assert_eq!(due.len(), 1, "the watcher's answer is due");
    // Its batch's barrier has passed; then another client closes the gate again.
    run(&core, &mut inner, 2_001, set(GateState::Closed, "incident"));
    let (ready, _) = core.confirm_at(&mut inner, due.remove(0), 2_002, None);
    let body = ready.response.expect("written")().1;
    assert_eq!(
        body,
        serde_json::json!({"open": true, "message": "deploy 1"}),
        "the gate as it was when the watcher's answer became due"
    );
}

/// With `--store` a worker's own grant comes back from the log only once its entry is applied,
/// which may take seconds (a slow etcd): its lease, counted from the proposal, may be over by then.
/// Answered at once, it is not late, yet it is no longer its client's: it is confirmed like a late
/// one, and refused.
#[test]
fn a_direct_grant_whose_lease_is_over_when_written_is_refused_however_soon() {
    use crate::host::replica::{Origins, Replica, SharedSnapshot};
    let now = crate::timefmt::now_ms();
    let proposed = now - 3_000;
    let mut engine = Engine::new();
    let reply = engine
        .apply(Command {
            now: proposed,
            op: grab(1, Some(1_000)),
        })
        .reply;
    let snapshot = SharedSnapshot {
        revision: 10,
        engine: engine.snapshot(),
        origins: Origins::default().snapshot(),
    };
    let url = "etcd://127.0.0.1:9/t".parse().expect("a store URL");
    let (replica, _queues) = Replica::new(crate::store::Store::new(url));
    let core = Core::replicated(snapshot, replica).expect("a core");
    // The reply came back just now, 2 s after its lease ran out.
    let grant = DirectGrant::of(&reply, now).expect("a grant");
    let (verdict, _) = core.confirm_direct(&grant);
    let reason = verdict.expect_err("not written: its lease is over");
    assert!(reason.contains("lease ran out"), "{reason}");
}
