//! No command sequence panics or corrupts the state; time going back; many waiters.

use std::collections::{BTreeMap, BTreeSet};

use super::replay::replay_matches;
use super::*;
use crate::engine::{ENDED_RETENTION_MS, Event};

/// A tiny deterministic generator (PCG-style LCG): reproducible sequences without a dependency.
pub(super) struct Lcg(pub(super) u64);

impl Lcg {
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Commands over few resources and few clients, so that they collide: retries, foreign tokens,
/// cancels (by clients and administrators) of unknown and ended requests, zero and huge ttls, past
/// deadlines, clocks going back, graces (zero, short, huge), watchers, metadata, deletions, restarts,
/// and leaps in time that forget part or all of the history of ended requests.
pub(super) fn random_commands(seed: u64, count: usize) -> Vec<Command> {
    let mut rng = Lcg(seed);
    let mut now: Millis = 1_000;
    let mut commands = Vec::with_capacity(count);
    for _ in 0..count {
        now = match rng.below(20) {
            0 => now.saturating_sub(rng.below(100)),
            1 if rng.below(5) == 0 => now + rng.below(ENDED_RETENTION_MS + 100),
            _ => now + rng.below(40),
        };
        let resource = rng.pick(&["a", "b", "c"]);
        let client = u128::from(rng.below(6) as u8) + 1;
        let ttl = rng.pick(&[None, Some(0), Some(30), Some(200), Some(u64::MAX)]);
        let wait = match rng.below(4) {
            0 => Wait::No,
            1 => Wait::Forever,
            2 => Wait::Until(now + rng.below(300)),
            _ => Wait::Until(now.saturating_sub(rng.below(10))),
        };
        let grace = rng.pick(&[None, None, Some(0), Some(60), Some(u64::MAX)]);
        let op = match rng.below(17) {
            0..=4 => with_meta(poll(resource, client, ttl, wait, grace), rng.below(3)),
            5..=6 => release(resource, client),
            7 => renew(resource, client, ttl),
            8 => cancel(RequestId(rng.below(200) + 1)),
            9 => admin_cancel(RequestId(rng.below(200) + 1)),
            10..=11 => watch(resource, wait),
            12 => delete(resource),
            13 if rng.below(8) == 0 => Op::DeleteAll,
            14 if rng.below(6) == 0 => Op::Restart {
                grace_ms: rng.pick(&[0, 60, 5_000, u64::MAX]),
            },
            _ => Op::Tick,
        };
        commands.push(Command { now, op });
    }
    commands
}

/// An acquire with metadata `n` (none for 0).
fn with_meta(op: Op, n: u64) -> Op {
    match op {
        Op::Acquire(acquire) if n > 0 => Op::Acquire(Acquire {
            meta: Some(format!("meta {n}")),
            ..acquire
        }),
        other => other,
    }
}

#[test]
fn random_sequences_keep_every_invariant_and_replay_exactly() {
    for seed in 0..20 {
        let commands = random_commands(seed, 1_500);
        // `run` (inside) checks every index after every command.
        replay_matches(&commands);

        let mut engine = Engine::new();
        let mut last_fence = 0;
        // How many requests ended, by how, and how many an administrator deleted at once.
        let mut ends = BTreeMap::new();
        let mut deleted_at_once = 0;
        for command in commands {
            let outcome = engine.apply(command);
            let of_all = engine.known_resources().into_iter();
            for (id, view) in of_all.flat_map(|name| engine.requests_of(&name)) {
                if let RequestState::Ended { end, .. } = view.state {
                    ends.entry(format!("{end:?}"))
                        .or_insert_with(BTreeSet::new)
                        .insert(id);
                }
            }
            if let Reply::Deleted { count } = outcome.reply {
                deleted_at_once += count;
            }
            let mut fences: Vec<u64> = outcome
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::Granted(grant) => Some(grant.fence),
                    _ => None,
                })
                .collect();
            if let Reply::Granted {
                grant,
                again: false,
            } = &outcome.reply
            {
                fences.push(grant.fence);
            }
            for fence in fences {
                assert_eq!(
                    fence,
                    last_fence + 1,
                    "seed {seed}: fences go up one by one"
                );
                last_fence = fence;
            }
        }
        assert_eq!(ends.len(), 5, "seed {seed}: every kind of end: {ends:?}");
        assert!(deleted_at_once > 0, "seed {seed}: nothing deleted at once");
    }
}

