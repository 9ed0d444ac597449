//! `Engine::snapshot` and `Engine::restore`: the engine as plain data and back (the format, and what
//! is rebuilt rather than stored, are in `engine::snapshot`).

use std::collections::{BTreeMap, BTreeSet};

use super::Engine;
use crate::engine::command::RequestId;
use crate::engine::gates::Gates;
use crate::engine::handles::{HandleIndex, Handles};
use crate::engine::history::Ended;
use crate::engine::releases::{REMEMBERED_RELEASES, RecentReleases};
use crate::engine::resource::{Holder, Queue, Resource, Waiter, Watcher};
use crate::engine::slots;
use crate::engine::snapshot::{
    COUNTER_MAX, EndedSnapshot, HolderSnapshot, OLDEST_SNAPSHOT_VERSION, ReleaseSnapshot,
    ResourceSnapshot, SNAPSHOT_VERSION, Snapshot, WaiterSnapshot, WatcherSnapshot, claim, future,
};

impl Engine {
    /// Everything the engine knows, as plain data: `Engine::restore` of it gives an engine `==` to
    /// this one, which answers every later command as this one would. O(size of the state).
    pub fn snapshot(&self) -> Snapshot {
        let (releases, last_release_seq) = self.releases.entries();
        let releases = releases
            .into_iter()
            .map(|(resource, token, fence, seq)| ReleaseSnapshot {
                resource,
                token,
                fence,
                seq,
            })
            .collect();
        Snapshot {
            version: SNAPSHOT_VERSION,
            clock: self.clock,
            last_request: self.last_request,
            last_fence: self.last_fence,
            resources: self
                .resources
                .iter()
                .map(|(name, resource)| snapshot_resource(name, resource, &self.history.handles))
                .collect(),
            releases,
            last_release_seq,
            ended: self
                .history
                .in_end_order()
                .map(|(request, ended)| snapshot_ended(request, ended, &self.history.handles))
                .collect(),
            gates: self.gates.snapshot(),
        }
    }

    /// The engine a snapshot was taken of, its indexes rebuilt. `Err`, saying what is wrong, for a
    /// snapshot no engine could have given (another version, ids or fences beyond their counters or
    /// given twice, deadlines already due, dangling names, ...): never a panic, and never an engine
    /// that breaks an invariant. Past the engine's bounds (`ENDED_MAX`, `ENDED_RETENTION_MS`,
    /// `REMEMBERED_RELEASES`, should they have changed) the oldest is forgotten, as ever.
    pub fn restore(snapshot: Snapshot) -> Result<Engine, String> {
        if !(OLDEST_SNAPSHOT_VERSION..=SNAPSHOT_VERSION).contains(&snapshot.version) {
            return Err(format!(
                "snapshot version {} (this engine reads {OLDEST_SNAPSHOT_VERSION} to {SNAPSHOT_VERSION})",
                snapshot.version
            ));
        }
        // The clock too: near `u64::MAX` a deadline saturates to the clock itself, already due.
        let counters = [
            ("clock", snapshot.clock),
            ("request counter", snapshot.last_request),
            ("fence counter", snapshot.last_fence),
            ("release counter", snapshot.last_release_seq),
        ];
        for (name, counter) in counters {
            if counter > COUNTER_MAX {
                return Err(format!("the {name} {counter} is out of range"));
            }
        }
        let mut engine = Engine {
            clock: snapshot.clock,
            last_request: snapshot.last_request,
            last_fence: snapshot.last_fence,
            ..Engine::new()
        };
        // Every request id claimed so far (live, then ended), and every fence given.
        let mut ids = BTreeSet::new();
        let mut fences = BTreeSet::new();
        for resource in snapshot.resources {
            engine.restore_resource(resource, &mut ids, &mut fences)?;
        }

        let mut releases = Vec::with_capacity(snapshot.releases.len());
        for release in snapshot.releases {
            let what = format!("the release of {:?}", release.resource);
            engine.claim_fence(release.fence, &mut fences, &what)?;
            releases.push((release.resource, release.token, release.fence, release.seq));
        }
        let last_seq = snapshot.last_release_seq;
        engine.releases = RecentReleases::restore(REMEMBERED_RELEASES, releases, last_seq)?;
        engine.check_releases_beside_holders()?;

        let (clock, last_request) = (engine.clock, engine.last_request);
        engine.gates = Gates::restore(snapshot.gates, clock, last_request, &mut ids)?;

        for e in snapshot.ended {
            claim(&mut ids, e.request, last_request, "an ended request")?;
            // A request that never became active, or became active after it was made, waited (an
            // older snapshot has no `waited`: it is `false` there).
            let waited = e.waited || e.granted.is_none_or(|g| g > e.created);
            let ended = Ended {
                resource: e.resource,
                holder: e.holder,
                meta: e.meta,
                ttl_ms: e.ttl_ms,
                created: e.created,
                granted: e.granted,
                renewed: e.renewed,
                waited,
                end: e.end,
                at: e.at,
            };
            let handles = e.handles.unwrap_or(Handles::of_request(e.request));
            engine.history.handles.restore(e.request, handles)?;
            engine.history.restore(e.request, ended, clock)?;
        }
        engine.history.prune(clock);
        Ok(engine)
    }

