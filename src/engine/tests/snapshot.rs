//! Snapshot and restore: through JSON (the journal's form), a restored engine is `==` to the original
//! and answers every later command alike; at every point of the replay scripts, and at random points
//! of random sequences of lock and gate commands.

use std::collections::BTreeSet;

use super::gate_random::random_gate_commands;
use super::gates::{close, create, set, take, watch_gate};
use super::replay::{gate_script, restart_script, script};
use super::robustness::{Lcg, random_commands};
use super::*;
use crate::engine::{SNAPSHOT_VERSION, Snapshot};

/// Snapshot → JSON → restore: an engine `==` to `engine`, every invariant holding, whose own
/// snapshot is the same JSON.
pub(super) fn round_trip(engine: &Engine) -> Engine {
    let json = serde_json::to_string(&engine.snapshot()).expect("a snapshot serializes");
    let snapshot: Snapshot = serde_json::from_str(&json).expect("a snapshot parses");
    let restored = Engine::restore(snapshot).expect("a snapshot restores");
    assert_eq!(&restored, engine, "the restored engine differs");
    restored.check_invariants();
    let again = serde_json::to_string(&restored.snapshot()).expect("serializes");
    assert_eq!(again, json, "the restored engine's snapshot differs");
    restored
}

/// Applies `commands` to both engines, which must answer alike and end `==`.
fn go_on_alike(original: &mut Engine, restored: &mut Engine, commands: &[Command], what: &str) {
    for (i, command) in commands.iter().enumerate() {
        let expected = original.apply(command.clone());
        let outcome = run(restored, command.now, command.op.clone());
        assert_eq!(
            outcome, expected,
            "{what}: command {i} answered differently"
        );
    }
    assert_eq!(original, restored, "{what}: the states differ");
}

/// A state with something of every kind (see `kinds`), over the names the random sequences use, so
/// that they go on from it: holders with and without a lease, an unclaimed grant, waiters attached
/// and detached, watchers, a remembered release, ended requests, services with gates closed and with
/// messages, tickets granted, queued and polled, and gate watchers.
pub(super) fn rich_engine() -> Engine {
    let mut engine = Engine::new();
    let e = &mut engine;
    run(e, 1_000, create("s", &["a", "b", "c"]));
    run(e, 1_000, create("t", &["x", "y"]));
    run(e, 1_001, grab("a", 1, Some(500_000), Wait::No));
    run(
        e,
        1_002,
        poll("a", 2, None, Wait::Until(1_100), Some(600_000)),
    );
    run(e, 1_003, grab_with("a", 3, Wait::Forever, "meta"));
    let gone = queued(&run(e, 1_004, grab("a", 4, None, Wait::Forever))).0;
    run(e, 1_005, admin_cancel(gone));
    run(e, 1_006, watch("a", Wait::Forever));
    run(e, 1_007, watch("a", Wait::Until(900_000)));
    run(e, 1_010, grab("b", 4, Some(900_000), Wait::No));
    run(
        e,
        1_011,
        poll("b", 5, None, Wait::Until(1_050), Some(500_000)),
    );
    run(e, 1_012, grab("c", 6, None, Wait::No));
    run(e, 1_013, release("c", 6));
    run(e, 1_200, Op::Tick);
    // 5 is detached now: granted, it is unclaimed.
    run(e, 1_300, release("b", 4));
    run(
        e,
        1_301,
        set(
            "s",
            "a",
            Some(crate::engine::GateState::Closed),
            Some("deploy"),
        ),
    );
    run(e, 1_302, set("t", "y", None, Some("hello")));
    run(e, 1_303, take(&[("s", "b")], 1, false, Wait::No));
    run(
        e,
        1_304,
        take(&[("s", "a"), ("t", "x")], 2, true, Wait::Forever),
    );
    run(e, 1_305, take(&[("s", "b"), ("s", "c")], 3, true, Wait::No));
    run(e, 1_306, take(&[("t", "x")], 4, true, Wait::Until(100_000)));
    run(e, 1_307, watch_gate("s", "b", Wait::Forever));
    run(e, 1_308, watch_gate("s", "a", Wait::Until(200_000)));
    run(e, 1_309, close("t", "y"));
    engine
}

