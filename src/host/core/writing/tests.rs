//! The rules of a grant being written, with time passed in: its lease cannot end under any
//! command until the write ends, and a late write makes it count from the write.

use super::super::DirectGrant;
use super::super::test_ops::{
    Core, TestWaiter, conn, grab, holder_token, parked, queue_of_three, release, run,
};
use super::*;

fn holder(inner: &Inner<TestWaiter>) -> String {
    holder_token(inner).unwrap_or_default()
}

/// Client 2's grant (lease 3 s, from t=2000), confirmed at t=2000 and being written.
fn writing_client_2(core: &Core) -> (WriteId, RequestId) {
    let mut inner = core.inner();
    let c2 = conn(2);
    let request = queue_of_three(core, &mut inner, &c2, 3_000);
    let (_, mut due) = run(core, &mut inner, 2_000, release(1));
    let (ready, _) = core.confirm_at(&mut inner, due.remove(0), 2_000, None);
    (
        ready.write.expect("a grant with a lease is being written"),
        request,
    )
}

#[test]
fn a_lease_being_written_outlasts_a_pause_and_counts_again_from_the_write() {
    let core = Core::default();
    let (write, request) = writing_client_2(&core);
    let mut inner = core.inner();
    // Paused between the confirmation and the write: the timer wakes at t=9000, past the lease.
    let (_, due) = run(&core, &mut inner, 9_000, Op::Tick);
    assert!(due.is_empty());
    assert_eq!(
        holder(&inner),
        "client 2",
        "not handed on while being written"
    );
    // The write ends at t=9000: the 3 s the answer reported count from there.
    let (_, late) = core.written_at(&mut inner, write, 9_000);
    let late = late.expect("said").to_string();
    assert!(
        late.contains("\"L\" (fence 2) was written 7000 ms late"),
        "{late}"
    );
    let grant = inner.engine.grant_of(request).expect("still held");
    assert_eq!(grant.expires, Some(12_000));
    assert_eq!(grant.ttl_ms, Some(3_000), "the lease's length is unchanged");
    run(&core, &mut inner, 11_999, Op::Tick);
    assert_eq!(holder(&inner), "client 2");
    run(&core, &mut inner, 12_000, Op::Tick);
    assert_eq!(holder(&inner), "client 3", "then it ends, as any lease");
    let (due, late) = core.written_at(&mut inner, write, 12_001);
    assert!(due.is_empty() && late.is_none(), "a write ends once");
}

#[test]
fn a_write_in_time_leaves_the_lease_as_it_was() {
    let core = Core::default();
    let (write, request) = writing_client_2(&core);
    let mut inner = core.inner();
    let (_, late) = core.written_at(&mut inner, write, 2_000 + LATE_WRITE_MS);
    assert_eq!(late, None);
    let grant = inner.engine.grant_of(request).expect("still held");
    assert_eq!(grant.expires, Some(5_000));
    run(&core, &mut inner, 5_000, Op::Tick);
    assert_eq!(holder(&inner), "client 3");
}

#[test]
fn a_write_keeps_its_lease_under_every_command_not_only_ticks() {
    let core = Core::default();
    let (write, request) = writing_client_2(&core);
    let mut inner = core.inner();
    // Another client's grab at t=9000 (a command like any) does not end the lease either: it
    // is extended first, to count from then.
    let (reply, _) = run(&core, &mut inner, 9_000, grab(4, None));
    assert!(matches!(reply, Reply::Queued { .. }), "{reply:?}");
    assert_eq!(holder(&inner), "client 2");
    assert_eq!(inner.engine.clock(), 9_000, "the clock is not held back");
    assert_eq!(
        inner.engine.grant_of(request).and_then(|g| g.expires),
        Some(12_000)
    );
    core.written_at(&mut inner, write, 9_000);
    assert_eq!(
        inner.engine.grant_of(request).and_then(|g| g.expires),
        Some(12_000)
    );
}

/// Client 2 (holding, lease 3 s) renews at t=3000; the renewal's answer as its worker has it.
fn renewal_of_client_2(core: &Core, inner: &mut Inner<TestWaiter>) -> DirectGrant {
    let op = Op::Renew {
        resource: "L".to_string(),
        token: uuid::Uuid::from_u128(2),
        ttl_ms: None,
    };
    let (reply, _) = run(core, inner, 3_000, op);
    DirectGrant::of(&reply, 3_000).expect("a renewal with a lease is written as a grant is")
}

