//! What this server is: its version, how long it has run, where its state lives (in memory, a
//! `--state` file, or etcd shared by N servers). `GET /` answers it as JSON to a client that does not
//! ask for HTML; the dashboard shows it; `/metrics` has `weblock_build_info` and the start time.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::json;

use crate::engine::Millis;
use crate::http::{Request, Response, Words};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub struct Identity {
    started: Instant,
    /// The wall-clock start, ms since the epoch.
    pub started_ms: Millis,
    store: &'static str,
    /// With etcd: the servers whose liveness keys were seen last (the liveness thread sets it).
    servers: AtomicUsize,
}

impl Identity {
    /// `store`: where its state lives: "memory", "file" or "etcd".
    pub fn new(store: &'static str) -> Identity {
        Identity {
            started: Instant::now(),
            started_ms: crate::timefmt::now_ms(),
            store,
            servers: AtomicUsize::new(1),
        }
    }

    pub fn set_servers(&self, n: usize) {
        self.servers.store(n.max(1), Ordering::Relaxed);
    }

    /// `{"service": "weblock", "version", "uptime" (seconds), "store": "memory"|"file"|"etcd",
    /// "servers" (etcd only: how many share it), "docs"}`.
    pub fn json(&self) -> serde_json::Value {
        let mut v = json!({
            "status": "ok",
            "service": "weblock",
            "version": VERSION,
            "uptime": self.started.elapsed().as_secs(),
            "store": self.store,
            "docs": "docs/api.md in weblock's source (the HTTP APIs); `weblock --help` and man weblock (the command line)",
            "apis": {
                "webmutex": "/grab, /release, /renew, /status, /reserve",
                "hal": "/locks/{resource}, /resources",
                "request_queue": "/v1/locks/",
                "gatekeeper": "/api/services, /api/tickets/{id}",
            },
            "dashboard": "/ with Accept: text/html, or /gates",
            "metrics": "/metrics",
        });
        if self.store == "etcd"
            && let Some(m) = v.as_object_mut()
        {
            m.insert(
                "servers".into(),
                self.servers.load(Ordering::Relaxed).into(),
            );
        }
        v
    }
}

/// `GET /` (and `HEAD`) for a client that does not ask for HTML.
pub fn answer(identity: &Identity, req: &Request) -> Response {
    if let Some(refusal) = super::replies::check_method(req, &["GET"], Words::Fail) {
        return refusal;
    }
    Response::json(200, &identity.json()).with_header("Cache-Control", "no-store")
}
