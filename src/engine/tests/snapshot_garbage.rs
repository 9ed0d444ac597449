//! Restore of damaged or hostile snapshots: values of the wrong type, dangling and duplicate ids,
//! counters behind what they counted, deadlines already due. Each is refused with a message, or
//! gives an engine that keeps every invariant and goes on taking commands; never a panic.

use serde_json::{Value, json};

use super::gate_random::random_gate_commands;
use super::robustness::{Lcg, random_commands};
use super::snapshot::{rich_engine, round_trip};
use super::*;
use crate::engine::Snapshot;

/// JSON → snapshot → engine, as a journal's start-up would.
fn load(value: Value) -> Result<Engine, String> {
    let snapshot: Snapshot = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Engine::restore(snapshot)
}

#[test]
fn values_of_the_wrong_type_are_refused() {
    let good = serde_json::to_value(rich_engine().snapshot()).expect("serializes");
    assert!(load(good.clone()).is_ok());
    let mut bad = vec![
        json!(null),
        json!(1),
        json!("snapshot"),
        json!([]),
        json!({}),
    ];
    let changes = [
        ("/clock", json!(-1)),
        ("/clock", json!(1.5)),
        ("/last_request", json!("7")),
        ("/version", json!(null)),
        ("/resources", json!({})),
        ("/resources/0", json!([])),
        ("/resources/0/holders/0/token", json!("not a uuid")),
        ("/resources/0/holders/0/request", json!(1e30)),
        ("/resources/0/waiters/0/detached", json!("yes")),
        ("/ended/0/end", json!("vanished")),
        ("/gates/tickets/0/gates/0", json!("s/a")),
        ("/gates/services/0/gates", json!(null)),
    ];
    for (pointer, value) in changes {
        let mut changed = good.clone();
        *changed.pointer_mut(pointer).expect(pointer) = value;
        bad.push(changed);
    }
    let mut no_clock = good.clone();
    no_clock.as_object_mut().expect("an object").remove("clock");
    bad.push(no_clock);
    for value in bad {
        let refused = load(value.clone()).expect_err("refused");
        assert!(!refused.is_empty(), "a message for {value}");
    }
}

/// The rich state's snapshot, changed by `change`, is refused (through JSON, as from a file) with a
/// message saying `why`.
fn refused(why: &str, change: impl FnOnce(&mut Snapshot)) {
    let mut snapshot = rich_engine().snapshot();
    change(&mut snapshot);
    let value = serde_json::to_value(&snapshot).expect("serializes");
    match load(value) {
        Err(message) => assert!(message.contains(why), "expected {why:?}: {message}"),
        Ok(_) => panic!("restored, expected {why:?}"),
    }
}

#[test]
fn states_no_engine_could_have_are_refused() {
    // In the rich state, resource "a" has a holder, two waiters (the first detached) and two
    // watchers, and "b" an unclaimed holder; tickets 1 (granted, "s/b"), 2 (polled, "s/a" "t/x"),
    // 3 (queued, "s/b" "s/c") and 4 (polled, "t/x"); gate "s/a" is closed and watched.
    refused("beyond the fence counter", |s| {
        s.last_fence = s.resources[0].holders[0].fence - 1;
    });
    refused("beyond the request counter", |s| s.last_request = 2);
    refused("in two places", |s| {
        s.resources[1].holders[0].request = s.resources[0].holders[0].request;
    });
    refused("given twice", |s| {
        s.resources[1].holders[0].fence = s.resources[0].holders[0].fence;
    });
    refused("in two places", |s| {
        s.resources[0].waiters[0].request = s.resources[0].watchers[0].request;
    });
    refused("holds or is new", |s| {
        s.resources[0].waiters[1].token = s.resources[0].holders[0].token;
    });
    refused("waits twice", |s| {
        s.resources[0].waiters[1].token = s.resources[0].waiters[0].token;
    });
    refused("is there twice", |s| {
        s.resources.push(s.resources[0].clone())
    });
    refused("not after the clock", |s| {
        s.resources[0].waiters[0].deadline = Some(s.clock);
    });
    refused("detached without a deadline", |s| {
        s.resources[0].waiters[0].deadline = None;
    });
    refused("expiry disagrees", |s| {
        s.resources[0].holders[0].expires = None
    });
    refused("times are out of order", |s| {
        s.resources[0].holders[0].created = s.resources[0].holders[0].since + 1;
    });
    refused("times are out of order", |s| {
        s.resources[0].holders[0].renewed = s.clock + 1;
    });
    refused("it is held", |s| {
        s.releases[0].resource = s.resources[0].name.clone();
    });
    refused("beyond the fence counter", |s| {
        s.releases[0].fence = s.last_fence + 1;
    });
    refused("out of order", |s| s.last_release_seq = 0);
    refused("in two places", |s| {
        s.ended[0].request = s.resources[0].holders[0].request;
    });
    refused("in two places", |s| s.ended.push(s.ended[0].clone()));
    refused("ended before the one before it", |s| s.ended.reverse());
    refused("ended after the clock", |s| s.ended[1].at = s.clock + 1);
    refused("out of range", |s| s.last_request = u64::MAX);
    refused("not there", |s| {
        s.gates.tickets[2].gates.push(("s".into(), "nope".into()));
    });
    refused("not there", |s| drop(s.gates.services.remove(1)));
    refused("names no gate", |s| s.gates.tickets[2].gates.clear());
    refused("one twice", |s| {
        let name = s.gates.tickets[2].gates[0].clone();
        s.gates.tickets[2].gates.push(name);
    });
    refused("is there twice", |s| {
        let mut twin = s.gates.tickets[2].clone();
        s.gates.last_arrival += 1;
        twin.arrival = s.gates.last_arrival;
        s.gates.tickets.push(twin);
    });
    refused("arrival given twice", |s| {
        s.gates.tickets[2].arrival = s.gates.tickets[0].arrival;
    });
    refused("from the future", |s| s.gates.last_arrival = 1);
    refused("not first in line", |s| {
        let (first, held) = (s.gates.tickets[0].arrival, s.gates.tickets[2].arrival);
        s.gates.tickets[0].arrival = held;
        s.gates.tickets[2].arrival = first;
    });
    refused("expiry disagrees", |s| {
        s.gates.tickets[0].poll = s.gates.tickets[1].poll.clone();
    });
    refused("in two places", |s| {
        let poll = s.gates.tickets[1].poll.as_mut().expect("polled");
        poll.request = s.resources[0].holders[0].request;
    });
    refused("expiry disagrees", |s| s.gates.tickets[2].expires = None);
    // The holder of "s/b" gone, and its watcher not told.
    refused("reads open", |s| drop(s.gates.tickets.remove(0)));
    refused("at its turn", |s| {
        let gate = &mut s.gates.services[0].gates[0];
        assert!(gate.closed_by_hand && !gate.watchers.is_empty());
        gate.closed_by_hand = false;
        gate.watchers.clear();
    });
    refused("is there twice", |s| {
        let mut twin = s.gates.services[0].gates[1].clone();
        twin.watchers.clear();
        s.gates.services[0].gates.push(twin);
    });
}

