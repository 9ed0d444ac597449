//! Recent releases, so that a client retrying a release (its first answer lost on the network) hears
//! "released" again rather than "not held". Remembered per resource until that resource is granted
//! again, and bounded: names are chosen by clients, so an ever-growing set of names must not grow
//! memory without bound. Past the bound the oldest release is forgotten first (a retry of it then gets
//! `NotHeld`, which is still the truth: the lock is free).

use std::collections::BTreeMap;

use uuid::Uuid;

/// How many releases the engine remembers at most.
pub const REMEMBERED_RELEASES: usize = 10_000;

#[derive(Debug, PartialEq)]
pub(super) struct RecentReleases {
    capacity: usize,
    by_resource: BTreeMap<String, Remembered>,
    /// Release order, oldest first, for eviction. A sequence number of our own, not the fence: fences
    /// follow grant order, and a lock granted early may be released late.
    by_age: BTreeMap<u64, String>,
    last_seq: u64,
}

#[derive(Debug, PartialEq)]
struct Remembered {
    token: Uuid,
    fence: u64,
    seq: u64,
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
        self.by_resource.len()
    }

    /// `token` released `resource`, which held `fence`; replaces any older memory of that resource.
    pub(super) fn remember(&mut self, resource: String, token: Uuid, fence: u64) {
        self.forget(&resource);
        self.last_seq += 1;
        let seq = self.last_seq;
        self.by_age.insert(seq, resource.clone());
        self.by_resource
            .insert(resource, Remembered { token, fence, seq });
        while self.by_resource.len() > self.capacity {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.by_resource.remove(&oldest);
        }
    }

    /// `resource` was granted to someone: an older release of it is no longer "the last one".
    pub(super) fn forget(&mut self, resource: &str) {
        if let Some(old) = self.by_resource.remove(resource) {
            self.by_age.remove(&old.seq);
        }
    }

    /// The releases remembered, oldest first, as (resource, token, fence, seq); and the last seq.
    pub(super) fn entries(&self) -> (Vec<(String, Uuid, u64, u64)>, u64) {
        let entries = self.by_age.values().filter_map(|name| {
            let r = self.by_resource.get(name)?;
            Some((name.clone(), r.token, r.fence, r.seq))
        });
        (entries.collect(), self.last_seq)
    }

    /// The releases of a snapshot, oldest first: `Err` if a resource is named twice or the seqs do
    /// not go up, ending at most at `last_seq`. Past the capacity the oldest are forgotten, as ever.
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
            if releases.by_resource.contains_key(&resource) {
                return Err(format!("release of {resource:?} remembered twice"));
            }
            releases.last_seq = seq;
            releases.by_age.insert(seq, resource.clone());
            releases
                .by_resource
                .insert(resource, Remembered { token, fence, seq });
        }
        while releases.by_resource.len() > capacity {
            let Some((_, oldest)) = releases.by_age.pop_first() else {
                break;
            };
            releases.by_resource.remove(&oldest);
        }
        releases.last_seq = last_seq;
        Ok(releases)
    }

    #[cfg(test)]
    pub(super) fn contains(&self, resource: &str) -> bool {
        self.by_resource.contains_key(resource)
    }

    /// The fence that `token` released `resource` with, if that is the release remembered.
    pub(super) fn released_by(&self, resource: &str, token: Uuid) -> Option<u64> {
        self.by_resource
            .get(resource)
            .filter(|r| r.token == token)
            .map(|r| r.fence)
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
    fn forget_frees_a_slot_and_wrong_token_is_not_remembered() {
        let mut memory = RecentReleases::new(2);
        let token = Uuid::from_u128(1);
        memory.remember("a".into(), token, 1);
        memory.remember("b".into(), token, 2);
        memory.forget("a");
        memory.remember("c".into(), token, 3);
        assert_eq!(memory.released_by("b", token), Some(2));
        assert_eq!(memory.released_by("b", Uuid::from_u128(2)), None);
        assert_eq!(memory.len(), 2);
        assert_eq!(memory.by_age.len(), 2);
    }
}
