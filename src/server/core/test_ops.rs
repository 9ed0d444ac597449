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
