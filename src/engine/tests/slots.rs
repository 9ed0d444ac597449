//! Counting semaphores and shared holders: never more than N, never two modes at once, strict FIFO
//! (a waiting exclusive request holds back later shared ones), slots refused when they differ.

use super::*;
use crate::engine::{Event, MAX_SLOTS, Refusal, Snapshot};

/// An acquire of `resource` by `client` naming `slots` and `mode`.
fn take(resource: &str, client: u128, slots: Option<u32>, mode: Mode, wait: Wait) -> Op {
    match grab(resource, client, None, wait) {
        Op::Acquire(acquire) => Op::Acquire(Acquire {
            slots,
            mode,
            ..acquire
        }),
        _ => unreachable!(),
    }
}

fn shared(resource: &str, client: u128, wait: Wait) -> Op {
    take(resource, client, None, Mode::Shared, wait)
}

/// The tokens (client numbers) holding `resource`, oldest first.
fn holders(engine: &Engine, resource: &str) -> Vec<u128> {
    engine.lock(resource).map_or_else(Vec::new, |view| {
        view.holders
            .iter()
            .map(|h| {
                let request = h.request;
                engine.token_of(request).map_or(0, |t| t.as_u128())
            })
            .collect()
    })
}

/// The clients granted by the events of `outcome`, in order.
fn grants(outcome: &Outcome) -> Vec<u128> {
    outcome
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Granted(grant) => Some(grant.token.as_u128()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_semaphore_admits_n_holders_each_with_its_own_token_and_fence() {
    let mut engine = Engine::new();
    let mut fences = Vec::new();
    for client in 1..=3 {
        let grant = granted(&run(
            &mut engine,
            client as u64,
            take("gpu", client, Some(3), Mode::Exclusive, Wait::No),
        ));
        assert_eq!(grant.token, token(client));
        fences.push(grant.fence);
    }
    assert!(
        fences.windows(2).all(|w| w[0] < w[1]),
        "fences grow: {fences:?}"
    );
    // The fourth waits (a plain request joins the 3 in force), the fifth would not wait: busy.
    queued(&run(&mut engine, 4, grab("gpu", 4, None, Wait::Forever)));
    let busy = run(&mut engine, 5, grab("gpu", 5, None, Wait::No));
    let Reply::Busy(view) = busy.reply else {
        panic!("expected Busy, got {:?}", busy.reply);
    };
    assert_eq!(
        (view.slots, view.limit(), view.free()),
        (Some(3), Some(3), Some(0))
    );
    assert_eq!(view.holders.len(), 3);
    assert_eq!(
        view.holder().map(|h| h.fence),
        Some(fences[0]),
        "the oldest first"
    );

    // A retry of a holder's grab is the same grant; a release frees one slot, for the next in line.
    let again = run(&mut engine, 6, grab("gpu", 2, None, Wait::No));
    assert!(
        matches!(again.reply, Reply::Granted { ref grant, again: true } if grant.fence == fences[1])
    );
    let released = run(&mut engine, 7, release("gpu", 2));
    assert_eq!(grants(&released), [4]);
    assert_eq!(holders(&engine, "gpu"), [1, 3, 4]);
    // Client 4 took the slot client 2 freed: a retry of 2's release hears it holds nothing.
    let retry = run(&mut engine, 8, release("gpu", 2));
    assert_eq!(retry.reply, Reply::Refused(Refusal::WrongToken));
    // A slot nobody took: the release is remembered for its token while the others hold.
    run(&mut engine, 9, release("gpu", 3));
    let retry = run(&mut engine, 10, release("gpu", 3));
    assert_eq!(
        retry.reply,
        Reply::Released {
            fence: fences[2],
            again: true
        }
    );
    // Then a grant takes that slot, and forgets it.
    granted(&run(&mut engine, 11, grab("gpu", 5, None, Wait::No)));
    let retry = run(&mut engine, 12, release("gpu", 3));
    assert_eq!(retry.reply, Reply::Refused(Refusal::WrongToken));
    for client in [1, 4, 5] {
        run(&mut engine, 13, release("gpu", client));
    }
    assert_eq!(engine.lock("gpu"), None, "free and forgotten");
}

#[test]
fn slots_are_set_by_the_first_request_and_a_different_number_is_refused() {
    let mut engine = Engine::new();
    run(
        &mut engine,
        0,
        take("db", 1, Some(3), Mode::Exclusive, Wait::No),
    );
    for asked in [1, 2, 4] {
        let refused = run(
            &mut engine,
            1,
            take("db", 2, Some(asked), Mode::Exclusive, Wait::No),
        );
        assert_eq!(
            refused.reply,
            Reply::SlotsDiffer {
                in_force: Some(3),
                asked
            }
        );
        assert!(refused.events.is_empty());
    }
    assert_eq!(holders(&engine, "db"), [1], "nothing changed");
    // Queued counts as in use too.
    run(
        &mut engine,
        2,
        take("db", 2, Some(3), Mode::Exclusive, Wait::No),
    );
    run(
        &mut engine,
        2,
        take("db", 3, Some(3), Mode::Exclusive, Wait::No),
    );
    queued(&run(&mut engine, 3, grab("db", 4, None, Wait::Forever)));
    let refused = run(
        &mut engine,
        4,
        take("db", 5, Some(2), Mode::Exclusive, Wait::Forever),
    );
    assert_eq!(
        refused.reply,
        Reply::SlotsDiffer {
            in_force: Some(3),
            asked: 2
        }
    );
    run(&mut engine, 5, delete("db"));
    // Free again: the next first request sets another number.
    run(
        &mut engine,
        6,
        take("db", 6, Some(2), Mode::Exclusive, Wait::No),
    );
    assert_eq!(engine.lock("db").and_then(|v| v.slots), Some(2));

    // On a plain mutex, 1 exclusive slot is what is in force already; anything else is refused.
    run(&mut engine, 7, grab("m", 1, None, Wait::No));
    queued(&run(
        &mut engine,
        8,
        take("m", 2, Some(1), Mode::Exclusive, Wait::Forever),
    ));
    let refused = run(
        &mut engine,
        9,
        take("m", 3, Some(1), Mode::Shared, Wait::Forever),
    );
    assert_eq!(
        refused.reply,
        Reply::SlotsDiffer {
            in_force: None,
            asked: 1
        }
    );
    let refused = run(
        &mut engine,
        9,
        take("m", 3, Some(2), Mode::Exclusive, Wait::Forever),
    );
    assert_eq!(
        refused.reply,
        Reply::SlotsDiffer {
            in_force: None,
            asked: 2
        }
    );
}

#[test]
fn slots_out_of_range_are_refused() {
    let mut engine = Engine::new();
    for slots in [0, MAX_SLOTS + 1, u32::MAX] {
        let refused = run(
            &mut engine,
            0,
            take("db", 1, Some(slots), Mode::Exclusive, Wait::No),
        );
        assert_eq!(refused.reply, Reply::Refused(Refusal::InvalidSlots));
    }
    assert_eq!(engine.resource_count(), 0);
    granted(&run(
        &mut engine,
        1,
        take("db", 1, Some(MAX_SLOTS), Mode::Shared, Wait::No),
    ));
}

#[test]
fn shared_holders_coexist_and_exclude_an_exclusive_one() {
    let mut engine = Engine::new();
    for client in 1..=50 {
        granted(&run(
            &mut engine,
            client as u64,
            shared("db", client, Wait::No),
        ));
    }
    let view = engine.lock("db").expect("held");
    assert_eq!(
        (view.mode, view.limit(), view.free()),
        (Some(Mode::Shared), None, None)
    );
    // A writer waits for every reader; a plain grab would not wait: busy.
    assert!(matches!(
        run(&mut engine, 60, grab("db", 99, None, Wait::No)).reply,
        Reply::Busy(_)
    ));
    queued(&run(&mut engine, 61, grab("db", 100, None, Wait::Forever)));
    for client in 1..50 {
        assert_eq!(
            grants(&run(&mut engine, 70, release("db", client))),
            Vec::<u128>::new()
        );
    }
    assert_eq!(grants(&run(&mut engine, 71, release("db", 50))), [100]);
    // The writer is alone: a reader waits for it.
    assert!(matches!(
        run(&mut engine, 72, shared("db", 1, Wait::No)).reply,
        Reply::Busy(_)
    ));
    let view = engine.lock("db").expect("held");
    assert_eq!(
        (view.mode, view.limit(), view.free()),
        (Some(Mode::Exclusive), Some(1), Some(0))
    );
}

#[test]
fn shared_holders_are_bounded_by_named_slots() {
    let mut engine = Engine::new();
    granted(&run(
        &mut engine,
        0,
        take("db", 1, Some(2), Mode::Shared, Wait::No),
    ));
    granted(&run(&mut engine, 1, shared("db", 2, Wait::No)));
    queued(&run(&mut engine, 2, shared("db", 3, Wait::Forever)));
    assert_eq!(grants(&run(&mut engine, 3, release("db", 1))), [3]);
    // Exclusive holders on 2 slots coexist too, once the readers are gone.
    queued(&run(&mut engine, 4, grab("db", 4, None, Wait::Forever)));
    queued(&run(&mut engine, 4, grab("db", 5, None, Wait::Forever)));
    run(&mut engine, 5, release("db", 2));
    assert_eq!(grants(&run(&mut engine, 6, release("db", 3))), [4, 5]);
}

#[test]
fn fifo_with_a_mix_of_modes_grants_from_the_head_only() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    // Queue: reader 2, reader 3, writer 4, reader 5.
    queued(&run(&mut engine, 1, shared("db", 2, Wait::Forever)));
    queued(&run(&mut engine, 2, shared("db", 3, Wait::Forever)));
    queued(&run(&mut engine, 3, grab("db", 4, None, Wait::Forever)));
    let (_, position) = queued(&run(&mut engine, 4, shared("db", 5, Wait::Forever)));
    assert_eq!(position, 4);
    // The writer leaves: both readers at the head go in one step, the writer stops the last one.
    let step = run(&mut engine, 5, release("db", 1));
    assert_eq!(grants(&step), [2, 3]);
    assert_eq!(holders(&engine, "db"), [2, 3]);
    // A reader that comes now could hold beside them, but the writer waits first: it queues.
    let (_, position) = queued(&run(&mut engine, 6, shared("db", 6, Wait::Forever)));
    assert_eq!(position, 3);
    run(&mut engine, 7, release("db", 2));
    assert_eq!(grants(&run(&mut engine, 8, release("db", 3))), [4]);
    assert_eq!(grants(&run(&mut engine, 9, release("db", 4))), [5, 6]);
}

#[test]
fn a_writer_is_never_starved_by_a_stream_of_readers() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, shared("db", 1, Wait::No)));
    queued(&run(&mut engine, 1, grab("db", 1_000, None, Wait::Forever)));
    // Readers keep coming, each before the one before leaves: none goes ahead of the writer.
    let mut now = 2;
    for reader in 2..200 {
        queued(&run(&mut engine, now, shared("db", reader, Wait::Forever)));
        now += 1;
    }
    let step = run(&mut engine, now, release("db", 1));
    assert_eq!(grants(&step), [1_000], "the writer is next");
    let step = run(&mut engine, now + 1, release("db", 1_000));
    assert_eq!(
        grants(&step),
        (2..200).collect::<Vec<u128>>(),
        "then every reader at once"
    );
}