#[test]
fn a_renewal_written_late_keeps_the_lease_it_reports() {
    let core = Core::default();
    let (write, request) = writing_client_2(&core);
    let mut inner = core.inner();
    core.written_at(&mut inner, write, 2_000);
    let renewal = renewal_of_client_2(&core, &mut inner);
    // Its worker gets to write it at t=3500: still held, so written, as a write.
    let (verdict, _) = core.confirm_renewal_at(&mut inner, &renewal, 3_500);
    let write = verdict.expect("held").expect("a write with a lease");
    // Paused until t=9000: the lease (to t=6000) does not end meanwhile, and counts again from
    // the write: the 3 s it reported from the renewal at t=3000.
    run(&core, &mut inner, 9_000, Op::Tick);
    assert_eq!(holder(&inner), "client 2");
    core.written_at(&mut inner, write, 9_000);
    assert_eq!(
        inner.engine.grant_of(request).and_then(|g| g.expires),
        Some(12_000)
    );
}

#[test]
fn a_renewal_whose_lease_ran_out_before_its_write_is_not_written() {
    let core = Core::default();
    let (write, request) = writing_client_2(&core);
    let mut inner = core.inner();
    core.written_at(&mut inner, write, 2_000);
    let renewal = renewal_of_client_2(&core, &mut inner);
    // Its worker was paused before it could even start the write: the lease (to t=6000) is over.
    let (verdict, _) = core.confirm_renewal_at(&mut inner, &renewal, 6_500);
    let reason = verdict.expect_err("not written");
    assert!(reason.contains("ran out before the answer"), "{reason}");
    assert!(inner.engine.grant_of(request).is_none());
    assert_eq!(holder(&inner), "client 3", "handed on, as the expiry would");
    assert!(inner.writing.is_empty());
}

#[test]
fn a_grant_made_while_a_lease_is_being_written_late_counts_from_the_present() {
    let core = Core::default();
    let (write, _) = writing_client_2(&core);
    let mut inner = core.inner();
    // Paused past client 2's lease (it ended at t=5000) while its answer was being written; on
    // resume, at t=9000, client 4 takes another lock with a lease of 3 s,.
    let op = match grab(4, Some(3_000)) {
        Op::Acquire(acquire) => Op::Acquire(crate::engine::Acquire {
            resource: "M".to_string(),
            wait: crate::engine::Wait::No,
            ..acquire
        }),
        other => other,
    };
    let grant = match run(&core, &mut inner, 9_000, op).0 {
        Reply::Granted { grant, .. } => grant,
        other => panic!("M is free: {other:?}"),
    };
    // Its lease counts from its grant, now: a clock held back to t=4999 would end it at t=7999,
    // already past, and client 4 (told it holds M for 3 s) would share M with the next taker.
    assert_eq!((grant.since, grant.expires), (9_000, Some(12_000)));
    core.written_at(&mut inner, write, 9_000);
    run(&core, &mut inner, 11_999, Op::Tick);
    assert!(
        inner.engine.grant_of(grant.request).is_some(),
        "M still held"
    );
}

#[test]
fn a_grant_without_a_lease_holds_nothing_back() {
    let core = Core::default();
    let mut inner = core.inner();
    let c2 = conn(2);
    run(&core, &mut inner, 1_000, grab(1, None));
    let request = match run(&core, &mut inner, 1_001, grab(2, None)).0 {
        Reply::Queued { request, .. } => request,
        other => panic!("client 2 should wait: {other:?}"),
    };
    inner.parked.insert(request, parked(&c2));
    let (_, mut due) = run(&core, &mut inner, 2_000, release(1));
    let (ready, _) = core.confirm_at(&mut inner, due.remove(0), 2_000, None);
    assert!(ready.write.is_none());
    assert!(inner.writing.is_empty());
}

#[test]
fn leases_being_written_are_kept_earliest_end_first() {
    let core = Core::default();
    let (first, request) = writing_client_2(&core);
    let mut inner = core.inner();
    // Another grant being written, on M, whose lease (1 s from t=2000) ends before client 2's.
    let op = match grab(4, Some(1_000)) {
        Op::Acquire(acquire) => Op::Acquire(crate::engine::Acquire {
            resource: "M".to_string(),
            wait: crate::engine::Wait::No,
            ..acquire
        }),
        other => other,
    };
    let other = match run(&core, &mut inner, 2_000, op).0 {
        Reply::Granted { grant, .. } => grant.request,
        other => panic!("M is free: {other:?}"),
    };
    let second = core.start_write(&mut inner, Claim::Request(other), 2_000, 2_000);
    let second = second.expect("a grant with a lease is being written");
    run(&core, &mut inner, 9_000, Op::Tick);
    let expires = |r| inner.engine.grant_of(r).and_then(|g| g.expires);
    assert_eq!(
        (expires(request), expires(other)),
        (Some(12_000), Some(10_000))
    );
    assert!(core.written_at(&mut inner, second, 9_000).1.is_some());
    assert!(core.written_at(&mut inner, first, 9_000).1.is_some());
    assert!(inner.writing.is_empty());
    assert!(!inner.writing.end(first), "a write ends once");
}

