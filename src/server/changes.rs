//! What a command changed, in words a person (or a collector) reads: a grant, a release, a gate
//! closed. `Core` calls [`Observer::record`] with every command's outcome, under the engine's lock, so
//! every dialect's changes (and the timer's expiries) are seen once, in the engine's order. The
//! metrics count them; the event log writes them down.
//!
//! The engine's `Reply` says what happened to the caller and its `Event`s what happened to others;
//! some changes need a word from before the command (which resource a token released, whether a gate
//! was already closed), taken by [`Before::of`] — cheaply: only the rare commands look anything up.
use std::sync::Arc;

use uuid::Uuid;

use super::events_log::{Detail, EventLog, Record};
use super::metrics::Metrics;
use crate::engine::{
    CancelBy, End, Engine, Event, GateReply, Grant, Millis, Op, Reply, RequestId, RequestState,
    TicketView,
};

/// The kinds of change, each with its counter (see `metrics`) and, but for denials, its log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Grant,
    Release,
    Expiry,
    Timeout,
    Cancel,
    Delete,
    /// A lock held by someone else, and the caller would not wait (a 409). Counted, not logged.
    LockDenied,
    /// A gatekeeper test-and-set answered `denied`. Counted, not logged.
    GateDenied,
    GateOpened,
    GateClosed,
    GateMessage,
    TicketQueued,
    TicketGranted,
    TicketExpired,
    TicketDeleted,
    ServiceCreated,
    ServiceDeleted,
}

impl Kind {
    pub const ALL: [Kind; 17] = [
        Kind::Grant,
        Kind::Release,
        Kind::Expiry,
        Kind::Timeout,
        Kind::Cancel,
        Kind::Delete,
        Kind::LockDenied,
        Kind::GateDenied,
        Kind::GateOpened,
        Kind::GateClosed,
        Kind::GateMessage,
        Kind::TicketQueued,
        Kind::TicketGranted,
        Kind::TicketExpired,
        Kind::TicketDeleted,
        Kind::ServiceCreated,
        Kind::ServiceDeleted,
    ];

    /// The `event` word of a log line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Grant => "grant",
            Kind::Release => "release",
            Kind::Expiry => "expiry",
            Kind::Timeout => "timeout",
            Kind::Cancel => "cancel",
            Kind::Delete => "delete",
            Kind::LockDenied => "denied",
            Kind::GateDenied => "gate_denied",
            Kind::GateOpened => "gate_opened",
            Kind::GateClosed => "gate_closed",
            Kind::GateMessage => "gate_message",
            Kind::TicketQueued => "ticket_queued",
            Kind::TicketGranted => "ticket_granted",
            Kind::TicketExpired => "ticket_expired",
            Kind::TicketDeleted => "ticket_deleted",
            Kind::ServiceCreated => "service_created",
            Kind::ServiceDeleted => "service_deleted",
        }
    }
}

/// What a command's outcome cannot say by itself, taken before it is applied.
pub enum Before {
    Nothing,
    /// `Op::Release`: the reply names no resource.
    Release(String),
    /// `Op::Cancel` by a client of a waiting request (a holder's end is an event of its own): who left.
    CancelWaiter {
        resource: String,
        holder: String,
        created: Millis,
    },
    /// `Op::SetGate`: the gate as it was (closed by hand, its message), if it exists.
    SetGate {
        gate: String,
        was: Option<(bool, String)>,
    },
    /// `Op::TestAndSet`: whether the ticket it presents (or proposes) was live, and granted.
    TestAndSet {
        existed: bool,
        granted: bool,
    },
    DeleteTicket(Uuid),
    Service(String),
}

impl Before {
    pub fn of(op: &Op, engine: &Engine) -> Before {
        match op {
            Op::Release { resource, .. } => Before::Release(resource.clone()),
            Op::Cancel {
                request,
                by: CancelBy::Client,
            } => match engine.request(*request) {
                Some(view) if matches!(view.state, RequestState::Waiting { .. }) => {
                    Before::CancelWaiter {
                        resource: view.resource,
                        holder: view.holder,
                        created: view.created,
                    }
                }
                _ => Before::Nothing,
            },
            Op::SetGate {
                service,
                environment,
                ..
            } => Before::SetGate {
                gate: format!("{service}:{environment}"),
                was: engine
                    .service(service)
                    .and_then(|s| s.environments.get(environment).cloned())
                    .map(|g| (g.closed_by_hand, g.message)),
            },
            Op::TestAndSet {
                ticket, new_ticket, ..
            } => {
                let live = engine.ticket(ticket.unwrap_or(*new_ticket));
                Before::TestAndSet {
                    existed: live.is_some(),
                    granted: live.is_some_and(|t| t.granted),
                }
            }
            Op::DeleteTicket { ticket } => Before::DeleteTicket(*ticket),
            Op::CreateService { service, .. } | Op::DeleteService { service } => {
                Before::Service(service.clone())
            }
            _ => Before::Nothing,
        }
    }
}

