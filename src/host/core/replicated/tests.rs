//! A server that fell behind a compaction of the log restores the stored snapshot: what the entries
//! it skipped did to its own waiters, and to its tick in flight, is settled then. No etcd needed:
//! what the core would write goes to its background queue, read here.
use std::time::Duration;

use uuid::Uuid;

use super::super::test_ops::{Core, TestWaiter, grab};
use super::super::{Answer, Claim, Parked};
use super::Proposal;
use crate::engine::{Command, Engine, Millis, Op, Reply, RequestId};
use crate::host::replica::{Body, Entry, Job, Origin, Origins, Queues, Replica, SharedSnapshot};
use crate::store::Store;

fn apply(engine: &mut Engine, now: Millis, op: Op) -> Reply {
    engine.apply(Command { now, op }).reply
}

fn shared(revision: i64, engine: &Engine, origins: &Origins) -> SharedSnapshot {
    SharedSnapshot {
        revision,
        engine: engine.snapshot(),
        origins: origins.snapshot(),
    }
}

/// A replicated core from `snapshot`, on an etcd nobody listens at (nothing here calls it).
fn core(snapshot: SharedSnapshot) -> (Core, Queues) {
    let url = "etcd://127.0.0.1:9/t".parse().expect("a store URL");
    let (replica, queues) = Replica::new(Store::new(url));
    let core = Core::replicated(snapshot, replica).expect("a core");
    (core, queues)
}

fn me(core: &Core) -> Uuid {
    core.replica().map(|r| r.id).expect("replicated")
}

/// L held by client 1 (no lease) and client 2 waiting: its request.
fn held_and_waited(engine: &mut Engine) -> RequestId {
    apply(engine, 1_000, grab(1, None));
    match apply(engine, 1_001, grab(2, None)) {
        Reply::Queued { request, .. } => request,
        other => panic!("client 2 should wait: {other:?}"),
    }
}

fn ticks(jobs: &[Job]) -> usize {
    jobs.iter()
        .filter(|j| matches!(j, Job::Append(e) if matches!(&e.body, Body::Command { command, .. } if command.op == Op::Tick)))
        .count()
}

#[test]
fn a_tick_in_flight_that_a_restore_skipped_does_not_stop_this_servers_ticks() {
    let mut engine = Engine::new();
    // A lease that ran out long ago: a tick is due.
    apply(&mut engine, 1_000, grab(1, Some(1_000)));
    let (core, queues) = core(shared(10, &engine, &Origins::default()));
    core.tick_and_sleep(Duration::ZERO);
    assert_eq!(ticks(&queues.jobs_so_far()), 1, "a tick is proposed");

    // Its entry lies below the snapshot: never applied here.
    core.restore(shared(20, &engine, &Origins::default()))
        .expect("restored");
    core.tick_and_sleep(Duration::ZERO);
    assert_eq!(
        ticks(&queues.jobs_so_far()),
        1,
        "the tick still due is proposed again"
    );
}

#[test]
fn a_request_parked_here_by_skipped_entries_with_no_connection_is_ended() {
    let (core, queues) = core(shared(10, &Engine::new(), &Origins::default()));
    let mut engine = Engine::new();
    let request = held_and_waited(&mut engine);
    let mut origins = Origins::default();
    let origin = Origin {
        server: me(&core),
        seq: 7,
        revision: 15,
    };
    origins.park(request, origin.clone());

    core.restore(shared(20, &engine, &origins))
        .expect("restored");
    let ended = queues.jobs_so_far().into_iter().any(|j| {
        matches!(&j, Job::Append(e) if matches!(&e.body,
            Body::EndParked { request: r, origin: o, .. } if *r == request && *o == origin))
    });
    assert!(ended, "its end is proposed: nobody would collect a grant");
}

#[test]
fn a_connection_parked_here_whose_grant_was_in_skipped_entries_is_told_of_it() {
    let (core, _queues) = core(shared(10, &Engine::new(), &Origins::default()));
    let mut engine = Engine::new();
    let request = held_and_waited(&mut engine);
    let mut origins = Origins::default();
    let origin = Origin {
        server: me(&core),
        seq: 7,
        revision: 15,
    };
    origins.park(request, origin);
    core.restore(shared(20, &engine, &origins))
        .expect("restored");
    // Its connection, parked here when that entry was applied.
    let parked = Parked {
        waiter: TestWaiter::new(1),
        responder: Box::new(|_: &Answer, _: &Engine| Box::new(|| (200, serde_json::Value::Null))),
    };
    core.inner().parked.insert(request, parked);

    // Skipped: client 1 released, and client 2 was granted, from here.
    let release = Op::Release {
        resource: "L".to_string(),
        token: Uuid::from_u128(1),
    };
    apply(&mut engine, 2_000, release);
    origins.unpark(request, Some(Claim::Request(request)), 2_000);
    let deliveries = core
        .restore(shared(30, &engine, &origins))
        .expect("restored");
    assert_eq!(deliveries.len(), 1, "its connection is answered");
    // Rendered only when it is written (`core::confirm`): what it will say.
    let answer = format!("{:?}", deliveries[0].answer);
    assert!(
        answer.starts_with("Granted"),
        "told of its grant, not of an end: {answer}"
    );
}

/// Entries of one value (one etcd put, group commit) from `server`, numbered from 1.
fn value(server: Uuid, ops: Vec<Op>) -> Vec<Entry> {
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| Entry {
            server,
            seq: i as u64 + 1,
            body: Body::Command {
                command: Command { now: 1_000, op },
                parks: false,
            },
        })
        .collect()
}

#[test]
fn a_value_of_several_entries_is_applied_whole_and_once_under_its_revision() {
    let (core, _queues) = core(shared(10, &Engine::new(), &Origins::default()));
    let mut engine = Engine::new();
    apply(&mut engine, 1_000, grab(1, None));
    apply(&mut engine, 1_000, grab(2, None));
    let entries = value(Uuid::from_u128(99), vec![grab(1, None), grab(2, None)]);
    core.apply_value(11, Ok(entries.clone()));
    assert_eq!(core.applied_revision(), 11);
    assert_eq!(core.shared_snapshot().engine, engine.snapshot());
    // Anything at revision 11 again (a watch reopened at it) is skipped: client 3 is not queued.
    let mut again = entries;
    again.extend(value(Uuid::from_u128(99), vec![grab(3, None)]));
    core.apply_value(11, Ok(again));
    assert_eq!(core.shared_snapshot().engine, engine.snapshot());
}

#[test]
fn every_proposal_of_this_server_in_one_value_gets_its_own_reply() {
    let (core, _queues) = core(shared(10, &Engine::new(), &Origins::default()));
    for seq in [1, 2] {
        let proposal = Proposal {
            parked: None,
            reply: None,
        };
        core.inner().proposals.waiting.insert(seq, proposal);
    }
    let applied = core.apply_value(11, Ok(value(me(&core), vec![grab(1, None), grab(2, None)])));
    assert!(applied.answers.is_empty(), "no give-backs: let out at once");
    let mut inner = core.inner();
    let mut reply = |seq| {
        inner
            .proposals
            .waiting
            .get_mut(&seq)
            .and_then(|p| p.reply.take())
    };
    assert!(
        matches!(reply(1), Some(Reply::Granted { .. })),
        "the first holds"
    );
    assert!(
        matches!(reply(2), Some(Reply::Queued { .. })),
        "the second waits"
    );
}