#[test]
fn a_late_write_restarts_the_lease_from_the_write() {
    let mut writing = Writing::default();
    let id = writing.start(RequestId(7), 3_000, 1_000);
    let write = writing.get(id).expect("in progress");
    assert!(!write.late(1_000 + LATE_WRITE_MS));
    assert!(write.late(1_001 + LATE_WRITE_MS));
    assert_eq!(write.until(4_600), 6_600, "2 s left at the confirmation");
}

#[test]
fn a_renewal_while_its_grant_is_being_delivered_is_not_given_back_under_its_write() {
    let core = Core::default();
    let mut inner = core.inner();
    let c2 = conn(2);
    let request = queue_of_three(&core, &mut inner, &c2, 3_000);
    let (_, mut due) = run(&core, &mut inner, 2_000, release(1));
    let (ready, _) = core.confirm_at(&mut inner, due.remove(0), 2_000, None);
    let (grant_write, (claim, op)) = (ready.write.expect("a write"), ready.undo.expect("a pledge"));
    // Client 2 renews with its token (it knows it holds L) while its parked grant is being written.
    let renewal = renewal_of_client_2(&core, &mut inner);
    let (verdict, _) = core.confirm_renewal_at(&mut inner, &renewal, 3_000);
    let renewal_write = verdict.expect("held").expect("a write with a lease");
    // The parked connection turns out to be gone: the grant's pledge comes back to the host.
    core.written_at(&mut inner, grant_write, 3_000);
    drop(inner);
    core.undo(claim, op);
    let mut inner = core.inner();
    // The renewal's answer ("renewed, 3 s left") is being written: its client holds L, and a
    // renewal is its own proof that the grant reached it (as a poll's retry is).
    assert_eq!(
        holder(&inner),
        "client 2",
        "ended while its renewal is written"
    );
    assert!(inner.engine.grant_of(request).is_some());
    core.written_at(&mut inner, renewal_write, 3_010);
}

#[test]
fn a_shared_holders_renewal_written_late_keeps_its_lease_alone() {
    let core = Core::default();
    let mut inner = core.inner();
    let shared = |client: u128| match grab(client, Some(3_000)) {
        Op::Acquire(mut a) => {
            a.mode = crate::engine::Mode::Shared;
            Op::Acquire(a)
        }
        other => other,
    };
    run(&core, &mut inner, 1_000, shared(1));
    let request = match run(&core, &mut inner, 1_000, shared(2)).0 {
        Reply::Granted { grant, .. } => grant.request,
        other => panic!("shared with client 1: {other:?}"),
    };
    run(&core, &mut inner, 1_000, grab(3, Some(3_000)));
    let op = Op::Renew {
        resource: "L".to_string(),
        token: uuid::Uuid::from_u128(2),
        ttl_ms: None,
    };
    let (reply, _) = run(&core, &mut inner, 2_000, op);
    let renewal = DirectGrant::of(&reply, 2_000).expect("a shared holder's renewal");
    let (verdict, _) = core.confirm_renewal_at(&mut inner, &renewal, 2_000);
    let write = verdict.expect("held").expect("a write");
    // Paused until t=9000: client 1's lease ends (t=4000), client 2's does not.
    run(&core, &mut inner, 9_000, Op::Tick);
    assert!(inner.engine.grant_of(request).is_some());
    assert_eq!(holder(&inner), "client 2");
    core.written_at(&mut inner, write, 9_000);
    assert_eq!(
        inner.engine.grant_of(request).and_then(|g| g.expires),
        Some(12_000)
    );
    run(&core, &mut inner, 12_000, Op::Tick);
    assert_eq!(holder(&inner), "client 3");
}

#[test]
fn only_a_write_a_second_late_or_more_says_so() {
    let late = |late_ms| LateWrite {
        resource: "L".to_string(),
        fence: 1,
        late_ms,
    };
    assert!(
        !late(SAID_LATE_MS - 1).worth_saying(),
        "a slow sync's delay"
    );
    assert!(late(SAID_LATE_MS).worth_saying(), "a pause's");
}

#[test]
fn a_renewal_ended_another_way_before_its_write_says_so() {
    let core = Core::default();
    let (write, _) = writing_client_2(&core);
    let mut inner = core.inner();
    core.written_at(&mut inner, write, 2_000);
    let renewal = renewal_of_client_2(&core, &mut inner);
    // Released through another connection before the renewal's answer could be written.
    run(&core, &mut inner, 3_100, release(2));
    let (verdict, _) = core.confirm_renewal_at(&mut inner, &renewal, 3_200);
    let reason = verdict.expect_err("not written");
    assert!(
        reason.contains("but it was ended before the answer"),
        "{reason}"
    );
}
