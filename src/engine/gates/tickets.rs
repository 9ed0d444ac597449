//! Tickets: the test-and-set over several gates (`Op::TestAndSet`), its queue and its long poll, and
//! `Op::DeleteTicket`.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::{Due, GateName, Gates, Parked, Poll, Ticket};
use crate::engine::command::{Millis, Wait};
use crate::engine::locks::next_request;
use crate::engine::outcome::{Event, GateRefusal, GateReply};

/// The fields of `Op::TestAndSet`, in one place.
pub(in crate::engine) struct TestAndSet {
    pub(in crate::engine) gates: Vec<(String, String)>,
    pub(in crate::engine) ticket: Option<Uuid>,
    pub(in crate::engine) new_ticket: Uuid,
    pub(in crate::engine) queue: bool,
    pub(in crate::engine) wait: Wait,
    /// The life of a ticket this call creates, after its last call.
    pub(in crate::engine) ttl_ms: u64,
    /// Who asks, for a ticket this creates.
    pub(in crate::engine) holder: String,
}

impl Gates {
    /// Names are checked first, and nothing changes when one is wrong: an unknown service is a
    /// refusal (the dialect's 404), an unknown gate of a known service is `Denied`. Then a newcomer
    /// takes its gates, queues or is denied; a ticket presented is refreshed (see `present`).
    pub(in crate::engine) fn test_and_set(
        &mut self,
        now: Millis,
        mut call: TestAndSet,
        last_request: &mut u64,
        events: &mut Vec<Event>,
    ) -> GateReply {
        let named: BTreeSet<GateName> = std::mem::take(&mut call.gates).into_iter().collect();
        if named.iter().any(|(s, _)| !self.services.contains_key(s)) {
            return GateReply::Refused(GateRefusal::UnknownService);
        }
        if named.iter().any(|name| self.gate(name).is_none()) {
            return GateReply::Denied;
        }
        // `Some(until)` = park the client until then (`None`: until granted). A deadline at or
        // before `now` is no wait, as for locks; and only a queued call waits.
        let wait =
            Some(call.wait.deadline(now)).filter(|d| call.queue && d.is_none_or(|t| t > now));
        match call.ticket {
            Some(id) => self.present(now, id, call.queue, wait, last_request, events),
            // The id a newcomer proposed is live already: its first answer was lost and this is the
            // retry. It is that ticket presented again, so a retry never makes a second ticket (and
            // never leaves an orphan holding or blocking gates).
            None if self.tickets.contains_key(&call.new_ticket) => {
                let id = call.new_ticket;
                self.present(now, id, call.queue, wait, last_request, events)
            }
            None => self.newcomer(now, named, &call, wait, last_request),
        }
    }

    /// No ticket presented: granted at once if every gate is free for a newcomer; else denied, or
    /// with `queue` a ticket queued at the back of every gate's queue (and parked on if `wait`).
    /// It cannot be its turn yet: some gate is closed by hand, or has someone in line before it.
    fn newcomer(
        &mut self,
        now: Millis,
        named: BTreeSet<GateName>,
        call: &TestAndSet,
        wait: Option<Option<Millis>>,
        last_request: &mut u64,
    ) -> GateReply {
        let (id, ttl_ms, queue) = (call.new_ticket, call.ttl_ms, call.queue);
        // Nothing to take: a ticket holding no gate would never do anything but hold memory.
        if named.is_empty() {
            return GateReply::Denied;
        }
        let free = named
            .iter()
            .all(|name| self.gate(name).is_some_and(|g| g.free_for_newcomer()));
        if !free && !queue {
            return GateReply::Denied;
        }
        self.last_arrival += 1;
        let arrival = self.last_arrival;
        for name in &named {
            if let Some(gate) = self.gate_mut(name) {
                gate.queue.insert(arrival, id);
            }
        }
        let expires = (!free).then(|| now.saturating_add(ttl_ms));
        let ticket = Ticket {
            ttl_ms,
            arrival,
            gates: named,
            granted: free,
            expires,
            updated: now,
            poll: None,
            holder: call.holder.clone(),
        };
        self.move_due(Due::Ticket(id), None, ticket.due());
        self.tickets.insert(id, ticket);
        if free {
            return GateReply::Ok(self.view_ticket(id));
        }
        match wait {
            Some(until) => self.start_poll(id, until, last_request),
            None => GateReply::Queued(self.view_ticket(id)),
        }
    }

    /// A ticket presented. Gone (expired, deleted, never was): `Refused(UnknownTicket)`, the
    /// original's 404. Granted: `Ok` again, an
    /// idempotent retry (only `updated` moves: it is the ticket's last call). Queued: its expiry is refreshed and it is granted if it is its turn; else
    /// `Queued` with `queue`, and `Denied` without — it stays queued, so a client that forgot
    /// `queue=true` once does not lose its place (and it expires if it never comes back).
    ///
    /// The gates of a presented ticket are its own: the call's names are only checked to exist. A
    /// ticket cannot change its gates midway (it would lose or jump places in queues).
    ///
    /// A poll still parked on the ticket ends first (`Event::TicketPollEnded`): its client called
    /// again (a retry after a network hiccup, say), and this call decides what comes next.
    fn present(
        &mut self,
        now: Millis,
        id: Uuid,
        queue: bool,
        wait: Option<Option<Millis>>,
        last_request: &mut u64,
        events: &mut Vec<Event>,
    ) -> GateReply {
        if !self.tickets.contains_key(&id) {
            return GateReply::Refused(GateRefusal::UnknownTicket);
        }
        if let Some(request) = self.end_poll(id, now) {
            events.push(Event::TicketPollEnded {
                ticket: id,
                request,
            });
        }
        let Some(ticket) = self.tickets.get_mut(&id) else {
            return GateReply::Denied;
        };
        ticket.updated = now;
        if ticket.granted {
            return GateReply::Ok(self.view_ticket(id));
        }
        let old = ticket.expires;
        let expires = now.saturating_add(ticket.ttl_ms);
        ticket.expires = Some(expires);
        self.move_due(Due::Ticket(id), old, Some(expires));
        if self.is_turn(id) {
            self.grant(id);
            return GateReply::Ok(self.view_ticket(id));
        }
        match wait {
            _ if !queue => GateReply::Denied,
            Some(until) => self.start_poll(id, until, last_request),
            None => GateReply::Queued(self.view_ticket(id)),
        }
    }

    /// Parks the client on a queued ticket until `until` (`None`: until granted or cancelled). While
    /// polled, the ticket is granted at its turn by the engine itself, and does not expire: its
    /// 2-minute expiry counts from the poll's end.
    fn start_poll(&mut self, id: Uuid, until: Option<Millis>, last_request: &mut u64) -> GateReply {
        let request = next_request(last_request);
        if let Some(ticket) = self.tickets.get_mut(&id) {
            let old = ticket.due();
            ticket.poll = Some(Poll { request, until });
            ticket.expires = until.map(|t| t.saturating_add(ticket.ttl_ms));
            self.move_due(Due::Ticket(id), old, until);
            self.parked.insert(request, Parked::Poll(id));
        }
        GateReply::Waiting {
            ticket: self.view_ticket(id),
            request,
        }
    }

    /// Ends a ticket, granted or queued: its gates' queues move on.
    pub(in crate::engine) fn delete_ticket(
        &mut self,
        id: Uuid,
        events: &mut Vec<Event>,
    ) -> GateReply {
        let Some(gates) = self.end_ticket(id, events) else {
            return GateReply::Refused(GateRefusal::UnknownTicket);
        };
        self.advance(&gates, events);
        GateReply::Deleted
    }
}
