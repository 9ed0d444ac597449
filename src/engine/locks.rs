//! The lock engine: named resources, each with its holders (one, or up to its slots), a FIFO queue and
//! watchers; leases, wait deadlines, graces and fences. All state and all rules; no I/O, no clock, no randomness.

use std::collections::{BTreeMap, BTreeSet};

use super::command::{Command, Millis, Op, RequestId};
use super::gates::{Gates, TICKET_TTL_MS, TestAndSet};
use super::history::{ENDED_MAX, ENDED_RETENTION_MS, End, History};
use super::outcome::{Outcome, Reply};
use super::releases::{REMEMBERED_RELEASES, RecentReleases};
use super::resource::Resource;

mod acquire;
mod admin;
mod expiry;
mod handover;
#[cfg(test)]
mod invariants;
mod queries;
mod release;
mod restart;
mod snapshot;
mod watch;

/// Every map here is ordered (BTree*), so nothing that reaches a reply, an event or a view depends on
/// hashing: the same commands give the same answers on every machine and every replay.
#[derive(Debug, PartialEq)]
pub struct Engine {
    /// Held resources by name. A resource nobody holds or waits for is not here (it costs nothing).
    /// Boxed: a resource is made and dropped with every lock taken and given back, in the middle
    /// of the map, which moves its neighbours along its node; they move faster as pointers.
    resources: BTreeMap<String, Box<Resource>>,
    /// Every live request, holding, waiting or watching, to its resource: for `Cancel` and `request()`.
    requests: BTreeMap<RequestId, String>,
    /// Every lease expiry and every wait (or grace, or watch) deadline, earliest first; at most one per
    /// live request. Kept in step with every change so the next deadline is O(log n) to find, with
    /// 10,000 waiters too.
    deadlines: BTreeSet<(Millis, RequestId)>,
    releases: RecentReleases,
    /// Ended holders and waiters, readable for a while (bounded; pruned at the end of every command).
    history: History,
    /// The latest `now` seen: time inside the engine never goes back (see `apply`).
    clock: Millis,
    last_request: u64,
    /// Engine-wide, never reset, so a fence never repeats, even for a resource forgotten and named again.
    last_fence: u64,
    /// Services, gates and tickets: their own namespace and rules (see `gates`). Their parked polls
    /// and watchers take ids from `last_request` too, so a `RequestId` names one thing only.
    gates: Gates,
}

/// Why a holder leaves: it decides what the others hear about it.
#[derive(Clone, Copy)]
enum Leaving {
    /// Its own Release: its caller gets the reply, nobody else needs an event.
    Released,
    /// `Cancel` by its client: an `Event::Released`, so the server can log it.
    Cancelled,
    /// Its lease ran out: an `Event::Expired`.
    Expired,
    /// An administrator ended it: an `Event::Deleted`.
    Deleted,
}

impl Leaving {
    fn end(self) -> End {
        match self {
            Leaving::Released | Leaving::Cancelled => End::Released,
            Leaving::Expired => End::Expired,
            Leaving::Deleted => End::Deleted,
        }
    }
}

/// What a live request is to its resource.
#[derive(Clone, Copy)]
enum Role {
    Holder,
    Waiter,
    Watcher,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new()
    }
}

impl Engine {
    pub fn new() -> Engine {
        Engine {
            resources: BTreeMap::new(),
            requests: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            releases: RecentReleases::new(REMEMBERED_RELEASES),
            history: History::new(ENDED_MAX, ENDED_RETENTION_MS),
            clock: 0,
            last_request: 0,
            last_fence: 0,
            gates: Gates::default(),
        }
    }