#[test]
fn a_waiter_that_leaves_the_head_lets_those_behind_it_in() {
    let mut engine = Engine::new();
    granted(&run(&mut engine, 0, shared("db", 1, Wait::No)));
    let (writer, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Until(100))));
    queued(&run(&mut engine, 2, shared("db", 3, Wait::Forever)));
    queued(&run(&mut engine, 2, shared("db", 4, Wait::Forever)));
    // The writer's wait runs out: the readers behind it join the reader holding.
    let tick = run(&mut engine, 100, Op::Tick);
    assert_eq!(
        tick.events.first(),
        Some(&Event::TimedOut {
            request: writer,
            resource: "db".into()
        })
    );
    assert_eq!(grants(&tick), [3, 4]);
    assert_eq!(holders(&engine, "db"), [1, 3, 4]);

    // The same for a writer withdrawn by its token, and for one cancelled.
    queued(&run(&mut engine, 101, grab("db", 5, None, Wait::Forever)));
    queued(&run(&mut engine, 101, shared("db", 6, Wait::Forever)));
    assert_eq!(grants(&run(&mut engine, 102, release("db", 5))), [6]);
    let (writer, _) = queued(&run(&mut engine, 103, grab("db", 7, None, Wait::Forever)));
    queued(&run(&mut engine, 103, shared("db", 8, Wait::Forever)));
    assert_eq!(grants(&run(&mut engine, 104, cancel(writer))), [8]);
    let (writer, _) = queued(&run(&mut engine, 105, grab("db", 9, None, Wait::Forever)));
    queued(&run(&mut engine, 105, shared("db", 10, Wait::Forever)));
    assert_eq!(grants(&run(&mut engine, 106, admin_cancel(writer))), [10]);
}