/// What a snapshot holds, by kind.
fn kinds(s: &Snapshot) -> BTreeSet<&'static str> {
    let mut kinds = BTreeSet::new();
    let mut saw = |yes: bool, kind| {
        if yes {
            kinds.insert(kind);
        }
    };
    for r in &s.resources {
        saw(r.holders[0].expires.is_some(), "lease");
        saw(r.holders[0].unclaimed, "unclaimed");
        let waiters_meta = r.waiters.iter().any(|w| w.meta.is_some());
        saw(r.holders[0].meta.is_some() || waiters_meta, "meta");
        saw(r.waiters.iter().any(|w| w.detached), "detached");
        let by_restart = r.waiters.iter().any(|w| w.detached && w.grace_ms.is_none());
        saw(by_restart, RESTART_DETACHED);
        saw(r.waiters.iter().any(|w| !w.detached), "waiter");
        saw(!r.watchers.is_empty(), "watcher");
    }
    saw(!s.releases.is_empty(), "release");
    saw(s.ended.iter().any(|e| e.granted.is_some()), "ended holder");
    saw(s.ended.iter().any(|e| e.granted.is_none()), "ended waiter");
    for service in &s.gates.services {
        for gate in &service.gates {
            saw(gate.closed_by_hand, "closed");
            saw(!gate.message.is_empty(), "message");
            saw(!gate.watchers.is_empty(), "gate watcher");
        }
    }
    for ticket in &s.gates.tickets {
        saw(ticket.granted, "granted ticket");
        saw(!ticket.granted && ticket.poll.is_none(), "queued ticket");
        saw(ticket.poll.is_some(), "polled ticket");
    }
    kinds
}

/// A waiter detached by a restart: random sequences and the restart script have them, the rich state
/// none (a restart would take its watchers and polls).
const RESTART_DETACHED: &str = "detached by a restart";

const ALL_KINDS: [&str; 15] = [
    "lease",
    "unclaimed",
    "meta",
    "detached",
    "waiter",
    "watcher",
    "release",
    "ended holder",
    "ended waiter",
    "closed",
    "message",
    "gate watcher",
    "granted ticket",
    "queued ticket",
    "polled ticket",
];

#[test]
fn a_varied_state_restores_equal_and_goes_on_alike() {
    let mut original = rich_engine();
    let varied = kinds(&original.snapshot());
    assert_eq!(varied, BTreeSet::from(ALL_KINDS), "the state is varied");
    let mut restored = round_trip(&original);
    let clock = original.clock();
    let later: Vec<Command> = random_gate_commands(7, 400)
        .into_iter()
        .chain(random_commands(7, 400))
        .map(|c| Command {
            now: c.now + clock,
            op: c.op,
        })
        .collect();
    go_on_alike(&mut original, &mut restored, &later, "the varied state");
}

#[test]
fn every_point_of_the_replay_scripts_restores_and_goes_on_alike() {
    let scripts = [
        ("script", script()),
        ("gate script", gate_script()),
        ("restart script", restart_script()),
    ];
    let mut seen = BTreeSet::new();
    for (name, commands) in scripts {
        for cut in 0..=commands.len() {
            let mut original = Engine::new();
            for command in &commands[..cut] {
                original.apply(command.clone());
            }
            let mut restored = round_trip(&original);
            seen.extend(kinds(&restored.snapshot()));
            let what = format!("{name} restored after {cut} commands");
            go_on_alike(&mut original, &mut restored, &commands[cut..], &what);
        }
    }
    assert!(seen.contains(RESTART_DETACHED), "{seen:?}");
}

#[test]
fn random_sequences_go_on_alike_after_restores_at_random_points() {
    let mut seen = BTreeSet::new();
    for seed in 0..40 {
        let sequences = [
            ("locks", random_commands(seed, 700)),
            ("gates", random_gate_commands(seed, 700)),
        ];
        for (name, commands) in sequences {
            let mut rng = Lcg(seed ^ 0x5eed);
            let cuts: BTreeSet<u64> = (0..6).map(|_| rng.below(commands.len() as u64)).collect();
            let (mut original, mut restored) = (Engine::new(), Engine::new());
            for (i, command) in commands.iter().enumerate() {
                if cuts.contains(&(i as u64)) {
                    // The restored engine is restored again: restores chain.
                    restored = round_trip(&restored);
                    assert_eq!(restored, original, "seed {seed} {name}: at {i}");
                    seen.extend(kinds(&restored.snapshot()));
                }
                let expected = original.apply(command.clone());
                let outcome = restored.apply(command.clone());
                assert_eq!(outcome, expected, "seed {seed} {name}: command {i}");
            }
            assert_eq!(original, restored, "seed {seed} {name}: at the end");
            restored.check_invariants();
        }
    }
    let all: BTreeSet<_> = ALL_KINDS.into_iter().chain([RESTART_DETACHED]).collect();
    assert_eq!(seen, all, "random states are varied");
}

#[test]
fn a_snapshot_is_plain_json_with_its_version() {
    let engine = rich_engine();
    let value = serde_json::to_value(engine.snapshot()).expect("serializes");
    assert_eq!(value["version"], SNAPSHOT_VERSION);
    assert_eq!(value["clock"], engine.clock());
    let line = serde_json::to_string(&value).expect("serializes");
    assert!(!line.contains('\n'), "one line of a journal");

    let mut future = engine.snapshot();
    future.version = SNAPSHOT_VERSION + 1;
    let refused = Engine::restore(future).expect_err("another version is refused");
    assert!(refused.contains("version"), "{refused}");
    assert_eq!(Engine::restore(Engine::new().snapshot()), Ok(Engine::new()));
}
