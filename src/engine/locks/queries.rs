//! Read-only questions about the engine's state. They show the state as the last command left it: a
//! lease past its expiry is still shown until a command (a Tick, say) arrives with a later `now`.

use super::Engine;
use crate::engine::command::{Millis, RequestId};
use crate::engine::view::{LockView, RequestState, RequestView};

impl Engine {
    /// The resource `name`, or `None` if nobody holds it (a free resource is not remembered).
    pub fn lock(&self, name: &str) -> Option<LockView> {
        self.resources.get(name).map(|resource| resource.view(name))
    }

    /// Every held resource, sorted by name.
    pub fn locks(&self) -> Vec<LockView> {
        self.resources
            .iter()
            .map(|(name, resource)| resource.view(name))
            .collect()
    }

    /// The earliest lease expiry or wait (grace, watch) deadline: when the server should send a Tick.
    /// O(log n).
    pub fn next_deadline(&self) -> Option<Millis> {
        self.deadlines.first().map(|&(due, _)| due)
    }

    /// A live request (holding, waiting or watching). An ended request is forgotten: `None`.
    pub fn request(&self, request: RequestId) -> Option<RequestView> {
        let name = self.requests.get(&request)?;
        let resource = self.resources.get(name)?;
        if resource.holder.request == request {
            return Some(RequestView {
                resource: name.clone(),
                created: resource.holder.created,
                state: RequestState::Active(resource.holder.view()),
            });
        }
        if let Some(watcher) = resource.watchers.get(&request) {
            return Some(RequestView {
                resource: name.clone(),
                created: watcher.since,
                state: RequestState::Watching {
                    deadline: watcher.deadline,
                },
            });
        }
        let waiter = resource.queue.get(request)?;
        Some(RequestView {
            resource: name.clone(),
            created: waiter.since,
            state: RequestState::Waiting {
                position: resource.queue.position(request),
                waiter: waiter.view(request),
            },
        })
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
