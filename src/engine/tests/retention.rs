//! Ended requests stay readable for `ENDED_RETENTION_MS`, at most `ENDED_MAX` of them; the queries
//! over live and ended requests (`requests_of`, `known_resources`), and `token_of`.

use std::collections::BTreeSet;

use super::robustness::random_commands;
use super::*;
use crate::engine::{ENDED_MAX, ENDED_RETENTION_MS};

#[test]
fn an_ended_request_is_forgotten_at_the_end_of_its_retention() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    run(&mut engine, 100, release("db", 1));
    let b = granted(&run(&mut engine, 200, grab("db", 2, None, Wait::No)));
    run(&mut engine, 300, release("db", 2));
    assert_eq!(engine.ended_count(), 2);

    run(&mut engine, 99 + ENDED_RETENTION_MS, Op::Tick);
    assert_eq!(ended(&engine, a.request), Some((End::Released, 100)));
    // Any command prunes, not only a Tick.
    run(&mut engine, 100 + ENDED_RETENTION_MS, release("nothing", 9));
    assert!(engine.request(a.request).is_none(), "forgotten");
    assert_eq!(ended(&engine, b.request), Some((End::Released, 300)));
    assert_eq!(engine.requests_of("db").len(), 1);

    run(&mut engine, 300 + ENDED_RETENTION_MS, Op::Tick);
    assert!(engine.request(b.request).is_none());
    assert_eq!(engine.ended_count(), 0);
    assert!(engine.known_resources().is_empty(), "nothing of db is left");
    assert!(engine.requests_of("db").is_empty());
}

#[test]
fn past_ended_max_the_oldest_ended_is_forgotten_first() {
    let mut engine = Engine::new();
    let extra = 5;
    for i in 0..(ENDED_MAX + extra) as u64 {
        let name = format!("r{}", i % 7);
        // Without `run`: checking every index after each of 20,000 commands would take a while.
        engine.apply(Command {
            now: i,
            op: grab(&name, 1, None, Wait::No),
        });
        engine.apply(Command {
            now: i,
            op: release(&name, 1),
        });
    }
    engine.check_invariants();
    assert_eq!(engine.ended_count(), ENDED_MAX);
    for id in 1..=extra as u64 {
        assert!(engine.request(RequestId(id)).is_none(), "{id} is forgotten");
    }
    let oldest = RequestId(extra as u64 + 1);
    assert_eq!(ended(&engine, oldest), Some((End::Released, extra as u64)));
    let of_r0: Vec<RequestId> = engine
        .requests_of("r0")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(of_r0.first(), Some(&RequestId(8)), "r0's request 1 is gone");
    assert!(of_r0.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn requests_of_a_resource_are_its_live_and_ended_requests_in_id_order() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Forever)));
    let elsewhere = granted(&run(&mut engine, 2, grab("other", 3, None, Wait::No)));
    let (c, _) = queued(&run(&mut engine, 3, grab("db", 4, None, Wait::Forever)));
    let w = watching(&run(&mut engine, 4, watch("db", Wait::Forever)));
    let (d, _) = queued(&run(&mut engine, 5, grab("db", 5, None, Wait::Forever)));
    run(&mut engine, 6, release("db", 1));
    run(&mut engine, 7, cancel(c));

    let of_db = engine.requests_of("db");
    let ids: Vec<RequestId> = of_db.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [a.request, b, c, w, d]);
    for (id, view) in &of_db {
        assert_eq!(Some(view), engine.request(*id).as_ref(), "{id}");
    }
    assert!(matches!(
        of_db[0].1.state,
        RequestState::Ended {
            end: End::Released,
            at: 6
        }
    ));
    assert!(matches!(of_db[1].1.state, RequestState::Active(_)));
    assert!(matches!(
        of_db[2].1.state,
        RequestState::Ended {
            end: End::Abandoned,
            at: 7
        }
    ));
    assert!(matches!(of_db[3].1.state, RequestState::Watching { .. }));
    assert!(matches!(
        of_db[4].1.state,
        RequestState::Waiting { position: 1, .. }
    ));
    assert_eq!(engine.requests_of("other")[0].0, elsewhere.request);
    assert!(engine.requests_of("nowhere").is_empty());

    run(&mut engine, 8, release("other", 3));
    run(&mut engine, 9, release("db", 2));
    run(&mut engine, 10, release("db", 5));
    assert_eq!(engine.resource_count(), 0);
    assert_eq!(engine.known_resources(), ["db", "other"]);
    assert_eq!(engine.requests_of("db").len(), 4, "the watcher is gone");
}

#[test]
fn token_of_live_requests_only() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Forever)));
    assert_eq!(engine.token_of(a.request), Some(token(1)));
    assert_eq!(engine.token_of(b), Some(token(2)));
    assert_eq!(engine.token_of(RequestId(99)), None);
    run(&mut engine, 2, release("db", 1));
    assert_eq!(engine.token_of(a.request), None, "ended");
    assert_eq!(engine.token_of(b), Some(token(2)), "now the holder");
}

/// The queries over requests agree with each other and with `request`, whatever happened.
#[test]
fn random_sequences_keep_the_request_queries_consistent() {
    for seed in 0..5 {
        let mut engine = Engine::new();
        let mut pruned = false;
        for command in random_commands(seed, 1_500) {
            let before = engine.ended_count();
            engine.apply(command);
            pruned |= engine.ended_count() < before;
            let names = engine.known_resources();
            let mut seen = BTreeSet::new();
            for name in &names {
                let of = engine.requests_of(name);
                assert!(
                    !of.is_empty(),
                    "seed {seed}: {name} is known but has nothing"
                );
                assert!(of.windows(2).all(|w| w[0].0 < w[1].0), "id order");
                for (id, view) in of {
                    assert_eq!(&view.resource, name);
                    assert_eq!(Some(&view), engine.request(id).as_ref(), "seed {seed}");
                    let live = matches!(
                        view.state,
                        RequestState::Active(_) | RequestState::Waiting { .. }
                    );
                    assert_eq!(engine.token_of(id).is_some(), live, "seed {seed}: token");
                    seen.insert(id);
                }
            }
            let last = seen.last().map_or(0, |id| id.0);
            for id in (1..=last + 10).map(RequestId) {
                assert_eq!(
                    engine.request(id).is_some(),
                    seen.contains(&id),
                    "seed {seed} {id}"
                );
            }
            assert_eq!(
                seen.len(),
                engine.request_count() + engine.ended_count(),
                "seed {seed}: every request is of a known resource"
            );
        }
        assert!(pruned, "seed {seed}: some history was forgotten");
    }
}