#[test]
fn one_holder_s_lease_expiring_frees_its_slot_only() {
    let mut engine = Engine::new();
    let op = |client, ttl| match take("db", client, Some(2), Mode::Exclusive, Wait::Forever) {
        Op::Acquire(a) => Op::Acquire(Acquire { ttl_ms: ttl, ..a }),
        _ => unreachable!(),
    };
    let short = granted(&run(&mut engine, 0, op(1, Some(50))));
    granted(&run(&mut engine, 0, op(2, None)));
    queued(&run(&mut engine, 1, op(3, None)));
    let tick = run(&mut engine, 50, Op::Tick);
    assert_eq!(
        tick.events[0],
        Event::Expired {
            request: short.request,
            resource: "db".into(),
            fence: short.fence
        }
    );
    assert_eq!(grants(&tick), [3]);
    assert_eq!(holders(&engine, "db"), [2, 3]);
    // The expired token renews nothing; the others renew their own.
    assert_eq!(
        run(&mut engine, 51, renew("db", 1, None)).reply,
        Reply::Refused(Refusal::WrongToken)
    );
    assert!(matches!(
        run(&mut engine, 51, renew("db", 2, Some(10))).reply,
        Reply::Renewed { .. }
    ));
}

#[test]
fn watchers_are_freed_when_the_last_holder_leaves() {
    let mut engine = Engine::new();
    run(&mut engine, 0, shared("db", 1, Wait::No));
    run(&mut engine, 0, shared("db", 2, Wait::No));
    let watcher = watching(&run(&mut engine, 1, watch("db", Wait::Forever)));
    assert!(run(&mut engine, 2, release("db", 1)).events.is_empty());
    let last = run(&mut engine, 3, release("db", 2));
    assert_eq!(
        last.events,
        [Event::Freed {
            request: watcher,
            resource: "db".into()
        }]
    );
}

