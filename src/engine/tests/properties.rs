//! Property tests (proptest) over random sequences of lock commands, in the spirit of
//! `robustness::random_commands` (few resources, few tokens, clocks that jitter and go back), but
//! shrunk to a minimal failing sequence when a property breaks.
//!
//! Requests name slots and modes at random, so resources are mutexes, counting semaphores and
//! reader/writer locks, and requests that name other slots than those in force are refused.
//!
//! Properties: never more holders than the slots in force admit, never two modes at once, an
//! exclusive holder alone where one slot is in force (a previous holder no longer holds once another
//! is granted); fences strictly increase across all grants; waiters are granted in arrival order
//! (those that left aside), and the next in line never waits for a slot it could hold; a refusal of
//! slots names those in force; no waiter outlives its deadline (every waiter ends granted, timed out
//! or removed); replay gives equal outcomes and an equal engine; snapshot → restore → continue
//! equals continue.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::engine::slots::{admits, limit};
use crate::engine::{Event, Handles, Snapshot};

const RESOURCES: [&str; 3] = ["a", "b", "c"];

/// A wait, relative to the command's time (so that shrinking the clock keeps its meaning).
#[derive(Clone, Copy, Debug)]
enum WaitSpec {
    No,
    Forever,
    /// `Wait::Until(now + ms)`; 0 is a deadline already passed.
    In(u64),
}

/// One command, before its time is fixed.
#[derive(Clone, Debug)]
enum Spec {
    Acquire {
        resource: usize,
        client: u128,
        ttl: Option<u64>,
        wait: WaitSpec,
        grace: Option<u64>,
        slots: Option<u32>,
        mode: Mode,
        /// Small, so that they collide with each other and with those made from request ids.
        handles: Option<(u8, u8)>,
    },
    Release {
        resource: usize,
        client: u128,
    },
    Renew {
        resource: usize,
        client: u128,
        ttl: Option<u64>,
    },
    Cancel {
        request: u64,
        admin: bool,
    },
    /// The server's extension of a lease written late: to `now + by`.
    Extend {
        request: u64,
        by: u64,
    },
    Watch {
        resource: usize,
        wait: WaitSpec,
    },
    Delete {
        resource: usize,
    },
    DeleteAll,
    Restart {
        grace: u64,
    },
    Tick,
}

fn resource() -> impl Strategy<Value = usize> {
    0..RESOURCES.len()
}

fn client() -> impl Strategy<Value = u128> {
    1..=4u128
}

fn ttl() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(0)),
        2 => Just(Some(30)),
        2 => Just(Some(200)),
        1 => Just(Some(u64::MAX)),
    ]
}

fn wait() -> impl Strategy<Value = WaitSpec> {
    prop_oneof![
        Just(WaitSpec::No),
        Just(WaitSpec::Forever),
        (0..300u64).prop_map(WaitSpec::In),
    ]
}

fn grace() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(0)),
        1 => Just(Some(60)),
        1 => Just(Some(u64::MAX)),
    ]
}

fn slots() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(1)),
        2 => Just(Some(2)),
        1 => Just(Some(3)),
    ]
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![2 => Just(Mode::Exclusive), 1 => Just(Mode::Shared)]
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        6 => (
            resource(),
            client(),
            ttl(),
            wait(),
            grace(),
            slots(),
            mode(),
            proptest::option::of((0..6u8, 0..6u8)),
        )
            .prop_map(|(resource, client, ttl, wait, grace, slots, mode, handles)| {
                Spec::Acquire {
                    resource,
                    client,
                    ttl,
                    wait,
                    grace,
                    slots,
                    mode,
                    handles,
                }
            }),
        3 => (resource(), client()).prop_map(|(resource, client)| Spec::Release { resource, client }),
        1 => (resource(), client(), ttl())
            .prop_map(|(resource, client, ttl)| Spec::Renew { resource, client, ttl }),
        1 => (1..40u64, any::<bool>())
            .prop_map(|(request, admin)| Spec::Cancel { request, admin }),
        1 => (1..40u64, prop_oneof![Just(0u64), 0..200u64, Just(u64::MAX)])
            .prop_map(|(request, by)| Spec::Extend { request, by }),
        1 => (resource(), wait()).prop_map(|(resource, wait)| Spec::Watch { resource, wait }),
        1 => resource().prop_map(|resource| Spec::Delete { resource }),
        1 => Just(Spec::DeleteAll),
        1 => prop_oneof![Just(0u64), Just(60), Just(5_000), Just(u64::MAX)]
            .prop_map(|grace| Spec::Restart { grace }),
        3 => Just(Spec::Tick),
    ]
}

