//! Unit tests of the lock engine. Time is passed in with each command; nothing sleeps.

mod cancel;
mod delete;
mod fences;
mod gate_queue;
mod gate_random;
mod gate_wait;
mod gates;
mod grace;
mod handles;
mod history;
mod leases;
mod properties;
mod queue;
mod releases;
mod replay;
mod restart;
mod retention;
mod robustness;
mod slots;
mod snapshot;
mod snapshot_garbage;
mod ticket_holders;
mod watch;

use uuid::Uuid;

use super::{
    Acquire, CancelBy, Command, End, Engine, Grant, Millis, Mode, Op, Outcome, Reply, RequestId,
    RequestState, Wait,
};

/// Test tokens are small numbers, so a failing assertion says which client it was.
pub(super) fn token(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// Applies `op` at `now`, then checks that every index of the engine agrees with its resources (and
/// after a restart, that nobody is left parked).
pub(super) fn run(engine: &mut Engine, now: Millis, op: Op) -> Outcome {
    let restart = matches!(op, Op::Restart { .. });
    let outcome = engine.apply(Command { now, op });
    engine.check_invariants();
    if restart {
        check_restarted(engine);
    }
    outcome
}

/// Right after a restart nobody is parked: no watcher of a lock or a gate, no ticket's poll, and
/// every lock waiter with a deadline was detached by the restart (it has no grace of its own).
fn check_restarted(engine: &Engine) {
    let snapshot = engine.snapshot();
    for resource in &snapshot.resources {
        let name = &resource.name;
        assert!(resource.watchers.is_empty(), "{name}: a watcher is left");
        for w in resource.waiters.iter().filter(|w| w.deadline.is_some()) {
            assert!(
                w.detached && w.grace_ms.is_none(),
                "{name}: waiter {} is not detached by the restart",
                w.request
            );
        }
    }
    for service in &snapshot.gates.services {
        for gate in &service.gates {
            let at = (&service.name, &gate.environment);
            assert!(gate.watchers.is_empty(), "{at:?}: a gate watcher is left");
        }
    }
    for ticket in &snapshot.gates.tickets {
        assert!(ticket.poll.is_none(), "ticket {}: still polled", ticket.id);
    }
}

pub(super) fn grab(resource: &str, client: u128, ttl_ms: Option<u64>, wait: Wait) -> Op {
    poll(resource, client, ttl_ms, wait, None)
}

/// An acquire that may keep its place for `grace_ms` after its wait ends (a long-polling client).
pub(super) fn poll(
    resource: &str,
    client: u128,
    ttl_ms: Option<u64>,
    wait: Wait,
    grace_ms: Option<u64>,
) -> Op {
    Op::Acquire(Acquire {
        resource: resource.to_owned(),
        token: token(client),
        holder: format!("client {client}"),
        ttl_ms,
        wait,
        grace_ms,
        meta: None,
        slots: None,
        mode: Mode::Exclusive,
        handles: None,
    })
}

/// An acquire that stores `meta` with its request.
pub(super) fn grab_with(resource: &str, client: u128, wait: Wait, meta: &str) -> Op {
    match grab(resource, client, None, wait) {
        Op::Acquire(acquire) => Op::Acquire(Acquire {
            meta: Some(meta.to_owned()),
            ..acquire
        }),
        _ => unreachable!(),
    }
}

pub(super) fn watch(resource: &str, wait: Wait) -> Op {
    Op::Watch {
        resource: resource.to_owned(),
        wait,
    }
}

pub(super) fn release(resource: &str, client: u128) -> Op {
    Op::Release {
        resource: resource.to_owned(),
        token: token(client),
    }
}

pub(super) fn renew(resource: &str, client: u128, ttl_ms: Option<u64>) -> Op {
    Op::Renew {
        resource: resource.to_owned(),
        token: token(client),
        ttl_ms,
    }
}

pub(super) fn cancel(request: RequestId) -> Op {
    Op::Cancel {
        request,
        by: CancelBy::Client,
    }
}

pub(super) fn admin_cancel(request: RequestId) -> Op {
    Op::Cancel {
        request,
        by: CancelBy::Admin,
    }
}

/// The server starts again, its clients' connections gone, with a grace of `grace_ms`.
pub(super) fn restart(grace_ms: u64) -> Op {
    Op::Restart { grace_ms }
}

pub(super) fn delete(resource: &str) -> Op {
    Op::DeleteResource {
        resource: resource.to_owned(),
    }
}

/// How and when `request` ended, if it is a retained ended request.
pub(super) fn ended(engine: &Engine, request: RequestId) -> Option<(End, Millis)> {
    match engine.request(request)?.state {
        RequestState::Ended { end, at } => Some((end, at)),
        _ => None,
    }
}

/// The grant of a `Granted` reply that was not a retry.
pub(super) fn granted(outcome: &Outcome) -> Grant {
    match &outcome.reply {
        Reply::Granted {
            grant,
            again: false,
        } => grant.clone(),
        other => panic!("expected a new grant, got {other:?}"),
    }
}

/// The request id of a `Watching` reply.
pub(super) fn watching(outcome: &Outcome) -> RequestId {
    match outcome.reply {
        Reply::Watching { request } => request,
        ref other => panic!("expected Watching, got {other:?}"),
    }
}

/// The request id and position of a `Queued` reply.
pub(super) fn queued(outcome: &Outcome) -> (RequestId, usize) {
    match outcome.reply {
        Reply::Queued { request, position } => (request, position),
        ref other => panic!("expected Queued, got {other:?}"),
    }
}
