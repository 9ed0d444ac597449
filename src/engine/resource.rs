//! One held resource: its slots, its holders, its FIFO queue and its watchers. Pure data structure; the
//! rules that move requests between queue and holders (and keep the engine's indexes in step) live in
//! `locks.rs`.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::command::{Millis, RequestId};
use super::history::{End, Ended};
use super::holders::Holders;
use super::outcome::Grant;
use super::slots::{self, Mode};
use super::view::{HolderView, LockView, RequestState, RequestView, WaiterView};

/// A resource is in the engine's map exactly while someone holds it: a queue is only ever non-empty
/// behind a holder (whenever a holder leaves, or a waiter, the queue's head is granted for as long as
/// it is admitted, and with no holder left anyone is), and a resource with neither is forgotten.
/// Watchers do not keep it alive: they are answered (`Event::Freed`) when it is forgotten.
#[derive(Debug, PartialEq)]
pub(super) struct Resource {
    /// As its first request named it (`slots`); it lasts while the resource is in use.
    pub(super) slots: Option<u32>,
    pub(super) holders: Holders,
    pub(super) queue: Queue,
    /// `Op::Watch` requests waiting for it to become free, by id (so they are freed in id order).
    pub(super) watchers: BTreeMap<RequestId, Watcher>,
}

#[derive(Debug, PartialEq)]
pub(super) struct Holder {
    pub(super) request: RequestId,
    pub(super) token: Uuid,
    pub(super) holder: String,
    /// When the request was made (earlier than `since` if it waited).
    pub(super) created: Millis,
    pub(super) since: Millis,
    /// It was granted from the queue, having waited (perhaps for no time at all: granted in the same
    /// millisecond it was made); `false` if it was granted at once by its `Acquire`, so `created ==
    /// since`.
    pub(super) waited: bool,
    pub(super) fence: u64,
    pub(super) ttl_ms: Option<u64>,
    pub(super) expires: Option<Millis>,
    pub(super) renewed: Millis,
    /// Granted while detached (between two polls): nobody has been told yet. Until its client polls
    /// again (which claims it), the lock is held only for the rest of its grace, so a client that never
    /// comes back frees it soon — never a ghost holder for a whole lease, or for ever.
    pub(super) unclaimed: bool,
    pub(super) meta: Option<String>,
    pub(super) mode: Mode,
}

#[derive(Debug, PartialEq)]
pub(super) struct Waiter {
    pub(super) token: Uuid,
    pub(super) holder: String,
    pub(super) since: Millis,
    /// The poll's wait deadline; once detached, the end of its grace.
    pub(super) deadline: Option<Millis>,
    pub(super) ttl_ms: Option<u64>,
    /// Its poll's grace (`Acquire::grace_ms`). `None` on a detached waiter: detached by a restart
    /// (`Op::Restart`), its grace ends at `deadline`, and so does a grant it has not collected.
    pub(super) grace_ms: Option<u64>,
    /// Its poll's deadline passed (or its connection went with a restart) and it keeps its place in
    /// its grace; a poll re-attaches it.
    pub(super) detached: bool,
    pub(super) meta: Option<String>,
    pub(super) mode: Mode,
}

/// Where a waiter stands at some `now`.
#[derive(Debug, PartialEq)]
pub(super) enum Standing {
    /// Its deadline (if any) is after `now`.
    Waiting,
    /// Its poll's deadline has passed but its grace has not: it keeps its place, detached, until the
    /// time given (after `now`).
    PollEnded(Millis),
    /// Its deadline has passed (and its grace, or it had none): it gives up.
    GivesUp,
}

#[derive(Debug, PartialEq)]
pub(super) struct Watcher {
    pub(super) since: Millis,
    pub(super) deadline: Option<Millis>,
}

impl Watcher {
    pub(super) fn request_view(&self, resource: &str) -> RequestView {
        RequestView {
            resource: resource.to_owned(),
            created: self.since,
            holder: String::new(),
            meta: None,
            ttl_ms: None,
            granted: None,
            renewed: None,
            waited: false,
            state: RequestState::Watching {
                deadline: self.deadline,
            },
        }
    }
}

/// Waiters in arrival order. Request ids are handed out in arrival order and a re-polling waiter keeps
/// its id, so ordering by id *is* FIFO order; a BTreeMap then gives O(log n) removal from the middle
/// (cancel, withdraw, time-out) where a VecDeque would scan. `tokens` finds a re-polling waiter.
#[derive(Debug, PartialEq, Default)]
pub(super) struct Queue {
    /// Boxed, as holders are (`Holders`): a node of waiters themselves is too large to move cheaply.
    order: BTreeMap<RequestId, Box<Waiter>>,
    tokens: BTreeMap<Uuid, RequestId>,
}

