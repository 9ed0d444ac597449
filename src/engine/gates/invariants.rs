//! A consistency check of the gates, for tests: tickets and queues agree, no gate is held twice, no
//! polled ticket was left waiting at its turn, no watcher of an open gate was left waiting, and the
//! deadline and parked indexes are exactly what the tickets and watchers say.

use std::collections::{BTreeMap, BTreeSet};

use super::{Due, Gates, Parked};
use crate::engine::command::{Millis, RequestId};

impl Gates {
    /// Panics, saying what is wrong. `clock` is the engine's time, `last_request` its request counter.
    pub(in crate::engine) fn check(&self, clock: Millis, last_request: u64) {
        let mut deadlines: BTreeSet<(Millis, Due)> = BTreeSet::new();
        let mut parked: BTreeMap<RequestId, Parked> = BTreeMap::new();
        let mut queued = 0;
        for (service, s) in &self.services {
            for (env, gate) in &s.gates {
                let at = format!("{service}/{env}");
                queued += gate.queue.len();
                let granted: Vec<_> = gate
                    .queue
                    .values()
                    .filter(|id| self.tickets.get(id).is_some_and(|t| t.granted))
                    .collect();
                assert!(granted.len() <= 1, "{at}: held by {granted:?}");
                if let Some(holder) = granted.first() {
                    assert_eq!(
                        gate.first().as_ref(),
                        Some(*holder),
                        "{at}: holder not first"
                    );
                }
                for (&arrival, id) in &gate.queue {
                    let ticket = self.tickets.get(id);
                    assert!(
                        ticket.is_some_and(|t| t.arrival == arrival
                            && t.gates.contains(&(service.clone(), env.clone()))),
                        "{at}: queued ticket {id} is not live with this gate"
                    );
                }
                for (&request, &deadline) in &gate.watchers {
                    assert!(request.0 <= last_request, "{at}: watcher from the future");
                    let name = (service.clone(), env.clone());
                    assert!(parked.insert(request, Parked::Watcher(name)).is_none());
                    if let Some(t) = deadline {
                        assert!(t > clock, "{at}: watcher {request} is past its deadline");
                        deadlines.insert((t, Due::Watcher(request)));
                    }
                }
                assert!(
                    gate.watchers.is_empty() || !self.reads_open(gate),
                    "{at}: reads open and still has watchers"
                );
            }
        }
        let mut arrivals = BTreeSet::new();
        let mut in_queues = 0;
        for (&id, ticket) in &self.tickets {
            assert!(arrivals.insert(ticket.arrival), "{id}: arrival given twice");
            assert!(ticket.arrival <= self.last_arrival, "{id}: from the future");
            assert!(!ticket.gates.is_empty(), "{id}: names no gate");
            assert!(ticket.updated <= clock, "{id}: updated in the future");
            for name in &ticket.gates {
                let gate = self.gate(name);
                assert!(
                    gate.is_some_and(|g| g.queue.get(&ticket.arrival) == Some(&id)),
                    "{id}: not in the queue of {name:?}"
                );
                in_queues += 1;
                if ticket.granted {
                    assert_eq!(gate.and_then(|g| g.first()), Some(id), "{id}: not first");
                }
            }
            if ticket.granted {
                assert_eq!((ticket.expires, ticket.poll), (None, None), "{id}: granted");
            }
            match ticket.poll {
                Some(poll) => {
                    assert!(poll.request.0 <= last_request, "{id}: poll from the future");
                    assert!(parked.insert(poll.request, Parked::Poll(id)).is_none());
                    let expires = poll.until.map(|t| t.saturating_add(ticket.ttl_ms));
                    assert_eq!(ticket.expires, expires, "{id}: expiry while polled");
                    assert!(!self.is_turn(id), "{id}: polled at its turn, not granted");
                }
                None if !ticket.granted => assert!(ticket.expires.is_some(), "{id}: no expiry"),
                None => {}
            }
            if let Some(t) = ticket.due() {
                assert!(t > clock, "{id}: past its deadline");
                deadlines.insert((t, Due::Ticket(id)));
            }
        }
        assert_eq!(
            in_queues, queued,
            "queues name tickets that do not name them"
        );
        assert_eq!(parked, self.parked, "parked index");
        assert_eq!(deadlines, self.deadlines, "gate deadline index");
    }
}
