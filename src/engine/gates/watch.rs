//! Gate watchers (`Op::WatchGate`, for `weblock wait SVC:ENV`), and `Op::Cancel` and `Op::Restart` of
//! what is parked on gates: watchers and ticket polls. A watcher never holds or queues: it changes no
//! ticket.

use std::collections::BTreeSet;

use super::{Due, GateName, Gates, Parked};
use crate::engine::command::{Millis, RequestId, Wait};
use crate::engine::locks::{invariant_broken, next_request};
use crate::engine::outcome::{Event, GateRefusal, GateReply};

impl Gates {
    /// `Open` if the gate reads open (open by hand, held by no ticket: a queued ticket waiting for
    /// other gates does not close it); else a watcher is recorded, unless it would not wait (`Closed`).
    pub(in crate::engine) fn watch_gate(
        &mut self,
        now: Millis,
        name: GateName,
        wait: Wait,
        last_request: &mut u64,
    ) -> GateReply {
        if !self.services.contains_key(&name.0) {
            return GateReply::Refused(GateRefusal::UnknownService);
        }
        let Some(gate) = self.gate(&name) else {
            return GateReply::Refused(GateRefusal::UnknownGate);
        };
        if self.reads_open(gate) {
            return GateReply::Open;
        }
        let deadline = wait.deadline(now);
        if deadline.is_some_and(|t| t <= now) {
            return GateReply::Closed;
        }
        let request = next_request(last_request);
        if let Some(gate) = self.gate_mut(&name) {
            gate.watchers.insert(request, deadline);
        }
        self.move_due(Due::Watcher(request), None, deadline);
        self.parked.insert(request, Parked::Watcher(name));
        GateReply::Watching { request }
    }

    /// Takes a watcher out of its gate and every index; its deadline, if it is there.
    pub(super) fn drop_watcher(&mut self, request: RequestId) -> Option<Option<Millis>> {
        let Some(Parked::Watcher(name)) = self.parked.get(&request).cloned() else {
            return None;
        };
        self.parked.remove(&request);
        let deadline = self.gate_mut(&name)?.watchers.remove(&request)?;
        self.move_due(Due::Watcher(request), deadline, None);
        Some(deadline)
    }

    /// The watchers of each of `affected` that reads open are done: `Event::GateOpened`, in gate
    /// name order, then request id order.
    pub(super) fn tell_watchers(&mut self, affected: &BTreeSet<GateName>, events: &mut Vec<Event>) {
        for name in affected {
            let Some(gate) = self.gate(name) else {
                continue;
            };
            if gate.watchers.is_empty() || !self.reads_open(gate) {
                continue;
            }
            let watchers = self
                .gate_mut(name)
                .map(|g| std::mem::take(&mut g.watchers))
                .unwrap_or_default();
            for (request, deadline) in watchers {
                self.parked.remove(&request);
                self.move_due(Due::Watcher(request), deadline, None);
                events.push(Event::GateOpened { request });
            }
        }
    }

    /// `Op::Restart`: every parked client is gone. Each watcher is removed and each ticket's poll
    /// ends, silently, as by its client's `Op::Cancel`: the ticket stays queued, expiring its ttl
    /// from `now`, and is never granted to a client that is gone. No queue changes, so nothing moves
    /// on. How many watchers were removed and how many polls ended.
    pub(in crate::engine) fn restart(&mut self, now: Millis) -> (usize, usize) {
        let parked: Vec<(RequestId, Parked)> = self
            .parked
            .iter()
            .map(|(&request, what)| (request, what.clone()))
            .collect();
        let (mut watchers, mut polls) = (0, 0);
        for (request, what) in parked {
            let ended = match what {
                Parked::Watcher(_) => {
                    watchers += 1;
                    self.drop_watcher(request).is_some()
                }
                Parked::Poll(ticket) => {
                    polls += 1;
                    self.end_poll(ticket, now).is_some()
                }
            };
            if !ended {
                invariant_broken("a parked request is not on its gate or ticket");
            }
        }
        (watchers, polls)
    }

    /// `Op::Cancel` of a request parked on gates; `false` if it is not one. A client's cancel (its
    /// connection hung up) ends a watcher silently, and ends a ticket's poll — the ticket stays
    /// queued and expires `TICKET_TTL_MS` from now, and is never granted to a client that is gone.
    /// An administrator's cancel ends the watcher (`Event::GateWatchEnded`) or the whole ticket
    /// (`Event::TicketEnded`; its queues move on), so that the parked client is answered.
    pub(in crate::engine) fn cancel(
        &mut self,
        now: Millis,
        request: RequestId,
        admin: bool,
        events: &mut Vec<Event>,
    ) -> bool {
        match self.parked.get(&request).cloned() {
            None => false,
            Some(Parked::Watcher(_)) => {
                let dropped = self.drop_watcher(request).is_some();
                if dropped && admin {
                    events.push(Event::GateWatchEnded { request });
                }
                dropped
            }
            Some(Parked::Poll(ticket)) if admin => match self.end_ticket(ticket, events) {
                Some(gates) => {
                    self.advance(&gates, events);
                    true
                }
                None => false,
            },
            Some(Parked::Poll(ticket)) => self.end_poll(ticket, now).is_some(),
        }
    }
}
