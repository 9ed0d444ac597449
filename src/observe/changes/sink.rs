//! A command's `Reply` and `Event`s, turned into changes: counted, and recorded for the event log.
use super::{Before, Kind, Observer};
use crate::engine::{
    End, Engine, Event, GateReply, Grant, Millis, Reply, RequestId, RequestState, RequestView,
    TicketView,
};
use crate::observe::events_log::{Detail, Record};

/// One command's changes on their way to the counters and the log.
pub(super) struct Sink<'a> {
    observer: &'a Observer,
    engine: &'a Engine,
    now: Millis,
}

impl<'a> Sink<'a> {
    pub(super) fn new(observer: &'a Observer, engine: &'a Engine, now: Millis) -> Sink<'a> {
        Sink {
            observer,
            engine,
            now,
        }
    }

    pub(super) fn reply(&mut self, before: &Before, reply: &Reply) {
        match (reply, before) {
            (
                Reply::Granted {
                    grant,
                    again: false,
                },
                _,
            ) => self.grant(grant, false),
            (Reply::Busy(_), _) => self.count(Kind::LockDenied),
            (Reply::Queued { request, position }, _) => {
                if let Some(resource) = self.engine.resource_of(*request) {
                    self.observer
                        .locks
                        .history
                        .waiting(resource, *position, self.now);
                }
            }
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
                let engine = self.engine;
                self.emit(Kind::ServiceCreated, || Record {
                    resource: service.clone(),
                    detail: Detail::gates(
                        engine
                            .service(service)
                            .map(|s| s.environments.into_keys().collect::<Vec<_>>())
                            .unwrap_or_default(),
                    ),
                    ..Record::default()
                })
            }
            (GateReply::Set, Before::SetGate { gate, was }) => self.gate_set(gate, was.as_ref()),
            (GateReply::Set, Before::Gates(gates)) => {
                for (gate, was) in gates {
                    self.gate_set(gate, was.as_ref());
                }
            }
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

    pub(super) fn event(&mut self, event: &Event) {
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

    fn ended_view(&mut self, kind: Kind, view: RequestView, fence: Option<u64>) {
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
            detail: Detail::gates(
                ticket
                    .gates
                    .iter()
                    .map(|(service, env)| format!("{service}:{env}")),
            ),
            ..Record::default()
        });
    }

    fn count(&mut self, kind: Kind) {
        self.observer.metrics.count(kind);
    }

    /// Counts the change and builds its record for the recent changes (and the log, when there is
    /// one); a grant's wait goes to its lock's statistics.
    fn emit(&mut self, kind: Kind, record: impl FnOnce() -> Record) {
        self.count(kind);
        let mut record = record();
        record.kind = kind;
        record.at = self.now;
        if kind == Kind::Grant {
            let waited = record.waited_ms.unwrap_or(0);
            self.observer.locks.waited(&record.resource, waited);
            let history = &self.observer.locks.history;
            history.granted(&record.resource, waited, self.now);
        }
        if let Some(log) = &self.observer.log {
            log.send(record.clone());
        }
        self.observer.recent.push(record);
    }
}
