//! Gates: services, each with named environments ("gates") that are opened and closed by hand, and
//! tickets that take several gates at once (the gatekeeper API). A namespace of its own: a gate
//! `svc:env` has nothing to do with a lock named `svc:env`.
//!
//! The rules, in one place:
//! - A gate is open by hand or closed by hand; it reads closed (`GateView::state`) while closed by
//!   hand or held by a ticket. Closing by hand takes nothing from a ticket that holds it.
//! - Every ticket names a set of gates and is in the queue of each, in arrival order (one counter for
//!   all tickets, so FIFO holds across overlapping sets). A granted ticket holds all its gates and is
//!   first in each of their queues: a gate is held by at most one ticket, and the holder is its first.
//! - A newcomer is granted at once only if every gate it names is open by hand with an empty queue
//!   (it never jumps a queue); else it is denied, or queued with `queue`.
//! - A queued ticket's turn: it is first in every one of its gates' queues, and every one of them is
//!   open by hand. It is granted at its turn only when its client calls with it, or while its client
//!   is parked on it (a poll, `Wait`): a ticket nobody asks about never ends up holding gates.
//! - A queued ticket expires `TICKET_TTL_MS` after its last call (or after its poll ended), and leaves
//!   every queue; a polled ticket does not expire. A granted ticket holds until deleted: the
//!   document's `expiration_date: 0`. (A server option could bound that for crashed pipelines; there
//!   is none yet.)
//! - Whenever a gate's queue shrinks or it is reopened, the polled ticket first in line is granted if
//!   it is its turn (in arrival order); then the watchers of every such gate that reads open are told.
//! - Due deadlines (ticket expiries, poll ends, watch deadlines) are applied in (deadline, what) order
//!   by every command, as the locks' are.
//!
//! Tickets, like ids of requests, come in with the commands; nothing here reads a clock.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::command::{Millis, RequestId};
use super::locks::invariant_broken;
use super::outcome::Event;

#[cfg(test)]
mod invariants;
mod services;
mod snapshot;
mod tickets;
mod view;
mod watch;

pub(super) use tickets::TestAndSet;
pub use view::{GateView, ServiceView, TicketView};

/// How long a queued ticket lives after its last call (or after its poll ended): two minutes, as the
/// gatekeeper document says.
pub const TICKET_TTL_MS: u64 = 120_000;

/// A gate's state as set by hand (in `Op::SetGate`), or as read (in `GateView`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateState {
    Open,
    Closed,
}

/// A gate's full name: (service, environment).
type GateName = (String, String);

/// Every map here is ordered, so that no answer, event or view depends on hashing (see `Engine`).
#[derive(Debug, Default, PartialEq)]
pub(super) struct Gates {
    services: BTreeMap<String, Service>,
    /// Live tickets, queued or granted. An ended ticket is forgotten: presented again, it is denied.
    tickets: BTreeMap<Uuid, Ticket>,
    /// Every parked request (a ticket's poll, a gate's watcher) by id: for `Op::Cancel` (a parked
    /// client hung up) and for the deadline index.
    parked: BTreeMap<RequestId, Parked>,
    /// Every queued ticket's expiry, poll deadline and watch deadline, earliest first; at most one
    /// per ticket and per watcher. O(log n) to find the next, with thousands of tickets.
    deadlines: BTreeSet<(Millis, Due)>,
    /// Tickets queue in arrival order: each gets the next number, never reused.
    last_arrival: u64,
}

#[derive(Debug, PartialEq)]
struct Service {
    group: String,
    gates: BTreeMap<String, Gate>,
}

#[derive(Debug, Default, PartialEq)]
struct Gate {
    closed_by_hand: bool,
    /// When it was last opened or closed by hand; `None` until then.
    state_timestamp: Option<Millis>,
    message: String,
    /// When its message last changed (cleared too); `None` until then.
    message_timestamp: Option<Millis>,
    /// The tickets naming it, by arrival: its holder (if any) first, then those waiting.
    queue: BTreeMap<u64, Uuid>,
    /// `Op::WatchGate` requests waiting for it to read open, with their deadlines.
    watchers: BTreeMap<RequestId, Option<Millis>>,
}

