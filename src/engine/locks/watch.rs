//! Watchers: requests that wait for a resource to become free without taking it. They live on the
//! resource they watch, and in the request and deadline indexes like every live request, but never in
//! its queue: they never hold, never move a waiter, never take a fence.

use std::collections::BTreeMap;

use super::{Engine, next_request};
use crate::engine::command::{Millis, RequestId, Wait};
use crate::engine::outcome::{Event, Reply};
use crate::engine::resource::Watcher;

impl Engine {
    /// `Free` if nobody holds `name` (a resource nobody holds is not in the map, and then nobody waits
    /// for it either); else a watcher is recorded, unless it would not wait (`Busy`).
    pub(super) fn watch(&mut self, now: Millis, name: String, wait: Wait) -> Reply {
        let Some(resource) = self.resources.get_mut(&name) else {
            return Reply::Free;
        };
        let deadline = wait.deadline(now);
        if deadline.is_some_and(|t| t <= now) {
            return Reply::Busy(resource.view(&name));
        }
        let request = next_request(&mut self.last_request);
        resource.watchers.insert(
            request,
            Watcher {
                since: now,
                deadline,
            },
        );
        if let Some(t) = deadline {
            self.deadlines.insert((t, request));
        }
        self.requests.insert(request, name);
        Reply::Watching { request }
    }

    /// Takes a watcher of `name` out of the resource and out of every index.
    pub(super) fn drop_watcher(&mut self, name: &str, request: RequestId) -> Option<Watcher> {
        let watcher = self.resources.get_mut(name)?.watchers.remove(&request)?;
        if let Some(deadline) = watcher.deadline {
            self.deadlines.remove(&(deadline, request));
        }
        self.requests.remove(&request);
        Some(watcher)
    }

    /// `name` has just been forgotten (no holder, no waiter): each of its `watchers`, already out of
    /// the resource, leaves the indexes and hears `Event::Freed`, in request id order.
    pub(super) fn free_watchers(
        &mut self,
        name: &str,
        watchers: BTreeMap<RequestId, Watcher>,
        events: &mut Vec<Event>,
    ) {
        for (request, watcher) in watchers {
            if let Some(deadline) = watcher.deadline {
                self.deadlines.remove(&(deadline, request));
            }
            self.requests.remove(&request);
            events.push(Event::Freed {
                request,
                resource: name.to_owned(),
            });
        }
    }
}