/// Counts every change, and hands it to the event log when there is one.
pub struct Observer {
    metrics: Arc<Metrics>,
    log: Option<EventLog>,
}

impl Default for Observer {
    /// Counts into metrics nobody reads, logs nothing.
    fn default() -> Observer {
        Observer::new(Arc::new(Metrics::new(None)), None)
    }
}

impl Observer {
    pub fn new(metrics: Arc<Metrics>, log: Option<EventLog>) -> Observer {
        Observer { metrics, log }
    }

    /// Called under the engine's lock with a command's outcome; `engine` is the state after it.
    pub fn record(
        &self,
        now: Millis,
        before: &Before,
        reply: &Reply,
        events: &[Event],
        engine: &Engine,
    ) {
        let mut sink = Sink {
            observer: self,
            engine,
            now,
        };
        sink.reply(before, reply);
        for event in events {
            sink.event(event);
        }
    }
}

/// One command's changes on their way to the counters and the log.
struct Sink<'a> {
    observer: &'a Observer,
    engine: &'a Engine,
    now: Millis,
}

impl Sink<'_> {
    fn reply(&mut self, before: &Before, reply: &Reply) {
        match (reply, before) {
            (
                Reply::Granted {
                    grant,
                    again: false,
                },
                _,
            ) => self.grant(grant, false),
            (Reply::Busy(_), _) => self.count(Kind::LockDenied),
            (
                Reply::Released {
                    fence,
                    again: false,
                },
                Before::Release(resource),
            ) => self.emit(Kind::Release, || Record {
                resource: resource.clone(),
                fence: Some(*fence),
                ..Record::default()
            }),
            (Reply::Withdrawn { request }, _) => self.ended(Kind::Cancel, *request, None),
            (
                Reply::Cancelled,
                Before::CancelWaiter {
                    resource,
                    holder,
                    created,
                },
            ) => {
                let waited_ms = Some(self.now.saturating_sub(*created));
                self.emit(Kind::Cancel, || Record {
                    resource: resource.clone(),
                    holder: Some(holder.clone()),
                    waited_ms,
                    ..Record::default()
                })
            }
            (Reply::Gate(gate), _) => self.gate_reply(before, gate),
            _ => {}
        }
    }

    fn gate_reply(&mut self, before: &Before, reply: &GateReply) {
        match (reply, before) {
            (GateReply::Denied, _) => self.count(Kind::GateDenied),
            (GateReply::Ok(ticket), Before::TestAndSet { granted: false, .. }) => {
                self.ticket(Kind::TicketGranted, ticket)
            }
            (
                GateReply::Queued(ticket) | GateReply::Waiting { ticket, .. },
                Before::TestAndSet { existed: false, .. },
            ) => self.ticket(Kind::TicketQueued, ticket),
            (GateReply::Deleted, Before::DeleteTicket(ticket)) => {
                self.emit(Kind::TicketDeleted, || Record {
                    resource: ticket.to_string(),
                    ..Record::default()
                })
            }
            (GateReply::Deleted, Before::Service(service)) => {
                self.emit(Kind::ServiceDeleted, || Record {
                    resource: service.clone(),
                    ..Record::default()
                })
            }
            (GateReply::Created, Before::Service(service)) => {
                let gates = self
                    .engine
                    .service(service)
                    .map(|s| s.environments.into_keys().collect())
                    .unwrap_or_default();
                self.emit(Kind::ServiceCreated, || Record {
                    resource: service.clone(),
                    detail: Detail::Gates(gates),
                    ..Record::default()
                })
            }
            (GateReply::Set, Before::SetGate { gate, was }) => self.gate_set(gate, was.as_ref()),
            _ => {}
        }
    }

    /// A gate set by hand: opened, closed, or only its message changed (a set that changed nothing is
    /// not a change).
    fn gate_set(&mut self, gate: &str, was: Option<&(bool, String)>) {
        let Some((service, env)) = gate.split_once(':') else {
            return;
        };
        let Some(now) = self
            .engine
            .service(service)
            .and_then(|s| s.environments.get(env).cloned())
        else {
            return;
        };
        let (was_closed, was_message) = match was {
            Some((closed, message)) => (*closed, message.as_str()),
            None => (false, ""),
        };
        let kind = match (was_closed, now.closed_by_hand) {
            (false, true) => Kind::GateClosed,
            (true, false) => Kind::GateOpened,
            _ if was_message != now.message => Kind::GateMessage,
            _ => return,
        };
        self.emit(kind, || Record {
            resource: gate.to_string(),
            detail: Detail::Message(now.message.clone()),
            ..Record::default()
        });
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::Granted(grant) => self.grant(grant, true),
            Event::Released {
                request,
                resource,
                fence,
            } => self.ended_with(Kind::Release, *request, resource, Some(*fence)),
            Event::Expired {
                request,
                resource,
                fence,
            } => self.ended_with(Kind::Expiry, *request, resource, Some(*fence)),
            // A watcher's deadline passing changes nothing: only a waiter that left counts.
            Event::TimedOut { request, .. } => self.ended(Kind::Timeout, *request, None),
            Event::Deleted { request, .. } => self.ended(Kind::Delete, *request, None),
            Event::TicketGranted { ticket, .. } => {
                if let Some(view) = self.engine.ticket(*ticket) {
                    self.ticket(Kind::TicketGranted, &view);
                }
            }
            Event::TicketExpired { ticket } => self.emit(Kind::TicketExpired, || Record {
                resource: ticket.to_string(),
                ..Record::default()
            }),
            _ => {}
        }
    }

    fn grant(&mut self, grant: &Grant, from_queue: bool) {
        let engine = self.engine;
        self.emit(Kind::Grant, || {
            // How long it waited: from its request to this grant (a grant at once waited nothing).
            let waited_ms = from_queue
                .then(|| engine.request(grant.request))
                .flatten()
                .map(|view| grant.since.saturating_sub(view.created));
            Record {
                resource: grant.resource.clone(),
                holder: Some(grant.holder.clone()),
                fence: Some(grant.fence),
                waited_ms,
                ..Record::default()
            }
        });
    }

    /// A holder or waiter that ended (its history says who it was), as `kind`; nothing if the engine
    /// has no history of it (a watcher, which changes nothing when it ends).
    fn ended(&mut self, kind: Kind, request: RequestId, fence: Option<u64>) {
        let Some(view) = self.engine.request(request) else {
            return;
        };
        self.ended_view(kind, view, fence);
    }

    fn ended_with(&mut self, kind: Kind, request: RequestId, resource: &str, fence: Option<u64>) {
        match self.engine.request(request) {
            Some(view) => self.ended_view(kind, view, fence),
            None => self.emit(kind, || Record {
                resource: resource.to_string(),
                fence,
                ..Record::default()
            }),
        }
    }

    fn ended_view(&mut self, kind: Kind, view: crate::engine::RequestView, fence: Option<u64>) {
        let RequestState::Ended { end, at } = view.state else {
            return;
        };
        // A waiter that timed out or left: how long it had waited.
        let waited_ms =
            matches!(end, End::TimedOut | End::Abandoned).then(|| at.saturating_sub(view.created));
        self.emit(kind, || Record {
            resource: view.resource,
            holder: Some(view.holder),
            fence,
            waited_ms,
            ..Record::default()
        });
    }

    fn ticket(&mut self, kind: Kind, ticket: &TicketView) {
        self.emit(kind, || Record {
            resource: ticket.id.to_string(),
            detail: Detail::Gates(
                ticket
                    .gates
                    .iter()
                    .map(|(service, env)| format!("{service}:{env}"))
                    .collect(),
            ),
            ..Record::default()
        });
    }

    fn count(&mut self, kind: Kind) {
        self.observer.metrics.count(kind);
    }

    /// Counts the change and, when there is a log, builds its record (only then: the lookups and
    /// copies a record needs cost nothing when nobody reads them).
    fn emit(&mut self, kind: Kind, record: impl FnOnce() -> Record) {
        self.count(kind);
        if let Some(log) = &self.observer.log {
            let mut record = record();
            record.kind = kind;
            record.at = self.now;
            log.send(record);
        }
    }
}