#[test]
fn an_administrator_deletes_every_holder_and_waiter() {
    let mut engine = Engine::new();
    for client in 1..=3 {
        run(
            &mut engine,
            0,
            take("db", client, Some(3), Mode::Shared, Wait::No),
        );
    }
    queued(&run(&mut engine, 1, grab("db", 4, None, Wait::Forever)));
    let deleted = run(&mut engine, 2, delete("db"));
    assert_eq!(deleted.reply, Reply::Deleted { count: 4 });
    assert_eq!(deleted.events.len(), 4);
    assert!(
        deleted
            .events
            .iter()
            .all(|e| matches!(e, Event::Deleted { .. }))
    );
    assert_eq!(engine.lock("db"), None);
}

#[test]
fn a_restart_that_drops_a_writer_lets_the_readers_behind_it_in() {
    let mut engine = Engine::new();
    run(&mut engine, 0, shared("db", 1, Wait::No));
    // A plain waiter (no grace) leaves at a restart; a long-polling reader behind it stays, detached.
    queued(&run(
        &mut engine,
        1,
        grab("db", 2, None, Wait::Until(10_000)),
    ));
    let reader = match shared("db", 3, Wait::Until(10_000)) {
        Op::Acquire(a) => Op::Acquire(Acquire {
            grace_ms: Some(5_000),
            ..a
        }),
        _ => unreachable!(),
    };
    queued(&run(&mut engine, 1, reader));
    let restarted = run(&mut engine, 2, restart(5_000));
    assert_eq!(grants(&restarted), [3]);
    // Granted while detached: it holds only until its grace ends, unless its client collects it.
    let view = engine.lock("db").expect("held");
    assert_eq!(view.holders[1].expires, Some(2 + 5_000));
}

#[test]
fn several_holders_survive_a_snapshot_and_a_version_1_snapshot_is_read() {
    let mut engine = Engine::new();
    for client in 1..=2 {
        run(
            &mut engine,
            0,
            take("db", client, Some(3), Mode::Shared, Wait::No),
        );
    }
    run(&mut engine, 1, release("db", 2));
    queued(&run(&mut engine, 2, grab("db", 4, None, Wait::Forever)));
    let snapshot = engine.snapshot();
    assert_eq!(snapshot.version, 3);
    let restored = Engine::restore(snapshot).expect("restores");
    restored.check_invariants();
    assert_eq!(restored, engine);

    // Version 1: one `holder`, no slots, no modes.
    let mut mutex = Engine::new();
    run(&mut mutex, 0, grab("m", 1, None, Wait::No));
    queued(&run(&mut mutex, 1, grab("m", 2, None, Wait::Forever)));
    let mut value = serde_json::to_value(mutex.snapshot()).expect("serializes");
    value["version"] = 1.into();
    let resource = value["resources"][0].as_object_mut().expect("a resource");
    resource.remove("slots");
    let holder = resource.remove("holders").expect("holders")[0].clone();
    resource.insert("holder".into(), holder);
    let old: Snapshot = serde_json::from_value(value).expect("version 1 parses");
    assert_eq!(Engine::restore(old).expect("version 1 restores"), mutex);
}

#[test]
fn a_snapshot_with_more_holders_than_slots_is_refused() {
    let mut engine = Engine::new();
    run(
        &mut engine,
        0,
        take("db", 1, Some(2), Mode::Exclusive, Wait::No),
    );
    run(
        &mut engine,
        0,
        take("db", 2, Some(2), Mode::Exclusive, Wait::No),
    );
    let mut snapshot = engine.snapshot();
    snapshot.resources[0].slots = Some(1);
    assert!(Engine::restore(snapshot.clone()).is_err());
    snapshot.resources[0].slots = Some(2);
    snapshot.resources[0].holders[1].mode = Mode::Shared;
    let refused = Engine::restore(snapshot).expect_err("two modes");
    assert!(refused.contains("modes"), "{refused}");
}