impl Holder {
    /// Grants to `waiter`: its lease (if any) starts `now`. A request granted at once, without
    /// waiting, comes here as a waiter whose `since` is `now`, and `waited` false; one granted from
    /// its queue, with `waited` true.
    pub(super) fn from_waiter(
        request: RequestId,
        fence: u64,
        now: Millis,
        waiter: Waiter,
        waited: bool,
    ) -> Holder {
        // Saturating: a huge ttl means "practically never", not an overflow panic.
        let lease = waiter.ttl_ms.map(|ttl| now.saturating_add(ttl));
        let unclaimed = waiter.detached;
        // Unclaimed, it is held for its grace from now; or, detached by a restart, until its grace's
        // end (its deadline, which is after `now`: a waiter past it is not granted).
        let claim_by = match waiter.grace_ms {
            Some(grace) => Some(now.saturating_add(grace)),
            None => waiter.deadline,
        };
        let expires = match (unclaimed, claim_by) {
            (true, Some(claim_by)) => Some(lease.map_or(claim_by, |l| l.min(claim_by))),
            _ => lease,
        };
        Holder {
            request,
            token: waiter.token,
            holder: waiter.holder,
            created: waiter.since,
            since: now,
            waited,
            fence,
            ttl_ms: waiter.ttl_ms,
            expires,
            renewed: now,
            unclaimed,
            meta: waiter.meta,
            mode: waiter.mode,
        }
    }

    pub(super) fn grant(&self, resource: &str) -> Grant {
        Grant {
            request: self.request,
            resource: resource.to_owned(),
            token: self.token,
            fence: self.fence,
            holder: self.holder.clone(),
            since: self.since,
            ttl_ms: self.ttl_ms,
            expires: self.expires,
            mode: self.mode,
        }
    }

    pub(super) fn view(&self) -> HolderView {
        HolderView {
            request: self.request,
            holder: self.holder.clone(),
            since: self.since,
            fence: self.fence,
            ttl_ms: self.ttl_ms,
            expires: self.expires,
            renewed: self.renewed,
            meta: self.meta.clone(),
            mode: self.mode,
        }
    }

    pub(super) fn request_view(&self, resource: &str) -> RequestView {
        RequestView {
            resource: resource.to_owned(),
            created: self.created,
            holder: self.holder.clone(),
            meta: self.meta.clone(),
            ttl_ms: self.ttl_ms,
            granted: Some(self.since),
            renewed: Some(self.renewed),
            waited: self.waited,
            state: RequestState::Active(self.view()),
        }
    }

    /// What is kept of it once it has ended.
    pub(super) fn ended(self, resource: String, end: End, at: Millis) -> Ended {
        Ended {
            resource,
            holder: self.holder,
            meta: self.meta,
            ttl_ms: self.ttl_ms,
            created: self.created,
            granted: Some(self.since),
            renewed: Some(self.renewed),
            waited: self.waited,
            end,
            at,
        }
    }
}

impl Waiter {
    pub(super) fn view(&self, request: RequestId) -> WaiterView {
        WaiterView {
            request,
            holder: self.holder.clone(),
            since: self.since,
            deadline: self.deadline,
            ttl_ms: self.ttl_ms,
            detached: self.detached,
            meta: self.meta.clone(),
            mode: self.mode,
        }
    }

    /// Its view as a request, `position` in its queue (1 = next in line).
    pub(super) fn request_view(
        &self,
        resource: &str,
        request: RequestId,
        position: usize,
    ) -> RequestView {
        RequestView {
            resource: resource.to_owned(),
            created: self.since,
            holder: self.holder.clone(),
            meta: self.meta.clone(),
            ttl_ms: self.ttl_ms,
            granted: None,
            renewed: None,
            waited: true,
            state: RequestState::Waiting {
                position,
                waiter: self.view(request),
            },
        }
    }

    /// What is kept of it once it has ended, never granted.
    pub(super) fn ended(self, resource: &str, end: End, at: Millis) -> Ended {
        Ended {
            resource: resource.to_owned(),
            holder: self.holder,
            meta: self.meta,
            ttl_ms: self.ttl_ms,
            created: self.since,
            granted: None,
            renewed: None,
            waited: true,
            end,
            at,
        }
    }

    /// Where it stands at `now`. An attached waiter with a grace whose deadline has passed keeps its
    /// place until `deadline + grace` if that is still to come; a detached one has had its grace.
    pub(super) fn standing(&self, now: Millis) -> Standing {
        let Some(deadline) = self.deadline.filter(|&t| t <= now) else {
            return Standing::Waiting;
        };
        match self.grace_ms {
            Some(grace) if !self.detached && deadline.saturating_add(grace) > now => {
                Standing::PollEnded(deadline.saturating_add(grace))
            }
            _ => Standing::GivesUp,
        }
    }
}

