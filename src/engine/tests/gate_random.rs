//! Random sequences of gate commands mixed with lock commands: no panic, every invariant after every
//! command (`run`), exact replay; nobody is granted on their own but a parked ticket; and every
//! parked request (poll or watcher) hears exactly one answer, or is cancelled by its client, or
//! ended by a restart.

use std::collections::{BTreeMap, BTreeSet};

use super::gates::*;
use super::replay::replay_matches;
use super::robustness::Lcg;
use super::*;
use crate::engine::{Event, GateReply, GateState, TICKET_TTL_MS};

const GATES: [(&str, &str); 7] = [
    ("s", "a"),
    ("s", "b"),
    ("s", "c"),
    ("t", "x"),
    ("t", "y"),
    ("s", "zz"),
    ("u", "a"),
];

/// Few services, gates and ticket ids, so that they collide: overlapping sets, retries, ids in use,
/// unknown names, deleted and recreated services, hang-ups and administrators on any request id,
/// clocks going back, leaps past ticket expiry, restarts, and locks on the same counter and clock.
pub(super) fn random_gate_commands(seed: u64, count: usize) -> Vec<Command> {
    let mut rng = Lcg(seed);
    let mut now: Millis = 1_000;
    let mut commands = vec![
        Command {
            now,
            op: create("s", &["a", "b", "c"]),
        },
        Command {
            now,
            op: create("t", &["x", "y"]),
        },
    ];
    for _ in 0..count {
        now = match rng.below(20) {
            0 => now.saturating_sub(rng.below(100)),
            1 => now + rng.below(2 * TICKET_TTL_MS),
            _ => now + rng.below(3_000),
        };
        let wait = match rng.below(5) {
            0 | 1 => Wait::No,
            2 => Wait::Forever,
            3 => Wait::Until(now + rng.below(TICKET_TTL_MS)),
            _ => Wait::Until(now.saturating_sub(rng.below(10))),
        };
        let mut named = Vec::new();
        for _ in 0..=rng.below(3) {
            let pick = if rng.below(15) == 0 {
                rng.pick(&GATES)
            } else {
                rng.pick(&GATES[..5])
            };
            named.push(pick);
        }
        let (service, env) = rng.pick(&GATES);
        let ticket = u128::from(rng.below(10) as u8) + 1;
        let queue = rng.below(4) != 0;
        let op = match rng.below(24) {
            0..=5 => take(&named, ticket, queue, wait),
            6..=9 => present(&named, ticket, queue, wait),
            10..=11 => delete_ticket(ticket),
            12..=13 => set(service, env, Some(GateState::Open), None),
            14 => set(service, env, Some(GateState::Closed), Some("closed")),
            15..=16 => watch_gate(service, env, wait),
            17 if rng.below(6) == 0 => Op::DeleteService {
                service: service.to_owned(),
                // Both rules: today's, and the one older journals replay with.
                keep_other_gates: rng.below(2) == 0,
            },
            17 => create(service, &["a", "b", "c", "x", "y"]),
            18 => cancel(RequestId(rng.below(150) + 1)),
            19 => admin_cancel(RequestId(rng.below(150) + 1)),
            20 => grab(rng.pick(&["a", "b"]), ticket, Some(rng.below(5_000)), wait),
            21 => release(rng.pick(&["a", "b"]), ticket),
            22 if rng.below(3) == 0 => Op::UpdateService {
                service: service.to_owned(),
                group: Some("updated".into()),
                gates: vec![crate::engine::GateChange {
                    environment: env.to_owned(),
                    state: Some(rng.pick(&[GateState::Open, GateState::Closed])),
                    message: None,
                }],
            },
            22 if rng.below(3) == 0 => Op::Restart {
                grace_ms: rng.pick(&[0, 1_000, 60_000]),
            },
            _ => Op::Tick,
        };
        commands.push(Command { now, op });
    }
    commands
}

/// Which requests each event answers, and whether it grants its ticket.
fn answered(event: &Event) -> Option<(RequestId, Option<uuid::Uuid>)> {
    match *event {
        Event::TicketGranted { ticket, request } => Some((request, Some(ticket))),
        Event::TicketPollEnded { request, .. }
        | Event::TicketEnded { request, .. }
        | Event::GateOpened { request }
        | Event::GateWatchEnded { request } => Some((request, None)),
        _ => None,
    }
}

#[test]
fn random_gate_sequences_keep_every_invariant_and_replay_exactly() {
    let mut kinds = BTreeSet::new();
    for seed in 0..20 {
        let mut commands = random_gate_commands(seed, 1_500);
        // Last, every service goes: every parked request must have been answered by then.
        let end = commands.last().map_or(0, |c| c.now) + 1;
        for service in ["s", "t", "u"] {
            let op = Op::DeleteService {
                service: service.into(),
                keep_other_gates: true,
            };
            commands.push(Command { now: end, op });
        }
        replay_matches(&commands);

        let mut engine = Engine::new();
        let mut parked: BTreeSet<RequestId> = BTreeSet::new();
        let mut restarts = 0;
        let tickets: Vec<uuid::Uuid> = (1..=10).map(token).collect();
        for command in commands {
            let op = command.op.clone();
            let before: BTreeMap<_, _> = tickets
                .iter()
                .map(|&id| (id, engine.ticket(id).is_some_and(|t| t.granted)))
                .collect();
            let outcome = run(&mut engine, command.now, command.op);
            let mut granted_by_event = BTreeSet::new();
            for event in &outcome.events {
                let Some((request, grant)) = answered(event) else {
                    continue;
                };
                kinds.insert(format!("{:?}", std::mem::discriminant(event)));
                assert!(
                    parked.remove(&request),
                    "seed {seed}: {event:?} answers nobody parked"
                );
                granted_by_event.extend(grant);
            }
            match (&outcome.reply, &op) {
                (Reply::Gate(GateReply::Waiting { request, .. }), _)
                | (Reply::Gate(GateReply::Watching { request }), _) => {
                    assert!(parked.insert(*request));
                }
                (Reply::Cancelled, Op::Cancel { request, .. }) => {
                    parked.remove(request);
                }
                // A restart ends every parked request, silently: nobody is there to answer.
                (
                    Reply::Restarted {
                        watchers, polls, ..
                    },
                    _,
                ) => {
                    assert_eq!(watchers + polls, parked.len(), "seed {seed}: {op:?}");
                    parked.clear();
                    restarts += 1;
                }
                _ => {}
            }
            let replied = match &outcome.reply {
                Reply::Gate(GateReply::Ok(ticket)) => Some(ticket.id),
                _ => None,
            };
            for &id in &tickets {
                let now_granted = engine.ticket(id).is_some_and(|t| t.granted);
                if now_granted && !before[&id] {
                    assert!(
                        replied == Some(id) || granted_by_event.contains(&id),
                        "seed {seed}: ticket {id} was granted to nobody asking: {op:?}"
                    );
                }
            }
        }
        assert!(parked.is_empty(), "seed {seed}: never answered: {parked:?}");
        assert!(restarts > 0, "seed {seed}: no restart");
        assert_eq!((engine.ticket_count(), engine.services().len()), (0, 0));
    }
    assert_eq!(
        kinds.len(),
        5,
        "every kind of answer to a parked request: {kinds:?}"
    );
}
