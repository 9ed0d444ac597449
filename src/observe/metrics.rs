//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4).
//!
//! Counters are atomics bumped where things happen (no lock of their own on the hot path): changes by
//! `changes::Observer` under the engine's lock, requests by the connection that answers them, hand-over
//! latencies by the thread that writes a granted waiter's answer. Gauges (locks held, waiters, gates
//! closed, tickets) are read from the engine when scraped.
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::kind::Kind;
use crate::engine::{Engine, GateState};
use crate::journal::Journal;

/// Which API a request was for, by the first segment of its path (as the router decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    WebMutex,
    Hal,
    RequestQueue,
    Gatekeeper,
    /// The dashboard, `/metrics`, unknown paths, and requests refused before they were read.
    Other,
}

impl Api {
    const ALL: [Api; 5] = [
        Api::WebMutex,
        Api::Hal,
        Api::RequestQueue,
        Api::Gatekeeper,
        Api::Other,
    ];

    fn label(self) -> &'static str {
        match self {
            Api::WebMutex => "webmutex",
            Api::Hal => "hal",
            Api::RequestQueue => "request_queue",
            Api::Gatekeeper => "gatekeeper",
            Api::Other => "other",
        }
    }
}

/// The status codes weblock answers with; anything else is counted as `code="other"`.
const CODES: [u16; 19] = [
    200, 201, 202, 204, 400, 401, 403, 404, 405, 408, 409, 411, 412, 413, 431, 500, 501, 503, 0,
];

fn code_index(status: u16) -> usize {
    CODES
        .iter()
        .position(|&c| c == status)
        .unwrap_or(CODES.len() - 1)
}

/// Upper bounds of the hand-over histogram's buckets, in seconds (and `+Inf` after them).
const HANDOVER_BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

/// A counter family over kinds of change: one series (no label), or one per kind, labelled.
struct Counted {
    name: &'static str,
    help: &'static str,
    /// Empty: a single series, unlabelled.
    label: &'static str,
    series: &'static [(Kind, &'static str)],
}

const COUNTED: [Counted; 9] = [
    Counted {
        name: "weblock_grants_total",
        help: "Locks granted.",
        label: "",
        series: &[(Kind::Grant, "")],
    },
    Counted {
        name: "weblock_releases_total",
        help: "Locks released by their holders.",
        label: "",
        series: &[(Kind::Release, "")],
    },
    Counted {
        name: "weblock_expiries_total",
        help: "Leases that ran out.",
        label: "",
        series: &[(Kind::Expiry, "")],
    },
    Counted {
        name: "weblock_timeouts_total",
        help: "Waiters whose wait ran out.",
        label: "",
        series: &[(Kind::Timeout, "")],
    },
    Counted {
        name: "weblock_cancels_total",
        help: "Waiters that left the queue (hung up, withdrawn).",
        label: "",
        series: &[(Kind::Cancel, "")],
    },
    Counted {
        name: "weblock_deletes_total",
        help: "Holders and waiters ended by an administrator.",
        label: "",
        series: &[(Kind::Delete, "")],
    },
    Counted {
        name: "weblock_denials_total",
        help: "Requests refused at once because what they asked for was taken (a lock: 409; gates: denied).",
        label: "namespace",
        series: &[(Kind::LockDenied, "locks"), (Kind::GateDenied, "gates")],
    },
    Counted {
        name: "weblock_gate_changes_total",
        help: "Gates opened or closed by hand, or given a new message.",
        label: "change",
        series: &[
            (Kind::GateOpened, "opened"),
            (Kind::GateClosed, "closed"),
            (Kind::GateMessage, "message"),
        ],
    },
    Counted {
        name: "weblock_ticket_changes_total",
        help: "Gate tickets queued, granted, expired or deleted.",
        label: "change",
        series: &[
            (Kind::TicketQueued, "queued"),
            (Kind::TicketGranted, "granted"),
            (Kind::TicketExpired, "expired"),
            (Kind::TicketDeleted, "deleted"),
        ],
    },
];

pub struct Metrics {
    changes: [AtomicU64; Kind::ALL.len()],
    requests: [[AtomicU64; CODES.len()]; Api::ALL.len()],
    /// Per bucket (not cumulative; the last is `+Inf`), then their sum in nanoseconds.
    handover: [AtomicU64; HANDOVER_BUCKETS.len() + 1],
    handover_nanos: AtomicU64,
    /// Event-log records dropped because stderr was read too slowly (shared with the log).
    pub log_dropped: Arc<AtomicU64>,
    journal: Option<Arc<Journal>>,
}

impl Metrics {
    pub fn new(journal: Option<Arc<Journal>>) -> Metrics {
        Metrics {
            changes: std::array::from_fn(|_| AtomicU64::new(0)),
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            handover: std::array::from_fn(|_| AtomicU64::new(0)),
            handover_nanos: AtomicU64::new(0),
            log_dropped: Arc::new(AtomicU64::new(0)),
            journal,
        }
    }