#[derive(Debug, PartialEq)]
struct Ticket {
    /// How long it lives after its last call (or its poll's end) while queued.
    ttl_ms: u64,
    arrival: u64,
    /// Never empty, and every one exists: deleting a service takes its gates out of every ticket
    /// (and ends a ticket left with none).
    gates: BTreeSet<GateName>,
    granted: bool,
    /// When it leaves its queues if nobody calls: `None` once granted, or while polled without a
    /// deadline. While polled until `t`, it is `t + TICKET_TTL_MS`.
    expires: Option<Millis>,
    /// Its last call (or its creation).
    updated: Millis,
    /// Its client is parked on it (only while queued).
    poll: Option<Poll>,
    /// Who asked for it (free text; empty when nobody said).
    holder: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Poll {
    request: RequestId,
    /// `None` = until granted, or until its client hangs up (`Op::Cancel`).
    until: Option<Millis>,
}

/// What a deadline is for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    /// A queued ticket's expiry, or the end of its poll.
    Ticket(Uuid),
    Watcher(RequestId),
}

#[derive(Clone, Debug, PartialEq)]
enum Parked {
    Poll(Uuid),
    Watcher(GateName),
}

impl Ticket {
    /// Its entry in the deadline index: its poll's deadline while polled, else its expiry.
    fn due(&self) -> Option<Millis> {
        match self.poll {
            Some(poll) => poll.until,
            None => self.expires,
        }
    }
}

impl Gate {
    /// Open by hand and nobody in line: a newcomer may take it without jumping a queue.
    fn free_for_newcomer(&self) -> bool {
        !self.closed_by_hand && self.queue.is_empty()
    }

    fn first(&self) -> Option<Uuid> {
        self.queue.first_key_value().map(|(_, &id)| id)
    }
}

impl Gates {
    fn gate(&self, (service, environment): &GateName) -> Option<&Gate> {
        self.services.get(service)?.gates.get(environment)
    }

    fn gate_mut(&mut self, (service, environment): &GateName) -> Option<&mut Gate> {
        self.services.get_mut(service)?.gates.get_mut(environment)
    }

    /// The ticket holding `gate`: its first, if granted.
    fn holder(&self, gate: &Gate) -> Option<Uuid> {
        gate.first()
            .filter(|id| self.tickets.get(id).is_some_and(|t| t.granted))
    }

    /// Open by hand and held by no ticket: what `GateView::state` reads as open.
    fn reads_open(&self, gate: &Gate) -> bool {
        !gate.closed_by_hand && self.holder(gate).is_none()
    }

    /// Whether queued ticket `id` may be granted now: first in every one of its gates' queues, and
    /// every one of them open by hand.
    fn is_turn(&self, id: Uuid) -> bool {
        let Some(ticket) = self.tickets.get(&id) else {
            return false;
        };
        !ticket.granted
            && ticket.gates.iter().all(|name| {
                self.gate(name)
                    .is_some_and(|g| !g.closed_by_hand && g.first() == Some(id))
            })
    }

    /// The earliest ticket expiry, poll deadline or watch deadline. O(log n).
    pub(super) fn next_deadline(&self) -> Option<Millis> {
        self.deadlines.first().map(|&(due, _)| due)
    }

    /// Moves `what`'s entry in the deadline index from `old` to `new`.
    fn move_due(&mut self, what: Due, old: Option<Millis>, new: Option<Millis>) {
        if old == new {
            return;
        }
        if let Some(t) = old {
            self.deadlines.remove(&(t, what.clone()));
        }
        if let Some(t) = new {
            self.deadlines.insert((t, what));
        }
    }

