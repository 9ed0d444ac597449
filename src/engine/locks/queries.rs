//! Read-only questions about the engine's state. They show the state as the last command left it: a
//! lease past its expiry is still shown until a command (a Tick, say) arrives with a later `now`.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::Engine;
use crate::engine::command::{Millis, RequestId};
use crate::engine::gates::{ServiceView, TicketView};
use crate::engine::handles::Handles;
use crate::engine::view::{LockView, RequestView};

impl Engine {
    /// The resource `name`, or `None` if nobody holds it (a free resource is not remembered).
    pub fn lock(&self, name: &str) -> Option<LockView> {
        self.resources.get(name).map(|resource| resource.view(name))
    }

    /// The grant `request` holds, if it holds a lock.
    pub fn grant_of(&self, request: RequestId) -> Option<crate::engine::Grant> {
        let name = self.requests.get(&request)?;
        let holder = self.resources.get(name)?.holders.get(request)?;
        Some(holder.grant(name))
    }

    /// Every held resource, sorted by name.
    pub fn locks(&self) -> Vec<LockView> {
        self.resources
            .iter()
            .map(|(name, resource)| resource.view(name))
            .collect()
    }

    /// The earliest lease expiry or wait (grace, watch) deadline, of locks or of gates (ticket expiry,
    /// poll and watch deadlines): when the server should send a Tick. O(log n).
    pub fn next_deadline(&self) -> Option<Millis> {
        let locks = self.deadlines.first().map(|&(due, _)| due);
        locks.into_iter().chain(self.gates.next_deadline()).min()
    }

    /// The service `name`, with the state of its gates; `None` if there is none.
    pub fn service(&self, name: &str) -> Option<ServiceView> {
        self.gates.service(name)
    }

    /// Every service, sorted by name.
    pub fn services(&self) -> Vec<ServiceView> {
        self.gates.services()
    }

    /// A live ticket, queued or granted; `None` once it ended (expired or deleted) or if it never was.
    pub fn ticket(&self, id: Uuid) -> Option<TicketView> {
        self.gates.ticket(id)
    }

    /// How many tickets are live, queued or granted.
    pub fn ticket_count(&self) -> usize {
        self.gates.ticket_count()
    }

    /// The resource a live request (holding, waiting or watching) is about.
    pub fn resource_of(&self, request: RequestId) -> Option<&str> {
        self.requests.get(&request).map(String::as_str)
    }

    /// A live request (holding, waiting or watching), or a holder or waiter that ended less than
    /// `ENDED_RETENTION_MS` ago (and is among the last `ENDED_MAX` to end): `RequestState::Ended`.
    /// A watcher that ended, or a request ended longer ago, is forgotten: `None`.
    pub fn request(&self, request: RequestId) -> Option<RequestView> {
        let Some(name) = self.requests.get(&request) else {
            return self.history.get(request).map(|ended| ended.view());
        };
        let resource = self.resources.get(name)?;
        if let Some(holder) = resource.holders.get(request) {
            return Some(holder.request_view(name));
        }
        if let Some(watcher) = resource.watchers.get(&request) {
            return Some(watcher.request_view(name));
        }
        let waiter = resource.queue.get(request)?;
        Some(waiter.request_view(name, request, resource.queue.position(request)))
    }

    /// Every live request on `resource` (holders, waiters and watchers: a dialect without watchers
    /// skips `RequestState::Watching`) and every retained ended one, in id order. O(what it returns
    /// + log n): the live ones are on the resource, the ended ones in a per-resource index.
    pub fn requests_of(&self, resource: &str) -> Vec<(RequestId, RequestView)> {
        let live = self
            .resources
            .get(resource)
            .map(|r| r.request_views(resource))
            .unwrap_or_default();
        let mut ended = self
            .history
            .of_resource(resource)
            .map(|(id, e)| (id, e.view()))
            .peekable();
        // Both are in id order: merge them.
        let mut all = Vec::with_capacity(live.len() + ended.size_hint().0);
        for (id, view) in live {
            while let Some(earlier) = ended.next_if(|(e, _)| *e < id) {
                all.push(earlier);
            }
            all.push((id, view));
        }
        all.extend(ended);
        all
    }

    /// Every name with a live request or a retained ended one, sorted. O(k log k) for the k names
    /// returned: the held resources' names, and those of the history's per-resource index.
    pub fn known_resources(&self) -> Vec<String> {
        let names: BTreeSet<&String> = self
            .resources
            .keys()
            .chain(self.history.resources())
            .collect();
        names.into_iter().cloned().collect()
    }

    /// The public handles (HAL uid, request-queue number) of a live holder or waiter, or of a retained
    /// ended request; `None` for a watcher or a forgotten request.
    pub fn handles(&self, request: RequestId) -> Option<Handles> {
        self.history.handles.get(request)
    }

    /// The live or retained request whose HAL uid is `uid`.
    pub fn request_by_uid(&self, uid: Uuid) -> Option<RequestId> {
        self.history.handles.by_uid(uid)
    }

    /// The live or retained request whose request-queue number is `number`.
    pub fn request_by_number(&self, number: u64) -> Option<RequestId> {
        self.history.handles.by_number(number)
    }

    /// The token of a live holder or waiter (`None` for a watcher, which has none, or an ended or
    /// unknown request): for a dialect that addresses requests by id and then renews or releases
    /// them with their token. The server must never show it to anyone: whoever has it can release
    /// the lock.
    pub fn token_of(&self, request: RequestId) -> Option<Uuid> {
        let resource = self.resources.get(self.requests.get(&request)?)?;
        if let Some(holder) = resource.holders.get(request) {
            return Some(holder.token);
        }
        resource.queue.get(request).map(|waiter| waiter.token)
    }

    /// How many ended requests are retained (bounded by `ENDED_MAX`).
    pub fn ended_count(&self) -> usize {
        self.history.len()
    }

    /// How many resources are held (a resource with no holder and no waiter is not counted: it is gone).
    pub fn resource_count(&self) -> usize {
        self.resources.len()
    }

    /// How many requests are live, holding, waiting or watching, over all resources.
    pub fn request_count(&self) -> usize {
        self.requests.len()
    }

    /// The engine's time: the latest `now` of any command applied (0 before the first).
    pub fn clock(&self) -> Millis {
        self.clock
    }

    /// How many releases are remembered for idempotent retries (bounded by `REMEMBERED_RELEASES`).
    pub fn remembered_releases(&self) -> usize {
        self.releases.len()
    }
}
