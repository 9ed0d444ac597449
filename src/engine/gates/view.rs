//! Read-only pictures of services, gates and tickets, from which a dialect builds the gatekeeper
//! document's fields. Ticket ids are not secret in this API (queues show them), so views show them.

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

use super::{Gate, GateState, Gates, Service};
use crate::engine::command::Millis;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceView {
    pub name: String,
    pub group: String,
    pub environments: BTreeMap<String, GateView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GateView {
    /// As read: `Closed` if closed by hand or held by a ticket.
    pub state: GateState,
    pub closed_by_hand: bool,
    pub held_by: Option<Uuid>,
    /// When it was last opened or closed by hand (`None`: never, it is open since its creation).
    pub state_timestamp: Option<Millis>,
    pub message: String,
    pub message_timestamp: Option<Millis>,
    /// The tickets holding and waiting for it, in arrival order (the holder, if any, first).
    pub queue: Vec<Uuid>,
    /// The holder text of each ticket in `queue`, in the same order (empty when it gave none).
    pub queue_holders: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TicketView {
    pub id: Uuid,
    /// The gates it holds or waits for, sorted.
    pub gates: Vec<(String, String)>,
    pub granted: bool,
    /// When it leaves its queues if its client does not call again: `None` once granted (the
    /// document's `expiration_date: 0`), or while its client is parked on it without a deadline.
    pub expires: Option<Millis>,
    /// Its last call (or its creation).
    pub updated: Millis,
    /// Who asked for it (free text; empty when nobody said).
    pub holder: String,
}

impl Gates {
    pub(in crate::engine) fn service(&self, name: &str) -> Option<ServiceView> {
        self.services.get(name).map(|s| self.view_service(name, s))
    }

    /// Every service, sorted by name.
    pub(in crate::engine) fn services(&self) -> Vec<ServiceView> {
        self.services
            .iter()
            .map(|(name, s)| self.view_service(name, s))
            .collect()
    }

    pub(in crate::engine) fn ticket(&self, id: Uuid) -> Option<TicketView> {
        let ticket = self.tickets.get(&id)?;
        Some(TicketView {
            id,
            gates: ticket.gates.iter().cloned().collect(),
            granted: ticket.granted,
            expires: ticket.expires,
            updated: ticket.updated,
            holder: ticket.holder.clone(),
        })
    }

    /// The view of a ticket known to be live (a bug otherwise, answered with an empty view).
    pub(super) fn view_ticket(&self, id: Uuid) -> TicketView {
        self.ticket(id).unwrap_or_else(|| {
            crate::engine::locks::invariant_broken("a ticket to show is not live");
            TicketView {
                id,
                gates: Vec::new(),
                granted: false,
                expires: None,
                updated: 0,
                holder: String::new(),
            }
        })
    }

    /// How many tickets are live, queued or granted.
    pub(in crate::engine) fn ticket_count(&self) -> usize {
        self.tickets.len()
    }

    fn view_service(&self, name: &str, service: &Service) -> ServiceView {
        ServiceView {
            name: name.to_owned(),
            group: service.group.clone(),
            environments: service
                .gates
                .iter()
                .map(|(env, gate)| (env.clone(), self.view_gate(gate)))
                .collect(),
        }
    }

    fn view_gate(&self, gate: &Gate) -> GateView {
        let held_by = self.holder(gate);
        let state = if gate.closed_by_hand || held_by.is_some() {
            GateState::Closed
        } else {
            GateState::Open
        };
        GateView {
            state,
            closed_by_hand: gate.closed_by_hand,
            held_by,
            state_timestamp: gate.state_timestamp,
            message: gate.message.clone(),
            message_timestamp: gate.message_timestamp,
            queue: gate.queue.values().copied().collect(),
            queue_holders: gate
                .queue
                .values()
                .map(|id| {
                    self.tickets
                        .get(id)
                        .map_or_else(String::new, |t| t.holder.clone())
                })
                .collect(),
        }
    }
}