    /// Applies the earliest deadline if it is due at `now`: `false` if none is. The engine calls it
    /// in turn with the locks' own, so that events come out in time order.
    pub(super) fn expire_next(&mut self, now: Millis, events: &mut Vec<Event>) -> bool {
        let Some((due, what)) = self.deadlines.first().cloned() else {
            return false;
        };
        if due > now {
            return false;
        }
        self.deadlines.remove(&(due, what.clone()));
        match what {
            Due::Ticket(ticket) => {
                let Some(polled) = self.tickets.get(&ticket).map(|t| t.poll.is_some()) else {
                    invariant_broken("a deadline names a ticket that is not live");
                    return true;
                };
                if polled {
                    // The poll is over: its 2-minute expiry counts from the poll's deadline.
                    if let Some(request) = self.end_poll(ticket, due) {
                        events.push(Event::TicketPollEnded { ticket, request });
                    }
                } else if let Some(gone) = self.remove_ticket(ticket) {
                    events.push(Event::TicketExpired { ticket });
                    self.advance(&gone.gates, events);
                }
            }
            Due::Watcher(request) => {
                if self.drop_watcher(request).is_some() {
                    events.push(Event::GateWatchEnded { request });
                } else {
                    invariant_broken("a deadline names a watcher that is not live");
                }
            }
        }
        true
    }

    /// Takes a ticket out of the map, every queue and every index. The caller tells whoever needs to
    /// know, then lets the queues of its gates move on (`advance`).
    fn remove_ticket(&mut self, id: Uuid) -> Option<Ticket> {
        let ticket = self.tickets.remove(&id)?;
        for name in &ticket.gates {
            let removed = self
                .gate_mut(name)
                .and_then(|g| g.queue.remove(&ticket.arrival));
            if removed.is_none() {
                invariant_broken("a ticket is not in the queue of a gate it names");
            }
        }
        self.move_due(Due::Ticket(id), ticket.due(), None);
        if let Some(poll) = ticket.poll {
            self.parked.remove(&poll.request);
        }
        Some(ticket)
    }

    /// Ends a ticket from outside (`DeleteTicket`, `DeleteService`, an administrator): its parked
    /// client, if any, hears `Event::TicketEnded`. The gates it named, for `advance`.
    fn end_ticket(&mut self, id: Uuid, events: &mut Vec<Event>) -> Option<BTreeSet<GateName>> {
        let ticket = self.remove_ticket(id)?;
        if let Some(poll) = ticket.poll {
            events.push(Event::TicketEnded {
                ticket: id,
                request: poll.request,
            });
        }
        Some(ticket.gates)
    }

    /// Makes a queued ticket granted: no expiry, no poll. Its poll's request, if it had one (its
    /// parked client is the one to tell).
    fn grant(&mut self, id: Uuid) -> Option<RequestId> {
        let ticket = self.tickets.get_mut(&id)?;
        let old = ticket.due();
        ticket.granted = true;
        ticket.expires = None;
        let poll = ticket.poll.take();
        self.move_due(Due::Ticket(id), old, None);
        let request = poll?.request;
        self.parked.remove(&request);
        Some(request)
    }

    /// Ends the poll of a ticket, which stays queued and now `expires` then if nobody calls. The
    /// poll's request, if it had one (nothing is told here: the caller knows who to tell).
    /// Ends the poll on ticket `id`; its expiry counts from `from`.
    fn end_poll(&mut self, id: Uuid, from: Millis) -> Option<RequestId> {
        let ticket = self.tickets.get_mut(&id)?;
        let poll = ticket.poll.take()?;
        let old = poll.until;
        let expires = from.saturating_add(ticket.ttl_ms);
        ticket.expires = Some(expires);
        self.move_due(Due::Ticket(id), old, Some(expires));
        self.parked.remove(&poll.request);
        Some(poll.request)
    }

    /// The queues of `affected` gates shrank, or those gates were reopened: each polled ticket whose
    /// turn it is now is granted (`Event::TicketGranted`), in arrival order; then the watchers of
    /// those that read open are told. Only a gate's first can have become its turn, so only the
    /// firsts of the affected gates are looked at. Two tickets' turns never collide: they would
    /// both have to be first in a gate they share.
    fn advance(&mut self, affected: &BTreeSet<GateName>, events: &mut Vec<Event>) {
        let mut turns = BTreeMap::new();
        for name in affected {
            let Some(first) = self.gate(name).and_then(Gate::first) else {
                continue;
            };
            if let Some(ticket) = self.tickets.get(&first)
                && ticket.poll.is_some()
                && self.is_turn(first)
            {
                turns.insert(ticket.arrival, first);
            }
        }
        for ticket in turns.into_values() {
            if let Some(request) = self.grant(ticket) {
                events.push(Event::TicketGranted { ticket, request });
            }
        }
        self.tell_watchers(affected, events);
    }
}