    /// Puts a resource of a snapshot in place, with its requests in the request and deadline indexes.
    fn restore_resource(
        &mut self,
        resource: ResourceSnapshot,
        ids: &mut BTreeSet<RequestId>,
        fences: &mut BTreeSet<u64>,
    ) -> Result<(), String> {
        let name = resource.name;
        let what = format!("resource {name:?}");
        if self.resources.contains_key(&name) {
            return Err(format!("{what} is there twice"));
        }
        if resource.slots.is_some_and(|n| !slots::valid(n)) {
            return Err(format!("{what}: slots out of range"));
        }
        let mut restored = Resource::new(resource.slots);
        for h in resource.holders {
            let handles = h.handles.unwrap_or(Handles::of_request(h.request));
            let holder = self.restore_holder(h, &what, ids, fences)?;
            if !restored.admits(holder.mode) {
                return Err(format!(
                    "{what}: more holders, or of more modes, than its slots admit"
                ));
            }
            let request = holder.request;
            self.history.handles.restore(request, handles)?;
            self.index(request, &name, holder.expires);
            if !restored.holders.insert(holder) {
                return Err(format!("{what}: a token holds twice"));
            }
        }
        if restored.holders.is_empty() {
            return Err(format!("{what} has no holder"));
        }
        let (clock, last_request) = (self.clock, self.last_request);
        let mut order = BTreeMap::new();
        for w in resource.waiters {
            claim(ids, w.request, last_request, &what)?;
            future(w.deadline, clock, &what)?;
            if restored.holders.find(w.token).is_some() || w.since > clock {
                return Err(format!("{what}: waiter {} holds or is new", w.request));
            }
            // Detached without a grace of its own: by a restart, until its deadline.
            if w.detached && w.deadline.is_none() {
                return Err(format!(
                    "{what}: waiter {} is detached without a deadline",
                    w.request
                ));
            }
            let waiter = Waiter {
                token: w.token,
                holder: w.holder,
                since: w.since,
                deadline: w.deadline,
                ttl_ms: w.ttl_ms,
                grace_ms: w.grace_ms,
                detached: w.detached,
                meta: w.meta,
                mode: w.mode,
            };
            let handles = w.handles.unwrap_or(Handles::of_request(w.request));
            self.history.handles.restore(w.request, handles)?;
            self.index(w.request, &name, w.deadline);
            order.insert(w.request, waiter);
        }
        restored.queue = Queue::from_waiters(order)
            .map_err(|id| format!("{what}: the token of waiter {id} waits twice"))?;
        if restored
            .queue
            .first()
            .is_some_and(|(_, w)| restored.admits(w.mode))
        {
            return Err(format!("{what}: its next waiter would hold it"));
        }
        for w in resource.watchers {
            claim(ids, w.request, last_request, &what)?;
            future(w.deadline, clock, &what)?;
            if w.since > clock {
                return Err(format!("{what}: watcher {} is new", w.request));
            }
            self.index(w.request, &name, w.deadline);
            let (since, deadline) = (w.since, w.deadline);
            restored
                .watchers
                .insert(w.request, Watcher { since, deadline });
        }
        self.resources.insert(name, Box::new(restored));
        Ok(())
    }