    pub fn count(&self, kind: Kind) {
        self.changes[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// An answer written: which API, which status.
    pub fn request(&self, api: Api, status: u16) {
        self.requests[api as usize][code_index(status)].fetch_add(1, Ordering::Relaxed);
    }

    /// From the moment the engine handed a lock to a parked waiter to its answer being written.
    pub fn handover(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = HANDOVER_BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(HANDOVER_BUCKETS.len());
        self.handover[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.handover_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn changes_of(&self, kind: Kind) -> u64 {
        self.changes[kind as usize].load(Ordering::Relaxed)
    }

    /// The exposition: gauges from `engine` (read under its lock by the caller), counters from here.
    pub fn render(&self, gauges: &Gauges, connections: usize) -> String {
        let mut out = String::with_capacity(4096);
        let gauge = |out: &mut String, name: &str, help: &str, value: usize| {
            family(out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        };
        gauge(
            &mut out,
            "weblock_locks_held",
            "Locks held now.",
            gauges.locks_held,
        );
        gauge(
            &mut out,
            "weblock_lock_holders",
            "Holders of locks now (a shared lock may have several).",
            gauges.holders,
        );
        gauge(
            &mut out,
            "weblock_lock_waiters",
            "Requests waiting in lock queues now.",
            gauges.waiters,
        );
        gauge(
            &mut out,
            "weblock_gates_closed",
            "Gates that read closed now (closed by hand, or held by a ticket).",
            gauges.gates_closed,
        );
        family(&mut out, "weblock_tickets", "gauge", "Live gate tickets.");
        let _ = writeln!(
            out,
            "weblock_tickets{{state=\"granted\"}} {}",
            gauges.tickets_granted
        );
        let _ = writeln!(
            out,
            "weblock_tickets{{state=\"queued\"}} {}",
            gauges.tickets_queued
        );
        gauge(
            &mut out,
            "weblock_connections_open",
            "Client connections open now.",
            connections,
        );
        self.render_changes(&mut out);
        self.render_requests(&mut out);
        self.render_handover(&mut out);
        let dropped = self.log_dropped.load(Ordering::Relaxed);
        counter(
            &mut out,
            "weblock_log_lines_dropped_total",
            "Event-log lines dropped because stderr was read too slowly.",
            dropped,
        );
        if let Some(journal) = &self.journal {
            counter(
                &mut out,
                "weblock_journal_syncs_total",
                "Syncs of the state file (each makes a batch of commands durable).",
                journal.syncs(),
            );
            counter(
                &mut out,
                "weblock_journal_commands_total",
                "Commands appended to the state file since the server started.",
                journal.appended(),
            );
        }
        out
    }

    fn render_changes(&self, out: &mut String) {
        for family_of in COUNTED {
            family(out, family_of.name, "counter", family_of.help);
            for (kind, value) in family_of.series {
                let n = self.changes_of(*kind);
                let _ = match family_of.label {
                    "" => writeln!(out, "{} {n}", family_of.name),
                    label => writeln!(out, "{}{{{label}=\"{value}\"}} {n}", family_of.name),
                };
            }
        }
    }

    fn render_requests(&self, out: &mut String) {
        family(
            out,
            "weblock_requests_total",
            "counter",
            "Requests answered, by API and status code.",
        );
        for api in Api::ALL {
            for (i, code) in CODES.iter().enumerate() {
                let n = self.requests[api as usize][i].load(Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                let code = match code {
                    0 => "other".to_string(),
                    c => c.to_string(),
                };
                let _ = writeln!(
                    out,
                    "weblock_requests_total{{api=\"{}\",code=\"{code}\"}} {n}",
                    api.label()
                );
            }
        }
    }

    fn render_handover(&self, out: &mut String) {
        let name = "weblock_handover_seconds";
        family(
            out,
            name,
            "histogram",
            "From the release or expiry that frees a lock to the answer written to the parked waiter it is handed to.",
        );
        let mut cumulative = 0;
        for (i, le) in HANDOVER_BUCKETS.iter().enumerate() {
            cumulative += self.handover[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        cumulative += self.handover[HANDOVER_BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.handover_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

/// What the engine holds now, for the gauges.
#[derive(Debug, Default)]
pub struct Gauges {
    locks_held: usize,
    holders: usize,
    waiters: usize,
    gates_closed: usize,
    tickets_granted: usize,
    tickets_queued: usize,
}

impl Gauges {
    /// O(locks + waiters + gates): for a scrape, not for the hot path.
    pub fn of(engine: &Engine) -> Gauges {
        let mut g = Gauges::default();
        for lock in engine.locks() {
            // `iter()` counts one holder or several alike.
            let holders = lock.holders.len();
            g.holders += holders;
            g.locks_held += usize::from(holders > 0);
            g.waiters += lock.waiting.len();
        }
        let mut granted = std::collections::BTreeSet::new();
        for service in engine.services() {
            for gate in service.environments.values() {
                g.gates_closed += usize::from(gate.state == GateState::Closed);
                granted.extend(gate.held_by);
            }
        }
        g.tickets_granted = granted.len();
        g.tickets_queued = engine.ticket_count().saturating_sub(granted.len());
        g
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    family(out, name, "counter", help);
    let _ = writeln!(out, "{name} {value}");
}
