//! What the core's unit tests build: client N's grab and release of lock `L`, parked waiters, a queue.
use uuid::Uuid;

use super::{Answer, Delivery, Inner, Parked};
use crate::engine::{Acquire, Command, Engine, Millis, Mode, Op, Reply, RequestId, Wait};

/// Client `client` takes `L` (token and holder text made from its number), waiting for ever.
pub fn grab(client: u128, ttl_ms: Option<u64>) -> Op {
    Op::Acquire(Acquire {
        resource: "L".to_string(),
        token: Uuid::from_u128(client),
        holder: format!("client {client}"),
        ttl_ms,
        wait: Wait::Forever,
        grace_ms: None,
        meta: None,
        slots: None,
        mode: Mode::Exclusive,
        handles: None,
    })
}

/// A parked waiter in the core's unit tests: a number, and whether its client is gone. It renders
/// to a status and a JSON document, as an HTTP answer would.
#[derive(Debug, Clone, Default)]
pub struct TestWaiter {
    pub id: u64,
    pub gone: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl TestWaiter {
    pub fn new(id: u64) -> TestWaiter {
        TestWaiter {
            id,
            ..TestWaiter::default()
        }
    }
}

impl crate::host::Waiter for TestWaiter {
    type Rendered = (u16, serde_json::Value);

    fn gone(&self) -> bool {
        self.gone.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn same(&self, other: &TestWaiter) -> bool {
        self.id == other.id
    }
}

/// The core the unit tests drive.
pub type Core = super::Core<TestWaiter>;

pub fn release(client: u128) -> Op {
    Op::Release {
        resource: "L".to_string(),
        token: Uuid::from_u128(client),
    }
}

pub fn run(
    core: &Core,
    inner: &mut Inner<TestWaiter>,
    now: Millis,
    op: Op,
) -> (Reply, Vec<Delivery<TestWaiter>>) {
    core.run_command(inner, Command { now, op })
}

/// A waiter whose client is still there.
pub fn conn(key: u64) -> TestWaiter {
    TestWaiter::new(key)
}

/// Renders a grant as 200 with its fence, anything else as 409.
pub fn parked(conn: &TestWaiter) -> Parked<TestWaiter> {
    Parked {
        waiter: conn.clone(),
        responder: Box::new(|answer: &Answer, _: &Engine| {
            let rendered: (u16, serde_json::Value) = match answer {
                Answer::Granted(grant) => (200, serde_json::json!({"fence": grant.fence})),
                _ => (409, serde_json::Value::Null),
            };
            Box::new(move || rendered)
        }),
    }
}

/// L held by client 1 (lease `ttl_ms` from t=1000), client 2 parked behind it with the same lease,
/// client 3 waiting (not parked) behind that. Returns client 2's request.
pub fn queue_of_three(
    core: &Core,
    inner: &mut Inner<TestWaiter>,
    c2: &TestWaiter,
    ttl_ms: u64,
) -> RequestId {
    run(core, inner, 1_000, grab(1, Some(ttl_ms)));
    let request = match run(core, inner, 1_001, grab(2, Some(ttl_ms))).0 {
        Reply::Queued { request, .. } => request,
        other => panic!("client 2 should wait: {other:?}"),
    };
    inner.parked.insert(request, parked(c2));
    run(core, inner, 1_002, grab(3, Some(ttl_ms)));
    request
}

pub fn holder_token(inner: &Inner<TestWaiter>) -> Option<String> {
    inner
        .engine
        .lock("L")
        .and_then(|v| v.holder().map(|h| h.holder.clone()))
}
