//! Recent releases, so that a client retrying a release (its first answer lost on the network) hears
//! "released" again rather than "not held". Remembered per (resource, token) until its place is taken:
//! a grant to a resource that has no holder forgets every release remembered for it (on a mutex: any
//! grant), and a grant beside other holders forgets the oldest one (the slot that release freed is
//! taken), or the grantee's own. So a resource's holders and remembered releases together never
//! exceed its slots. Bounded: names are chosen by clients, so an ever-growing set of names must not
//! grow memory without bound. Past the bound the oldest release is forgotten first (a retry of it then
//! gets `NotHeld` or `WrongToken`, which is still the truth: the token does not hold it).

use std::collections::BTreeMap;

use uuid::Uuid;

/// How many releases the engine remembers at most.
pub const REMEMBERED_RELEASES: usize = 10_000;

#[derive(Debug, PartialEq)]
pub(super) struct RecentReleases {
    capacity: usize,
    /// Each resource's remembered releases, found by token and by age (seq): looked up by the
    /// resource's name as given, never a copy of it.
    by_resource: BTreeMap<String, OfResource>,
    /// Release order, oldest first, for eviction. A sequence number of our own, not the fence: fences
    /// follow grant order, and a lock granted early may be released late.
    by_age: BTreeMap<u64, (String, Uuid)>,
    last_seq: u64,
}

/// One resource's remembered releases. Most resources have one at a time (a mutex's release is
/// forgotten at its next grant), kept in place: remembering it allocates no map.
#[derive(Debug)]
enum OfResource {
    One(Uuid, Remembered),
    Many {
        by_token: BTreeMap<Uuid, Remembered>,
        /// Oldest first, for "forget the oldest of this resource".
        by_seq: BTreeMap<u64, Uuid>,
    },
}

#[derive(Debug, PartialEq, Clone, Copy)]
struct Remembered {
    fence: u64,
    seq: u64,
}

impl OfResource {
    fn insert(&mut self, token: Uuid, remembered: Remembered) {
        if let OfResource::One(first, r) = *self {
            let by_token = BTreeMap::from([(first, r)]);
            let by_seq = BTreeMap::from([(r.seq, first)]);
            *self = OfResource::Many { by_token, by_seq };
        }
        if let OfResource::Many { by_token, by_seq } = self {
            by_seq.insert(remembered.seq, token);
            by_token.insert(token, remembered);
        }
    }

    /// Forgets `token`'s release; `Some(true)` if none is left.
    fn remove(&mut self, token: Uuid) -> Option<(Remembered, bool)> {
        match self {
            OfResource::One(t, r) => (*t == token).then_some((*r, true)),
            OfResource::Many { by_token, by_seq } => {
                let old = by_token.remove(&token)?;
                by_seq.remove(&old.seq);
                Some((old, by_token.is_empty()))
            }
        }
    }

    fn get(&self, token: Uuid) -> Option<&Remembered> {
        match self {
            OfResource::One(t, r) => (*t == token).then_some(r),
            OfResource::Many { by_token, .. } => by_token.get(&token),
        }
    }

    fn len(&self) -> usize {
        match self {
            OfResource::One(..) => 1,
            OfResource::Many { by_token, .. } => by_token.len(),
        }
    }