#[test]
fn time_never_goes_back() {
    let mut engine = Engine::new();
    run(&mut engine, 1_000, grab("a", 1, Some(100), Wait::No));
    let late = granted(&run(&mut engine, 500, grab("b", 2, Some(100), Wait::No)));
    assert_eq!(
        (late.since, late.expires),
        (1_000, Some(1_100)),
        "clamped to the engine's clock"
    );
    assert_eq!(engine.clock(), 1_000);
    let outcome = run(&mut engine, 0, Op::Tick);
    assert!(outcome.events.is_empty());
    assert_eq!(engine.resource_count(), 2);
}

#[test]
fn ten_thousand_waiters_time_out_in_deadline_order() {
    let mut engine = Engine::new();
    engine.apply(Command {
        now: 0,
        op: grab("busy", 0, None, Wait::No),
    });
    let n: u64 = 10_000;
    for i in 1..=n {
        // Later arrivals give up sooner, so deadline order is the reverse of queue order.
        let wait = Wait::Until(1_000 + (n - i));
        let outcome = engine.apply(Command {
            now: 1,
            op: grab("busy", u128::from(i), None, wait),
        });
        assert_eq!(queued(&outcome).1, i as usize);
    }
    engine.check_invariants();
    assert_eq!(engine.next_deadline(), Some(1_000));

    let first = engine.apply(Command {
        now: 1_000,
        op: Op::Tick,
    });
    assert_eq!(
        first.events,
        [Event::TimedOut {
            request: RequestId(n + 1),
            resource: "busy".into()
        }]
    );
    let rest = engine.apply(Command {
        now: 1_000 + n,
        op: Op::Tick,
    });
    assert_eq!(rest.events.len() as u64, n - 1);
    let requests: Vec<u64> = rest
        .events
        .iter()
        .map(|e| match e {
            Event::TimedOut { request, .. } => request.0,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(requests.windows(2).all(|w| w[0] > w[1]), "deadline order");
    engine.check_invariants();
    assert_eq!(engine.request_count(), 1);
}

/// What a command's own caller and the holders see, without request ids (which watchers, taking ids
/// from the same counter, shift) and without watcher-only answers.
fn seen_by_lockers(outcome: &Outcome) -> Vec<String> {
    let mut seen: Vec<String> = outcome
        .events
        .iter()
        .filter_map(|event| match event {
            Event::Granted(g) => Some(format!("granted {} {} {}", g.token, g.fence, g.since)),
            Event::Expired { fence, .. } | Event::Released { fence, .. } => {
                Some(format!("ended {fence}"))
            }
            Event::Deleted { resource, .. } => Some(format!("deleted on {resource}")),
            _ => None,
        })
        .collect();
    seen.push(match &outcome.reply {
        Reply::Granted { grant, again } => format!("grant {} {} {again}", grant.fence, grant.token),
        Reply::Queued { position, .. } => format!("queued {position}"),
        Reply::Busy(view) => format!(
            "busy {:?} {}",
            view.holder().map(|h| h.fence),
            view.waiting.len()
        ),
        Reply::Renewed { grant } => format!("renewed {} {:?}", grant.fence, grant.expires),
        Reply::Withdrawn { .. } => "withdrawn".to_owned(),
        // How many watchers a restart removed is for watchers only.
        Reply::Restarted {
            dropped, detached, ..
        } => format!("restarted {dropped} {detached}"),
        other => format!("{other:?}"),
    });
    seen
}

#[test]
fn random_watchers_change_no_grant_no_fence_and_no_position() {
    for seed in 0..20 {
        // Cancels name requests by id, which watchers shift: they become Ticks here.
        let with: Vec<Command> = random_commands(seed, 1_500)
            .into_iter()
            .map(|c| match c.op {
                Op::Cancel { .. } => Command {
                    now: c.now,
                    op: Op::Tick,
                },
                _ => c,
            })
            .collect();
        let (mut watched, mut plain) = (Engine::new(), Engine::new());
        let mut watches = 0;
        for command in with {
            let is_watch = matches!(command.op, Op::Watch { .. });
            let bare = if is_watch {
                watches += 1;
                Command {
                    now: command.now,
                    op: Op::Tick,
                }
            } else {
                command.clone()
            };
            let (a, b) = (watched.apply(command), plain.apply(bare));
            let (mut a, mut b) = (seen_by_lockers(&a), seen_by_lockers(&b));
            if is_watch {
                a.pop();
                b.pop();
            }
            assert_eq!(a, b, "seed {seed}: a watcher changed what lockers see");
        }
        assert!(watches > 100, "seed {seed}: the sequence watches");
        let holders = |engine: &Engine| -> Vec<_> {
            engine
                .locks()
                .into_iter()
                .map(|l| (l.holder().map(|h| h.fence), l.resource, l.waiting.len()))
                .collect()
        };
        assert_eq!(holders(&watched), holders(&plain));
    }
}
