//! The engine host: the engine under its lock, with the waiters parked on it, and the stores that keep
//! its state (memory, a journal, a log shared in etcd). It knows nothing of HTTP: a parked waiter is
//! whatever the layer above parks (a [`Waiter`]), and the answer it is due is whatever that layer's
//! responder renders.
//!
//! The rule that a grant is its client's once its answer is written, and given back when the client
//! turns out to be gone, lives here alone (`Core::undo`, `Core::delivered`, `Core::confirm`): the
//! layer above only says which happened.
mod before;
mod core;
pub mod replica;
mod store;

use crate::engine::{Engine, Event, Millis, Reply};

pub use before::Before;
pub use core::{
    Answer, Claim, Core, Delivery, DirectGrant, HostError, Ready, Rendering, Responder, Session,
    WriteId, snapshot_every,
};
pub use store::Store;

/// Whatever waits on the engine for an answer: parked under a request, answered when its wait ends.
pub trait Waiter: Send + 'static {
    /// What its responder renders.
    type Rendered: Send;
    /// Whether its client is gone (a grant to it would never be received).
    fn gone(&self) -> bool;
    /// Whether `other` is this very waiter (a retry may park another in its place).
    fn same(&self, other: &Self) -> bool;
}

/// Sees every command's outcome, under the engine's lock, in the engine's order (the metrics, the event
/// log).
pub trait Observer: Send + Sync {
    /// `engine` is the state after the command; `before` what its outcome cannot say by itself.
    fn record(
        &self,
        now: Millis,
        before: &Before,
        reply: &Reply,
        events: &[Event],
        engine: &Engine,
    );
}

/// Sees nothing.
pub struct Unobserved;

impl Observer for Unobserved {
    fn record(&self, _: Millis, _: &Before, _: &Reply, _: &[Event], _: &Engine) {}
}

/// What the threads of a shared store (`replica`) work on: the core, and the way its answers reach
/// their waiters.
pub trait Host: Send + Sync + 'static {
    type Waiter: Waiter;
    fn core(&self) -> &Core<Self::Waiter>;
    /// Writes answers that became due (off the engine's lock).
    fn deliver(&self, deliveries: Vec<Delivery<Self::Waiter>>);
    /// How many servers share the store now.
    fn servers_seen(&self, count: usize);
}
