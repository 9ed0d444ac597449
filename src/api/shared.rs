//! What every thread of a server shares beside the transport, and the types the layers meet in: the
//! transport with this server as its handler, the host with its connections as waiters.
use std::sync::Arc;

use super::auth;
use super::identity::Identity;
use crate::engine::Engine;
use crate::host::Answer;
use crate::http::{Response, Transport};
use crate::observe::lock_stats::LockStats;
use crate::observe::metrics::Metrics;
use crate::observe::recent::Recent;

/// The transport, with this server as its handler.
pub type Net = Transport<Shared>;
/// A connection of this server's.
pub type Slot = crate::http::Slot<Shared>;
/// The engine host, with this server's connections as its waiters.
pub type Core = crate::host::Core<Arc<Slot>>;
pub type Delivery = crate::host::Delivery<Arc<Slot>>;
pub type Responder = crate::host::Responder<Arc<Slot>>;

/// A responder whose answer needs nothing of the engine beyond how the wait ended: all of it is made
/// after the engine lock is let go.
pub fn responder(make: impl FnOnce(&Answer) -> Response + Send + 'static) -> Responder {
    Box::new(move |answer: &Answer, _: &Engine| {
        let answer = answer.clone();
        Box::new(move || make(&answer))
    })
}

/// A responder that takes what it needs of the engine under its lock (`take`: a view, a number),
/// and makes the answer from it after the lock is let go (`make`).
pub fn responder_with<T: Send + 'static>(
    take: impl FnOnce(&Answer, &Engine) -> T + Send + 'static,
    make: impl FnOnce(T) -> Response + Send + 'static,
) -> Responder {
    Box::new(move |answer: &Answer, engine: &Engine| {
        let taken = take(answer, engine);
        Box::new(move || make(taken))
    })
}

/// What every thread of a server shares, beside the transport.
pub struct Shared {
    pub core: Core,
    pub admin: Option<auth::Credentials>,
    /// The `--auth-file`'s secrets in force (SIGHUP swaps them).
    pub access: Arc<auth::Access>,
    /// How absolute URLs in answers are made (`--public-url`, `--trusted-proxy`).
    pub urls: super::base_url::UrlRules,
    pub ticket_ttl: Option<std::time::Duration>,
    pub metrics: Arc<Metrics>,
    /// The last changes, for `GET /events`.
    pub recent: Arc<Recent>,
    /// Per-lock waits, for `/metrics`.
    pub lock_stats: Arc<LockStats>,
    /// What this server is, for `GET /` (JSON) and the dashboard.
    pub identity: Identity,
}