    /// (seq, token), oldest first.
    fn by_age(&self) -> impl Iterator<Item = (u64, Uuid)> + '_ {
        let (one, many) = match self {
            OfResource::One(t, r) => (Some((r.seq, *t)), None),
            OfResource::Many { by_seq, .. } => (None, Some(by_seq.iter().map(|(s, t)| (*s, *t)))),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

/// The same releases, however they are kept.
impl PartialEq for OfResource {
    fn eq(&self, other: &OfResource) -> bool {
        self.len() == other.len()
            && self
                .by_age()
                .zip(other.by_age())
                .all(|((s, t), (os, ot))| s == os && t == ot && self.get(t) == other.get(ot))
    }
}

impl RecentReleases {
    pub(super) fn new(capacity: usize) -> RecentReleases {
        RecentReleases {
            capacity,
            by_resource: BTreeMap::new(),
            by_age: BTreeMap::new(),
            last_seq: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.by_age.len()
    }

    /// `token` released `resource`, which it held with `fence`; replaces an older memory of the same.
    pub(super) fn remember(&mut self, resource: String, token: Uuid, fence: u64) {
        self.last_seq += 1;
        let seq = self.last_seq;
        self.insert(resource, token, fence, seq);
        self.evict();
    }

    fn insert(&mut self, resource: String, token: Uuid, fence: u64, seq: u64) {
        self.forget_one(&resource, token);
        self.by_age.insert(seq, (resource.clone(), token));
        let remembered = Remembered { fence, seq };
        match self.by_resource.get_mut(&resource) {
            Some(of) => of.insert(token, remembered),
            None => {
                self.by_resource
                    .insert(resource, OfResource::One(token, remembered));
            }
        }
    }

    fn evict(&mut self) {
        while self.by_age.len() > self.capacity {
            let Some((_, (resource, token))) = self.by_age.first_key_value() else {
                break;
            };
            let (resource, token) = (resource.clone(), *token);
            if !self.forget_one(&resource, token) {
                // Out of step (never expected): drop the age entry so the loop ends.
                self.by_age.pop_first();
            }
        }
    }

    fn forget_one(&mut self, resource: &str, token: Uuid) -> bool {
        let Some(of) = self.by_resource.get_mut(resource) else {
            return false;
        };
        let Some((old, none_left)) = of.remove(token) else {
            return false;
        };
        if none_left {
            self.by_resource.remove(resource);
        }
        self.by_age.remove(&old.seq);
        true
    }

    /// `resource` was granted to `token`: see the module's rule. `alone`: it has no other holder.
    pub(super) fn forget_for_grant(&mut self, resource: &str, token: Uuid, alone: bool) {
        if alone {
            if let Some(of) = self.by_resource.remove(resource) {
                for (seq, _) in of.by_age() {
                    self.by_age.remove(&seq);
                }
            }
            return;
        }
        if self.forget_one(resource, token) {
            return;
        }
        let oldest = self
            .by_resource
            .get(resource)
            .and_then(|of| of.by_age().next().map(|(_, token)| token));
        if let Some(oldest) = oldest {
            self.forget_one(resource, oldest);
        }
    }

    /// The releases remembered, oldest first, as (resource, token, fence, seq); and the last seq.
    pub(super) fn entries(&self) -> (Vec<(String, Uuid, u64, u64)>, u64) {
        let entries = self.by_age.values().filter_map(|(name, token)| {
            let r = self.by_resource.get(name)?.get(*token)?;
            Some((name.clone(), *token, r.fence, r.seq))
        });
        (entries.collect(), self.last_seq)
    }

    /// The releases of a snapshot, oldest first: `Err` if a (resource, token) is named twice or the
    /// seqs do not go up, ending at most at `last_seq`. Past the capacity the oldest are forgotten.
    pub(super) fn restore(
        capacity: usize,
        entries: Vec<(String, Uuid, u64, u64)>,
        last_seq: u64,
    ) -> Result<RecentReleases, String> {
        let mut releases = RecentReleases::new(capacity);
        for (resource, token, fence, seq) in entries {
            if seq <= releases.last_seq || seq > last_seq {
                return Err(format!("release of {resource:?}: seq {seq} out of order"));
            }
            if releases.released_by(&resource, token).is_some() {
                return Err(format!("release of {resource:?} remembered twice"));
            }
            releases.last_seq = seq;
            releases.insert(resource, token, fence, seq);
        }
        releases.evict();
        releases.last_seq = last_seq;
        Ok(releases)
    }

    /// How many releases of `resource` are remembered.
    pub(super) fn count(&self, resource: &str) -> usize {
        self.by_resource.get(resource).map_or(0, OfResource::len)
    }

    /// The tokens whose releases of `resource` are remembered, oldest first.
    #[cfg(test)]
    pub(super) fn tokens(&self, resource: &str) -> Vec<Uuid> {
        self.by_resource
            .get(resource)
            .map(|of| of.by_age().map(|(_, token)| token).collect())
            .unwrap_or_default()
    }

    /// The fence that `token` released `resource` with, if that release is remembered.
    pub(super) fn released_by(&self, resource: &str, token: Uuid) -> Option<u64> {
        self.by_resource.get(resource)?.get(token).map(|r| r.fence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_release_is_forgotten_first() {
        let mut memory = RecentReleases::new(2);
        let token = Uuid::from_u128(1);
        memory.remember("a".into(), token, 1);
        memory.remember("b".into(), token, 2);
        memory.remember("c".into(), token, 3);
        assert_eq!(memory.len(), 2);
        assert_eq!(memory.released_by("a", token), None);
        assert_eq!(memory.released_by("b", token), Some(2));
        assert_eq!(memory.released_by("c", token), Some(3));
    }

    #[test]
    fn a_grant_forgets_a_freed_place_and_wrong_token_is_not_remembered() {
        let mut memory = RecentReleases::new(2);
        let token = Uuid::from_u128(1);
        memory.remember("a".into(), token, 1);
        memory.remember("b".into(), token, 2);
        memory.forget_for_grant("a", Uuid::from_u128(9), true);
        memory.remember("c".into(), token, 3);
        assert_eq!(memory.released_by("b", token), Some(2));
        assert_eq!(memory.released_by("b", Uuid::from_u128(2)), None);
        assert_eq!(memory.len(), 2);
        assert_eq!(memory.by_age.len(), 2);
    }

    #[test]
    fn a_grant_beside_holders_forgets_the_grantee_or_else_the_oldest() {
        let mut memory = RecentReleases::new(10);
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        memory.remember("db".into(), a, 1);
        memory.remember("db".into(), b, 2);
        memory.remember("db".into(), c, 3);
        memory.forget_for_grant("db", b, false);
        assert_eq!(memory.tokens("db"), vec![a, c]);
        memory.forget_for_grant("db", Uuid::from_u128(7), false);
        assert_eq!(memory.tokens("db"), vec![c]);
        memory.forget_for_grant("db", Uuid::from_u128(8), true);
        assert_eq!(memory.count("db"), 0);
        assert_eq!((memory.by_age.len(), memory.by_resource.len()), (0, 0));
    }
}