impl Queue {
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The request of `token` if it is waiting here.
    pub(super) fn find(&self, token: Uuid) -> Option<RequestId> {
        self.tokens.get(&token).copied()
    }

    pub(super) fn get(&self, request: RequestId) -> Option<&Waiter> {
        self.order.get(&request).map(|w| &**w)
    }

    pub(super) fn get_mut(&mut self, request: RequestId) -> Option<&mut Waiter> {
        self.order.get_mut(&request).map(|w| &mut **w)
    }

    /// Appends at the back. `request` must be newer than every waiter's (true of a fresh id).
    pub(super) fn push(&mut self, request: RequestId, waiter: Waiter) {
        debug_assert!(
            self.order
                .last_key_value()
                .is_none_or(|(last, _)| *last < request)
        );
        self.tokens.insert(waiter.token, request);
        self.order.insert(request, Box::new(waiter));
    }

    pub(super) fn remove(&mut self, request: RequestId) -> Option<Waiter> {
        let waiter = self.order.remove(&request)?;
        self.tokens.remove(&waiter.token);
        Some(*waiter)
    }

    /// The next in line.
    pub(super) fn first(&self) -> Option<(RequestId, &Waiter)> {
        self.order
            .first_key_value()
            .map(|(id, waiter)| (*id, &**waiter))
    }

    pub(super) fn pop_first(&mut self) -> Option<(RequestId, Waiter)> {
        let (request, waiter) = self.order.pop_first()?;
        self.tokens.remove(&waiter.token);
        Some((request, *waiter))
    }

    /// The place of a waiting `request`, 1 = next in line. O(position): counting needs a walk, but
    /// only a status query or a re-poll pays it, never a grant or a hand-over.
    pub(super) fn position(&self, request: RequestId) -> usize {
        self.order.range(..request).count() + 1
    }

    /// A queue of `waiters` (its token index built from them), for a restored snapshot: `Err` if a
    /// token waits twice.
    pub(super) fn from_waiters(order: BTreeMap<RequestId, Waiter>) -> Result<Queue, RequestId> {
        let mut tokens = BTreeMap::new();
        for (&request, waiter) in &order {
            if tokens.insert(waiter.token, request).is_some() {
                return Err(request);
            }
        }
        let order = order.into_iter().map(|(id, w)| (id, Box::new(w))).collect();
        Ok(Queue { order, tokens })
    }

    /// The token index names exactly the waiters in the queue.
    #[cfg(test)]
    pub(super) fn tokens_consistent(&self) -> bool {
        self.tokens.len() == self.order.len()
            && self
                .tokens
                .iter()
                .all(|(token, id)| self.order.get(id).is_some_and(|w| w.token == *token))
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (RequestId, &Waiter)> {
        self.order.iter().map(|(id, waiter)| (*id, &**waiter))
    }
}

impl Resource {
    /// A resource with `slots` (as its first request named them), nobody on it yet: the caller grants
    /// its first holder at once.
    pub(super) fn new(slots: Option<u32>) -> Resource {
        Resource {
            slots,
            holders: Holders::default(),
            queue: Queue::default(),
            watchers: BTreeMap::new(),
        }
    }

    /// Whether a request for `mode` may hold it now, beside its holders.
    pub(super) fn admits(&self, mode: Mode) -> bool {
        slots::admits(self.slots, self.holders.mode(), self.holders.len(), mode)
    }

    /// Whether the next in line may hold it now: after every command, never (it would be granted).
    #[cfg(test)]
    pub(super) fn head_admitted(&self) -> bool {
        self.queue.first().is_some_and(|(_, w)| self.admits(w.mode))
    }

    /// Every live request on it, holders, waiters and watchers, as views, in id order.
    pub(super) fn request_views(&self, name: &str) -> Vec<(RequestId, RequestView)> {
        let mut views =
            Vec::with_capacity(self.holders.len() + self.queue.len() + self.watchers.len());
        for holder in self.holders.iter() {
            views.push((holder.request, holder.request_view(name)));
        }
        for (i, (id, waiter)) in self.queue.iter().enumerate() {
            views.push((id, waiter.request_view(name, id, i + 1)));
        }
        for (&id, watcher) in &self.watchers {
            views.push((id, watcher.request_view(name)));
        }
        views.sort_unstable_by_key(|(id, _)| *id);
        views
    }

    pub(super) fn view(&self, name: &str) -> LockView {
        LockView {
            resource: name.to_owned(),
            slots: self.slots,
            mode: self.holders.mode(),
            holders: self
                .holders
                .by_age()
                .into_iter()
                .map(Holder::view)
                .collect(),
            waiting: self.queue.iter().map(|(id, w)| w.view(id)).collect(),
            watchers: self.watchers.len(),
        }
    }
}