/// A step: how the clock moves (mostly forward, sometimes back), then a command.
fn step() -> impl Strategy<Value = (i64, Spec)> {
    (prop_oneof![8 => 0..60i64, 1 => -40..0i64], spec())
}

fn steps() -> impl Strategy<Value = Vec<(i64, Spec)>> {
    prop::collection::vec(step(), 1..120)
}

fn to_wait(wait: WaitSpec, now: Millis) -> Wait {
    match wait {
        WaitSpec::No => Wait::No,
        WaitSpec::Forever => Wait::Forever,
        WaitSpec::In(ms) => Wait::Until(now + ms),
    }
}

/// The commands of `steps`, from time 1 000.
fn commands(steps: &[(i64, Spec)]) -> Vec<Command> {
    let mut now: Millis = 1_000;
    steps
        .iter()
        .map(|(dt, spec)| {
            now = now.saturating_add_signed(*dt);
            let name = |i: usize| RESOURCES[i];
            let op = match *spec {
                Spec::Acquire {
                    resource,
                    client,
                    ttl,
                    wait,
                    grace,
                    slots,
                    mode,
                    handles,
                } => match poll(name(resource), client, ttl, to_wait(wait, now), grace) {
                    Op::Acquire(acquire) => Op::Acquire(Acquire {
                        slots,
                        mode,
                        handles: handles.map(|(uid, number)| Handles {
                            uid: uuid::Uuid::from_u128(uid.into()),
                            number: number.into(),
                        }),
                        ..acquire
                    }),
                    other => other,
                },
                Spec::Release { resource, client } => release(name(resource), client),
                Spec::Renew {
                    resource,
                    client,
                    ttl,
                } => renew(name(resource), client, ttl),
                Spec::Cancel { request, admin } => {
                    let request = RequestId(request);
                    if admin {
                        admin_cancel(request)
                    } else {
                        cancel(request)
                    }
                }
                Spec::Extend { request, by } => Op::Extend {
                    request: RequestId(request),
                    until: now.saturating_add(by),
                },
                Spec::Watch { resource, wait } => watch(name(resource), to_wait(wait, now)),
                Spec::Delete { resource } => delete(name(resource)),
                Spec::DeleteAll => Op::DeleteAll,
                Spec::Restart { grace } => restart(grace),
                Spec::Tick => Op::Tick,
            };
            Command { now, op }
        })
        .collect()
}

/// The new grants of an outcome, in the order they happened (events first: every command expires
/// what is due before doing its own work).
fn new_grants(outcome: &Outcome) -> Vec<Grant> {
    let mut grants: Vec<Grant> = outcome
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Granted(grant) => Some(grant.clone()),
            _ => None,
        })
        .collect();
    if let Reply::Granted {
        grant,
        again: false,
    } = &outcome.reply
    {
        grants.push(grant.clone());
    }
    grants
}

fn is_active(engine: &Engine, request: RequestId) -> bool {
    matches!(
        engine.request(request).map(|v| v.state),
        Some(RequestState::Active(_))
    )
}

fn is_waiting(engine: &Engine, request: RequestId) -> bool {
    matches!(
        engine.request(request).map(|v| v.state),
        Some(RequestState::Waiting { .. })
    )
}

/// What the properties track across a sequence, against the engine.
#[derive(Default)]
struct Model {
    last_fence: u64,
    /// The holder of each resource after the last command.
    holders: BTreeMap<String, RequestId>,
    /// The waiters of each resource in arrival order (ids leave once they wait no more).
    queues: BTreeMap<String, Vec<RequestId>>,
    /// Every request that ever queued.
    queued: Vec<RequestId>,
}

