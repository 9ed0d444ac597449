//! Commands the core's unit tests build: client N's grab of lock `L`.
use uuid::Uuid;

use crate::engine::{Acquire, Mode, Op, Wait};

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