    /// Applies one command. Never panics, whatever the sequence: unknown names, unknown requests and
    /// repeated commands are answered with refusals (or idempotent repeats).
    pub fn apply(&mut self, command: Command) -> Outcome {
        // Time never goes back inside the engine: servers sharing one journal may have clocks a little
        // apart, and a stepped-back wall clock must not un-expire a lease or give a grant `since` before
        // an earlier one. Clamping is deterministic, so replay still gives the same result.
        let now = command.now.max(self.clock);
        self.clock = now;
        let mut events = Vec::new();
        // Every command first expires what is due at `now`, as a Tick would: the state a command sees
        // then does not depend on how punctually the server's timer sent its Ticks (a lease past its
        // expiry cannot be renewed, and its resource can be taken, even if no Tick came yet). But a
        // Restart does so after its own rules (see `restart`).
        if !matches!(command.op, Op::Restart { .. }) {
            self.expire_due(now, &mut events);
        }
        let reply = match command.op {
            Op::Acquire(acquire) => self.acquire(now, acquire, &mut events),
            Op::Release { resource, token } => self.release(now, resource, token, &mut events),
            Op::Renew {
                resource,
                token,
                ttl_ms,
            } => self.renew(now, &resource, token, ttl_ms),
            Op::Extend { request, until } => self.extend(request, until),
            Op::Cancel { request, by } => self.cancel(now, request, by, &mut events),
            Op::Watch { resource, wait } => self.watch(now, resource, wait),
            Op::DeleteResource { resource } => self.delete_resource(now, &resource, &mut events),
            Op::DeleteAll => self.delete_all(now, &mut events),
            Op::Tick => Reply::Ticked,
            Op::CreateService {
                service,
                group,
                environments,
            } => Reply::Gate(self.gates.create_service(now, service, group, environments)),
            Op::UpdateService {
                service,
                group,
                gates,
            } => Reply::Gate(
                self.gates
                    .update_service(now, service, group, gates, &mut events),
            ),
            Op::DeleteService {
                service,
                keep_other_gates,
            } => Reply::Gate(
                self.gates
                    .delete_service(&service, keep_other_gates, &mut events),
            ),
            Op::SetGate {
                service,
                environment,
                state,
                message,
            } => {
                let name = (service, environment);
                Reply::Gate(self.gates.set_gate(now, name, state, message, &mut events))
            }
            Op::TestAndSet {
                gates,
                ticket,
                new_ticket,
                queue,
                wait,
                ticket_ttl_ms,
                holder,
            } => {
                let call = TestAndSet {
                    gates,
                    ticket,
                    new_ticket,
                    queue,
                    wait,
                    ttl_ms: ticket_ttl_ms.unwrap_or(TICKET_TTL_MS),
                    holder,
                };
                let counter = &mut self.last_request;
                Reply::Gate(self.gates.test_and_set(now, call, counter, &mut events))
            }
            Op::DeleteTicket { ticket } => {
                Reply::Gate(self.gates.delete_ticket(ticket, &mut events))
            }
            Op::WatchGate {
                service,
                environment,
                wait,
            } => {
                let name = (service, environment);
                let counter = &mut self.last_request;
                Reply::Gate(self.gates.watch_gate(now, name, wait, counter))
            }
            Op::Restart { grace_ms } => self.restart(now, grace_ms, &mut events),
        };
        // Last, so that what ended in this command counts too (against `ENDED_MAX`).
        self.history.prune(now);
        Outcome { reply, events }
    }

    /// What `request` is to the resource `name`, if it is on it.
    fn role(&self, name: &str, request: RequestId) -> Option<Role> {
        let resource = self.resources.get(name)?;
        if resource.holders.get(request).is_some() {
            Some(Role::Holder)
        } else if resource.queue.get(request).is_some() {
            Some(Role::Waiter)
        } else if resource.watchers.contains_key(&request) {
            Some(Role::Watcher)
        } else {
            None
        }
    }
}

/// The next request id. A free function on the counter alone, so it can be called while a resource
/// in the map is borrowed.
pub(super) fn next_request(last_request: &mut u64) -> RequestId {
    *last_request += 1;
    RequestId(*last_request)
}

/// An internal invariant does not hold: a bug in this file. Loud in debug builds and tests; in a
/// release build the command is answered as best it can be rather than taking the server, and every
/// lock it guards, down with a panic.
pub(super) fn invariant_broken(what: &str) {
    if cfg!(debug_assertions) {
        panic!("lock engine invariant broken: {what}");
    }
}
