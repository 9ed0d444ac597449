//! The gates in a snapshot, and back. Stored: services with their gates' hand-set state and watchers,
//! and the live tickets (each with its arrival and its gates). Rebuilt: the gates' queues (from the
//! tickets), the parked index and the deadline index.

use std::collections::{BTreeMap, BTreeSet};

use super::{Due, Gate, GateName, Gates, Parked, Poll, Service, Ticket};
use crate::engine::command::{Millis, RequestId};
use crate::engine::snapshot::{
    COUNTER_MAX, GateSnapshot, GateWatcherSnapshot, GatesSnapshot, PollSnapshot, ServiceSnapshot,
    TicketSnapshot, claim, future,
};

impl Gates {
    pub(in crate::engine) fn snapshot(&self) -> GatesSnapshot {
        let services = self.services.iter().map(|(name, service)| ServiceSnapshot {
            name: name.clone(),
            group: service.group.clone(),
            gates: service
                .gates
                .iter()
                .map(|(env, gate)| snapshot_gate(env, gate))
                .collect(),
        });
        let tickets = self.tickets.iter().map(|(&id, t)| TicketSnapshot {
            id,
            ttl_ms: t.ttl_ms,
            arrival: t.arrival,
            gates: t.gates.iter().cloned().collect(),
            granted: t.granted,
            expires: t.expires,
            updated: t.updated,
            poll: t.poll.map(|p| PollSnapshot {
                request: p.request,
                until: p.until,
            }),
            holder: t.holder.clone(),
        });
        GatesSnapshot {
            last_arrival: self.last_arrival,
            services: services.collect(),
            tickets: tickets.collect(),
        }
    }

    /// The gates of a snapshot taken at `clock`, with the engine's request counter: `Err` unless they
    /// are what `check` expects. Claims the ids of parked requests in `ids` (shared with the locks).
    pub(in crate::engine) fn restore(
        snapshot: GatesSnapshot,
        clock: Millis,
        last_request: u64,
        ids: &mut BTreeSet<RequestId>,
    ) -> Result<Gates, String> {
        if snapshot.last_arrival > COUNTER_MAX {
            let last = snapshot.last_arrival;
            return Err(format!("the arrival counter {last} is out of range"));
        }
        let mut gates = Gates {
            last_arrival: snapshot.last_arrival,
            ..Gates::default()
        };
        for service in snapshot.services {
            gates.restore_service(service, clock, last_request, ids)?;
        }
        let mut arrivals = BTreeSet::new();
        for ticket in snapshot.tickets {
            if !arrivals.insert(ticket.arrival) {
                return Err(format!("ticket {}: arrival given twice", ticket.id));
            }
            gates.restore_ticket(ticket, clock, last_request, ids)?;
        }
        // What holds of the tickets together: a holder is first in each of its gates, a polled
        // ticket at its turn would have been granted, a watcher of a gate reading open told.
        for (&id, ticket) in &gates.tickets {
            let first = |name| gates.gate(name).and_then(Gate::first) == Some(id);
            if ticket.granted && !ticket.gates.iter().all(first) {
                return Err(format!(
                    "ticket {id} holds a gate it is not first in line for"
                ));
            }
            if ticket.poll.is_some() && gates.is_turn(id) {
                return Err(format!("ticket {id} is polled at its turn, not granted"));
            }
        }
        for (service, s) in &gates.services {
            for (env, gate) in &s.gates {
                if !gate.watchers.is_empty() && gates.reads_open(gate) {
                    return Err(format!("gate {service}/{env} reads open and has watchers"));
                }
            }
        }
        Ok(gates)
    }