impl Model {
    /// Checks the outcome of a command just applied to `engine`, then takes in the new state.
    fn check(&mut self, engine: &Engine, outcome: &Outcome) -> Result<(), TestCaseError> {
        let grants = new_grants(outcome);

        // Fences strictly increase across all grants.
        for grant in &grants {
            prop_assert!(
                grant.fence > self.last_fence,
                "fence {} after {}",
                grant.fence,
                self.last_fence
            );
            self.last_fence = grant.fence;
        }

        // Never more holders than the slots admit, never two modes; where one slot is in force (an
        // exclusive holder alone), whoever held a resource before a new grant (the previous holder,
        // or an earlier grant of this same command) no longer holds it.
        for name in RESOURCES {
            let view = engine.lock(name);
            let active = engine
                .requests_of(name)
                .into_iter()
                .filter(|(_, v)| matches!(v.state, RequestState::Active(_)))
                .count();
            let holders = view.as_ref().map_or(0, |v| v.holders.len());
            prop_assert_eq!(active, holders, "{}: active requests are its holders", name);
            let Some(view) = view else {
                self.holders.remove(name);
                continue;
            };
            let mode = view.mode.unwrap_or_default();
            prop_assert!(
                view.holders.iter().all(|h| h.mode == mode),
                "{}: holders of two modes",
                name
            );
            let cap = limit(view.slots, mode);
            prop_assert!(
                cap.is_none_or(|n| holders <= n as usize),
                "{}: {} holders, slots {:?}",
                name,
                holders,
                view.slots
            );
            if cap == Some(1) {
                let mut before: Vec<RequestId> =
                    self.holders.get(name).copied().into_iter().collect();
                let on_it: Vec<RequestId> = grants
                    .iter()
                    .filter(|g| g.resource == name)
                    .map(|g| g.request)
                    .collect();
                if let Some((&last, earlier)) = on_it.split_last() {
                    before.extend(earlier);
                    for prior in before.into_iter().filter(|&p| p != last) {
                        prop_assert!(
                            !is_active(engine, prior),
                            "{name}: {prior:?} still holds after {last:?} was granted"
                        );
                    }
                }
            }
            // Strict FIFO, and no slot left idle: the next in line could not hold it now.
            if let Some(next) = view.waiting.first() {
                prop_assert!(
                    !admits(view.slots, view.mode, holders, next.mode),
                    "{}: {:?} waits for a slot it could hold",
                    name,
                    next.request
                );
            }
            match view.holder() {
                Some(holder) => self.holders.insert(name.to_owned(), holder.request),
                None => self.holders.remove(name),
            };
        }

        // A refusal of slots names those in force on a resource in use.
        if let Reply::SlotsDiffer { in_force, asked } = outcome.reply {
            prop_assert!(
                engine.locks().iter().any(|l| l.slots == in_force),
                "slots {:?} refused ({} asked), but no resource has them",
                in_force,
                asked
            );
            prop_assert!(in_force != Some(asked));
        }

        // FIFO: a new waiter joins the back; one re-polling keeps its place.
        if let Reply::Queued { request, .. } = outcome.reply {
            let Some(view) = engine.request(request) else {
                return Err(TestCaseError::fail(format!("{request:?} queued, unknown")));
            };
            let queue = self.queues.entry(view.resource).or_default();
            if !queue.contains(&request) {
                queue.push(request);
                self.queued.push(request);
            }
        }
        for name in RESOURCES {
            let queue = self.queues.entry(name.to_owned()).or_default();
            // Nobody granted here was overtaken by someone who still waits.
            for grant in grants.iter().filter(|g| g.resource == name) {
                if let Some(at) = queue.iter().position(|&r| r == grant.request) {
                    for &earlier in &queue[..at] {
                        prop_assert!(
                            !is_waiting(engine, earlier),
                            "{name}: {:?} granted before {earlier:?}, which came first",
                            grant.request
                        );
                    }
                }
            }
            queue.retain(|&r| is_waiting(engine, r));
            let waiting: Vec<RequestId> = engine
                .lock(name)
                .map(|l| l.waiting.iter().map(|w| w.request).collect())
                .unwrap_or_default();
            prop_assert_eq!(
                &waiting,
                queue,
                "{}: the queue is out of arrival order",
                name
            );
        }

        // No waiter outlives its deadline (or its grace): a deadline at or before now has passed.
        let clock = engine.clock();
        for lock in engine.locks() {
            for w in &lock.waiting {
                prop_assert!(
                    w.deadline.is_none_or(|d| d > clock),
                    "{}: {:?} still waits past its deadline {:?} at {clock}",
                    lock.resource,
                    w.request,
                    w.deadline
                );
            }
        }
        Ok(())
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Holders within the slots and of one mode, fences increasing, FIFO grants, no waiter past its deadline; and at
    /// the end, once the latest deadline (and grace) has passed, every waiter that ever queued was granted, timed
    /// out or removed (or still waits with no deadline).
    #[test]
    fn grants_are_exclusive_fenced_fifo_and_timely(steps in steps()) {
        let mut engine = Engine::new();
        let mut model = Model::default();
        for command in commands(&steps) {
            let outcome = run(&mut engine, command.now, command.op);
            model.check(&engine, &outcome)?;
        }

        // A wait deadline that passes may start a grace: tick again at its end (a few rounds suffice).
        for _ in 0..4 {
            let last = engine
                .locks()
                .iter()
                .flat_map(|l| l.waiting.iter().filter_map(|w| w.deadline))
                .max();
            let Some(last) = last else { break };
            let outcome = run(&mut engine, last, Op::Tick);
            model.check(&engine, &outcome)?;
        }
        for &request in &model.queued {
            match engine.request(request).map(|v| v.state) {
                Some(RequestState::Waiting { waiter, .. }) => prop_assert!(
                    waiter.deadline.is_none(),
                    "{:?} is stuck in the queue: {:?}", request, waiter
                ),
                // Granted and holding, ended (granted, timed out, cancelled, deleted, abandoned), or
                // ended long enough ago to be forgotten.
                Some(RequestState::Active(_) | RequestState::Ended { .. }) | None => {}
                Some(other) => prop_assert!(false, "{:?} queued, now {:?}", request, other),
            }
        }
    }

    /// The same commands on a fresh engine give the same outcomes and an equal engine.
    #[test]
    fn replay_gives_equal_outcomes_and_engine(steps in steps()) {
        let commands = commands(&steps);
        let mut first = Engine::new();
        let outcomes: Vec<Outcome> = commands.iter().map(|c| first.apply(c.clone())).collect();
        let mut second = Engine::new();
        for (i, command) in commands.into_iter().enumerate() {
            prop_assert_eq!(&second.apply(command), &outcomes[i], "command {} differs", i);
        }
        prop_assert!(first == second, "the replayed engine differs");
    }

    /// Snapshot (through JSON) → restore → continue gives what continuing gives.
    #[test]
    fn snapshot_restore_continue_equals_continue(
        steps in steps(),
        cut in any::<prop::sample::Index>(),
    ) {
        let commands = commands(&steps);
        let cut = cut.index(commands.len() + 1);
        let (before, after) = commands.split_at(cut);
        let mut original = Engine::new();
        for command in before {
            original.apply(command.clone());
        }
        let json = serde_json::to_string(&original.snapshot()).expect("a snapshot serializes");
        let snapshot: Snapshot = serde_json::from_str(&json).expect("a snapshot parses");
        let mut restored = Engine::restore(snapshot).expect("a snapshot restores");
        prop_assert!(restored == original, "the restored engine differs at {}", cut);
        for (i, command) in after.iter().enumerate() {
            let expected = original.apply(command.clone());
            let outcome = run(&mut restored, command.now, command.op.clone());
            prop_assert_eq!(outcome, expected, "command {} after the cut differs", cut + i);
        }
        prop_assert!(restored == original, "the states differ at the end");
    }
}
