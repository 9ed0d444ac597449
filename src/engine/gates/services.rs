//! Services and their gates, by hand: `CreateService`, `DeleteService`, `UpdateService`, `SetGate`.

use std::collections::{BTreeMap, BTreeSet};

use super::{Gate, GateName, GateState, Gates, Service};
use crate::engine::command::{GateChange, Millis};
use crate::engine::outcome::{Event, GateRefusal, GateReply};

impl Gates {
    /// A new service, every gate open. A name given twice is one gate; an empty list is a service
    /// without gates. Validating names (no dots, not empty) is the dialect's job: the engine takes
    /// any string, so that nothing a client sends can make it panic.
    ///
    /// Each gate's `state_timestamp` is the creation's time, as in the original service.
    pub(in crate::engine) fn create_service(
        &mut self,
        now: Millis,
        service: String,
        group: String,
        environments: Vec<String>,
    ) -> GateReply {
        if self.services.contains_key(&service) {
            return GateReply::Refused(GateRefusal::ServiceExists);
        }
        let gates = environments
            .into_iter()
            .map(|environment| {
                let gate = Gate {
                    state_timestamp: Some(now),
                    ..Gate::default()
                };
                (environment, gate)
            })
            .collect();
        self.services.insert(service, Service { group, gates });
        GateReply::Created
    }

    /// Removes a service. A ticket naming some of its gates loses only those: it keeps holding (or
    /// waiting for) every gate of other services it names, since its pipeline still believes it
    /// holds them, and opening them behind its back would let a second pipeline in. A ticket that
    /// named only this service's gates ends (`Event::TicketEnded` if its client is parked). Tickets
    /// are visited in arrival order. Then its gates' watchers hear `Event::GateWatchEnded`, and the
    /// queues of the surviving tickets' gates move on (a polled ticket that only waited for a
    /// deleted gate may be granted now).
    ///
    /// Without `keep_other_gates` (commands journaled before this rule), every ticket naming one of
    /// its gates ends whole, as it did then, so that replay gives the state those servers had.
    pub(in crate::engine) fn delete_service(
        &mut self,
        service: &str,
        keep_other_gates: bool,
        events: &mut Vec<Event>,
    ) -> GateReply {
        let Some(removed) = self.services.remove(service) else {
            return GateReply::Refused(GateRefusal::UnknownService);
        };
        let touched: BTreeMap<u64, uuid::Uuid> = removed
            .gates
            .values()
            .flat_map(|gate| gate.queue.iter().map(|(&arrival, &id)| (arrival, id)))
            .collect();
        let mut affected = BTreeSet::new();
        for id in touched.into_values() {
            let Some(ticket) = self.tickets.get_mut(&id) else {
                crate::engine::locks::invariant_broken("a queue names a ticket that is not live");
                continue;
            };
            ticket.gates.retain(|(s, _)| s != service);
            let survives = keep_other_gates && !ticket.gates.is_empty();
            affected.extend(ticket.gates.iter().cloned());
            if !survives {
                // Nothing of it is left in any queue (or, by the old rule, it ends whole).
                self.end_ticket(id, events);
            }
        }
        let mut watchers: Vec<_> = removed
            .gates
            .into_values()
            .flat_map(|gate| gate.watchers)
            .collect();
        watchers.sort_unstable_by_key(|&(request, _)| request);
        for (request, deadline) in watchers {
            self.parked.remove(&request);
            self.move_due(super::Due::Watcher(request), deadline, None);
            events.push(Event::GateWatchEnded { request });
        }
        self.advance(&affected, events);
        GateReply::Deleted
    }

    /// Sets a service's group and changes several of its gates at once: every gate named must
    /// exist, else nothing changes. Each gate changes as `set_gate` would, but the queues of the
    /// reopened ones move on only once every change is made.
    pub(in crate::engine) fn update_service(
        &mut self,
        now: Millis,
        service: String,
        group: Option<String>,
        gates: Vec<GateChange>,
        events: &mut Vec<Event>,
    ) -> GateReply {
        let Some(found) = self.services.get_mut(&service) else {
            return GateReply::Refused(GateRefusal::UnknownService);
        };
        if gates
            .iter()
            .any(|c| !found.gates.contains_key(&c.environment))
        {
            return GateReply::Refused(GateRefusal::UnknownGate);
        }
        if let Some(group) = group {
            found.group = group;
        }
        // Every change first, then the queues move on once, from the final states: advancing after
        // each would grant a polled ticket through a gate a later change of the same update closes.
        let mut reopened = BTreeSet::new();
        for change in gates {
            let name = (service.clone(), change.environment);
            if self.change_gate(now, &name, change.state, change.message) == Some(true) {
                reopened.insert(name);
            }
        }
        if !reopened.is_empty() {
            self.advance(&reopened, events);
        }
        GateReply::Set
    }

    /// Opens or closes a gate by hand, and/or sets its message. Only a real change stamps its
    /// timestamp: closing a closed gate again does not pretend it was closed just now. Reopening
    /// lets its queue move on (a polled ticket whose turn it is now is granted) and tells its
    /// watchers if it reads open.
    pub(in crate::engine) fn set_gate(
        &mut self,
        now: Millis,
        name: GateName,
        state: Option<GateState>,
        message: Option<String>,
        events: &mut Vec<Event>,
    ) -> GateReply {
        let Some(service) = self.services.get(&name.0) else {
            return GateReply::Refused(GateRefusal::UnknownService);
        };
        if !service.gates.contains_key(&name.1) {
            return GateReply::Refused(GateRefusal::UnknownGate);
        }
        if self.change_gate(now, &name, state, message) == Some(true) {
            self.advance(&BTreeSet::from([name]), events);
        }
        GateReply::Set
    }

    /// Sets a gate's state and/or message, stamping only real changes; moves no queue. Whether it
    /// was reopened (`None`: no such gate).
    fn change_gate(
        &mut self,
        now: Millis,
        name: &GateName,
        state: Option<GateState>,
        message: Option<String>,
    ) -> Option<bool> {
        let gate = self.gate_mut(name)?;
        let mut reopened = false;
        if let Some(state) = state {
            let closed = state == GateState::Closed;
            if closed != gate.closed_by_hand {
                gate.closed_by_hand = closed;
                gate.state_timestamp = Some(now);
                reopened = !closed;
            }
        }
        if let Some(message) = message
            && message != gate.message
        {
            gate.message = message;
            gate.message_timestamp = Some(now);
        }
        Some(reopened)
    }
}