    fn restore_service(
        &mut self,
        service: ServiceSnapshot,
        clock: Millis,
        last_request: u64,
        ids: &mut BTreeSet<RequestId>,
    ) -> Result<(), String> {
        let name = service.name;
        if self.services.contains_key(&name) {
            return Err(format!("service {name:?} is there twice"));
        }
        let mut gates = BTreeMap::new();
        for g in service.gates {
            let at = format!("gate {name}/{}", g.environment);
            if g.state_timestamp > Some(clock) || g.message_timestamp > Some(clock) {
                return Err(format!("{at}: set after the clock"));
            }
            let mut watchers = BTreeMap::new();
            for w in g.watchers {
                claim(ids, w.request, last_request, &at)?;
                future(w.deadline, clock, &at)?;
                watchers.insert(w.request, w.deadline);
                let gate_name = (name.clone(), g.environment.clone());
                self.parked.insert(w.request, Parked::Watcher(gate_name));
                self.move_due(Due::Watcher(w.request), None, w.deadline);
            }
            let gate = Gate {
                closed_by_hand: g.closed_by_hand,
                state_timestamp: g.state_timestamp,
                message: g.message,
                message_timestamp: g.message_timestamp,
                queue: BTreeMap::new(),
                watchers,
            };
            if gates.insert(g.environment, gate).is_some() {
                return Err(format!("{at} is there twice"));
            }
        }
        let group = service.group;
        self.services.insert(name, Service { group, gates });
        Ok(())
    }

    /// Puts a ticket in place, and in the queue of each of its gates; `arrival` is known unique.
    fn restore_ticket(
        &mut self,
        t: TicketSnapshot,
        clock: Millis,
        last_request: u64,
        ids: &mut BTreeSet<RequestId>,
    ) -> Result<(), String> {
        let id = t.id;
        let what = format!("ticket {id}");
        if self.tickets.contains_key(&id) {
            return Err(format!("{what} is there twice"));
        }
        if t.arrival == 0 || t.arrival > self.last_arrival || t.updated > clock {
            return Err(format!("{what}: arrival or update from the future"));
        }
        let count = t.gates.len();
        let names: BTreeSet<GateName> = t.gates.into_iter().collect();
        if names.is_empty() || names.len() != count {
            return Err(format!("{what} names no gate, or one twice"));
        }
        for name in &names {
            let Some(gate) = self.gate_mut(name) else {
                return Err(format!(
                    "{what} names gate {}/{}, not there",
                    name.0, name.1
                ));
            };
            gate.queue.insert(t.arrival, id);
        }
        let poll = t.poll.map(|p| Poll {
            request: p.request,
            until: p.until,
        });
        let expiry_agrees = match (t.granted, poll) {
            (true, poll) => poll.is_none() && t.expires.is_none(),
            (false, Some(poll)) => {
                claim(ids, poll.request, last_request, &what)?;
                t.expires == poll.until.map(|u| u.saturating_add(t.ttl_ms))
            }
            (false, None) => t.expires.is_some(),
        };
        if !expiry_agrees {
            return Err(format!("{what}: its expiry disagrees with its state"));
        }
        let ticket = Ticket {
            ttl_ms: t.ttl_ms,
            arrival: t.arrival,
            gates: names,
            granted: t.granted,
            expires: t.expires,
            updated: t.updated,
            poll,
            holder: t.holder,
        };
        future(ticket.due(), clock, &what)?;
        self.move_due(Due::Ticket(id), None, ticket.due());
        if let Some(poll) = poll {
            self.parked.insert(poll.request, Parked::Poll(id));
        }
        self.tickets.insert(id, ticket);
        Ok(())
    }
}

fn snapshot_gate(environment: &str, gate: &Gate) -> GateSnapshot {
    let watchers = gate
        .watchers
        .iter()
        .map(|(&request, &deadline)| GateWatcherSnapshot { request, deadline });
    GateSnapshot {
        environment: environment.to_owned(),
        closed_by_hand: gate.closed_by_hand,
        state_timestamp: gate.state_timestamp,
        message: gate.message.clone(),
        message_timestamp: gate.message_timestamp,
        watchers: watchers.collect(),
    }
}