    /// One holder of a snapshot, its request and fence claimed (not yet indexed).
    fn restore_holder(
        &self,
        h: HolderSnapshot,
        what: &str,
        ids: &mut BTreeSet<RequestId>,
        fences: &mut BTreeSet<u64>,
    ) -> Result<Holder, String> {
        claim(ids, h.request, self.last_request, what)?;
        self.claim_fence(h.fence, fences, what)?;
        if !(h.created <= h.since && h.since <= h.renewed && h.renewed <= self.clock) {
            return Err(format!("{what}: the holder's times are out of order"));
        }
        // An unclaimed grant always has a deadline (its claim deadline), lease or not.
        if h.expires.is_some() != (h.ttl_ms.is_some() || h.unclaimed) {
            return Err(format!(
                "{what}: the holder's expiry disagrees with its lease"
            ));
        }
        Ok(Holder {
            request: h.request,
            token: h.token,
            holder: h.holder,
            created: h.created,
            since: h.since,
            // Granted after it was made, it waited (an older snapshot has no `waited`: `false` there).
            waited: h.waited || h.created < h.since,
            fence: h.fence,
            ttl_ms: h.ttl_ms,
            expires: h.expires,
            renewed: h.renewed,
            unclaimed: h.unclaimed,
            meta: h.meta,
            mode: h.mode,
        })
    }

    /// A remembered release is one a grant has not taken the place of (`releases`): its token does
    /// not hold the resource, and a resource's holders and remembered releases are within its slots.
    fn check_releases_beside_holders(&self) -> Result<(), String> {
        for (name, resource) in &self.resources {
            let limit = slots::limit(resource.slots, resource.holders.mode().unwrap_or_default());
            let remembered = self.releases.count(name);
            let beyond = limit.is_some_and(|n| resource.holders.len() + remembered > n as usize);
            let holds = resource
                .holders
                .iter()
                .any(|h| self.releases.released_by(name, h.token).is_some());
            if beyond || holds {
                return Err(format!(
                    "the release of {name:?}: it is held by more than its slots allow, or by its token"
                ));
            }
        }
        Ok(())
    }

    /// A live request of `name` in the request index, and in the deadline index if it has one.
    fn index(&mut self, request: RequestId, name: &str, deadline: Option<u64>) {
        self.requests.insert(request, name.to_owned());
        if let Some(t) = deadline {
            self.deadlines.insert((t, request));
        }
    }

    /// `Err` unless `fence` is one the fence counter gave, and given to one holder or release only.
    fn claim_fence(
        &self,
        fence: u64,
        fences: &mut BTreeSet<u64>,
        what: &str,
    ) -> Result<(), String> {
        if fence == 0 || fence > self.last_fence {
            let last = self.last_fence;
            return Err(format!(
                "{what}: fence {fence} is beyond the fence counter {last}"
            ));
        }
        if !fences.insert(fence) {
            return Err(format!("{what}: fence {fence} was given twice"));
        }
        Ok(())
    }
}

fn snapshot_resource(name: &str, resource: &Resource, handles: &HandleIndex) -> ResourceSnapshot {
    let holders = resource.holders.iter().map(|h| HolderSnapshot {
        request: h.request,
        token: h.token,
        holder: h.holder.clone(),
        created: h.created,
        since: h.since,
        waited: h.waited,
        fence: h.fence,
        ttl_ms: h.ttl_ms,
        expires: h.expires,
        renewed: h.renewed,
        unclaimed: h.unclaimed,
        meta: h.meta.clone(),
        mode: h.mode,
        handles: handles.get(h.request),
    });
    let waiters = resource.queue.iter().map(|(request, w)| WaiterSnapshot {
        request,
        token: w.token,
        holder: w.holder.clone(),
        since: w.since,
        deadline: w.deadline,
        ttl_ms: w.ttl_ms,
        grace_ms: w.grace_ms,
        detached: w.detached,
        meta: w.meta.clone(),
        mode: w.mode,
        handles: handles.get(request),
    });
    let watchers = resource
        .watchers
        .iter()
        .map(|(&request, w)| WatcherSnapshot {
            request,
            since: w.since,
            deadline: w.deadline,
        });
    ResourceSnapshot {
        name: name.to_owned(),
        slots: resource.slots,
        holders: holders.collect(),
        waiters: waiters.collect(),
        watchers: watchers.collect(),
    }
}

fn snapshot_ended(request: RequestId, e: &Ended, handles: &HandleIndex) -> EndedSnapshot {
    EndedSnapshot {
        request,
        resource: e.resource.clone(),
        holder: e.holder.clone(),
        meta: e.meta.clone(),
        ttl_ms: e.ttl_ms,
        created: e.created,
        granted: e.granted,
        renewed: e.renewed,
        waited: e.waited,
        end: e.end,
        at: e.at,
        handles: handles.get(request),
    }
}