/// Every number and string of a snapshot: what a damaged one is made of.
fn leaves(value: &Value, pointer: String, out: &mut Vec<String>, pool: &mut Vec<Value>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                leaves(item, format!("{pointer}/{i}"), out, pool);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                leaves(item, format!("{pointer}/{key}"), out, pool);
            }
        }
        Value::Number(_) | Value::String(_) => pool.push(value.clone()),
        Value::Null | Value::Bool(_) => {}
    }
    out.push(pointer);
}

/// One random change to one node: a number or string swapped for another of the snapshot's (ids
/// given twice or dangling, fences, times), nudged, zeroed or maxed; a flag flipped; an absent
/// value made present; an element of a list doubled, dropped or moved; rarely, a wrong type.
fn damage(value: &mut Value, rng: &mut Lcg) {
    let (mut pointers, mut pool) = (Vec::new(), Vec::new());
    leaves(value, String::new(), &mut pointers, &mut pool);
    let pointer = &pointers[rng.below(pointers.len() as u64) as usize];
    let node = value.pointer_mut(pointer).expect("a node");
    let other = pool[rng.below(pool.len() as u64) as usize].clone();
    *node = match std::mem::take(node) {
        _ if rng.below(25) == 0 => json!("wrong"),
        Value::Number(n) => {
            let n = n.as_u64().unwrap_or(0);
            match rng.below(6) {
                0 => json!(0),
                1 => json!(n.wrapping_add(1)),
                2 => json!(n.saturating_sub(1)),
                3 => json!(u64::MAX),
                _ => other,
            }
        }
        Value::Bool(b) => Value::Bool(!b),
        Value::Null | Value::String(_) => other,
        Value::Array(mut items) if !items.is_empty() => {
            let i = rng.below(items.len() as u64) as usize;
            match rng.below(3) {
                0 => items.push(items[i].clone()),
                1 => drop(items.remove(i)),
                _ => items.swap(0, i),
            }
            Value::Array(items)
        }
        other => other,
    };
}

#[test]
fn randomly_damaged_snapshots_are_refused_or_consistent() {
    let mut bases = vec![rich_engine()];
    for seed in 0..6 {
        let mut engine = Engine::new();
        let commands = match seed % 2 {
            0 => random_commands(seed, 300),
            _ => random_gate_commands(seed, 300),
        };
        for command in commands {
            engine.apply(command);
        }
        bases.push(engine);
    }
    let bases: Vec<Value> = bases
        .iter()
        .map(|e| serde_json::to_value(e.snapshot()).expect("serializes"))
        .collect();
    let (mut refusals, mut restores) = (0, 0);
    for seed in 0..4_000 {
        let mut rng = Lcg(seed);
        let mut value = bases[seed as usize % bases.len()].clone();
        for _ in 0..=rng.below(3) {
            damage(&mut value, &mut rng);
        }
        let mut engine = match load(value) {
            Err(message) => {
                assert!(!message.is_empty());
                refusals += 1;
                continue;
            }
            Ok(engine) => engine,
        };
        restores += 1;
        engine.check_invariants();
        round_trip(&engine);
        // It goes on taking commands, every invariant kept (`run` checks them after each). But for
        // a ticket whose ttl is 0: the engine, presented it, gives it an expiry at `now`, already
        // due (due at the next command), live or restored alike; there, only no panic is checked.
        let ttl_0 = engine
            .snapshot()
            .gates
            .tickets
            .iter()
            .any(|t| t.ttl_ms == 0);
        let clock = engine.clock();
        let later = random_gate_commands(seed, 30)
            .into_iter()
            .chain(random_commands(seed, 30));
        for command in later {
            let now = command.now.saturating_add(clock);
            if ttl_0 {
                engine.apply(Command { now, ..command });
            } else {
                run(&mut engine, now, command.op);
            }
        }
    }
    assert!(refusals > 1_000 && restores > 500, "{refusals} {restores}");
}
