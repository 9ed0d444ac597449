//! The holders of one resource: by request id, with a token index (a retry, release or renewal names
//! its token). All of one mode (`slots`): the resource checks that before it puts one in.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::command::RequestId;
use super::resource::Holder;
use super::slots::Mode;

/// Most resources have one holder at a time (a mutex; a lock held, given back, held again), so one
/// holder lives in place: taking and giving back a lock allocates nothing here. The maps are built
/// when a second holder joins, and dropped when the last one leaves.
#[derive(Debug, Default)]
pub(super) struct Holders(Set);

#[derive(Debug, Default)]
enum Set {
    #[default]
    Empty,
    One(Holder),
    Many {
        /// Boxed: a map's node holds eleven values, so a node of holders themselves (1.7 KB, too
        /// large for the allocator's per-thread cache) would be allocated and freed as they change.
        by_request: BTreeMap<RequestId, Box<Holder>>,
        tokens: BTreeMap<Uuid, RequestId>,
    },
}

/// The same holders, however they are kept (a restored engine keeps in place what a live one may
/// keep in maps).
impl PartialEq for Holders {
    fn eq(&self, other: &Holders) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Holders {
    pub(super) fn len(&self) -> usize {
        match &self.0 {
            Set::Empty => 0,
            Set::One(_) => 1,
            Set::Many { by_request, .. } => by_request.len(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The mode they hold in; `None` if there is no holder.
    pub(super) fn mode(&self) -> Option<Mode> {
        self.iter().next().map(|h| h.mode)
    }

    pub(super) fn get(&self, request: RequestId) -> Option<&Holder> {
        match &self.0 {
            Set::Empty => None,
            Set::One(h) => (h.request == request).then_some(h),
            Set::Many { by_request, .. } => by_request.get(&request).map(|h| &**h),
        }
    }

    pub(super) fn get_mut(&mut self, request: RequestId) -> Option<&mut Holder> {
        match &mut self.0 {
            Set::Empty => None,
            Set::One(h) => (h.request == request).then_some(h),
            Set::Many { by_request, .. } => by_request.get_mut(&request).map(|h| &mut **h),
        }
    }

    /// The request of `token` if it holds here.
    pub(super) fn find(&self, token: Uuid) -> Option<RequestId> {
        match &self.0 {
            Set::Empty => None,
            Set::One(h) => (h.token == token).then_some(h.request),
            Set::Many { tokens, .. } => tokens.get(&token).copied(),
        }
    }

    /// `false` (and nothing changes: the holder is dropped) if its request or its token holds here
    /// already.
    pub(super) fn insert(&mut self, holder: Holder) -> bool {
        let request = holder.request;
        if self.get(request).is_some() || self.find(holder.token).is_some() {
            return false;
        }
        match std::mem::take(&mut self.0) {
            Set::Empty => self.0 = Set::One(holder),
            Set::One(first) => {
                let mut by_request = BTreeMap::new();
                let mut tokens = BTreeMap::new();
                for h in [first, holder] {
                    tokens.insert(h.token, h.request);
                    by_request.insert(h.request, Box::new(h));
                }
                self.0 = Set::Many { by_request, tokens };
            }
            Set::Many {
                mut by_request,
                mut tokens,
            } => {
                tokens.insert(holder.token, request);
                by_request.insert(request, Box::new(holder));
                self.0 = Set::Many { by_request, tokens };
            }
        }
        true
    }

    pub(super) fn remove(&mut self, request: RequestId) -> Option<Holder> {
        match &mut self.0 {
            Set::Empty => None,
            Set::One(h) if h.request != request => None,
            Set::One(_) => match std::mem::take(&mut self.0) {
                Set::One(h) => Some(h),
                _ => None,
            },
            Set::Many { by_request, tokens } => {
                let holder = by_request.remove(&request)?;
                tokens.remove(&holder.token);
                if by_request.is_empty() {
                    self.0 = Set::Empty;
                }
                Some(*holder)
            }
        }
    }

    /// In request id order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Holder> {
        let (one, many) = match &self.0 {
            Set::Empty => (None, None),
            Set::One(h) => (Some(h), None),
            Set::Many { by_request, .. } => (None, Some(by_request.values().map(|h| &**h))),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    /// Oldest first: in grant (fence) order.
    pub(super) fn by_age(&self) -> Vec<&Holder> {
        let mut holders: Vec<&Holder> = self.iter().collect();
        holders.sort_unstable_by_key(|h| h.fence);
        holders
    }

    /// The token index names exactly the holders.
    #[cfg(test)]
    pub(super) fn tokens_consistent(&self) -> bool {
        match &self.0 {
            Set::Empty | Set::One(_) => true,
            Set::Many { by_request, tokens } => {
                !by_request.is_empty()
                    && tokens.len() == by_request.len()
                    && tokens
                        .iter()
                        .all(|(token, id)| by_request.get(id).is_some_and(|h| h.token == *token))
            }
        }
    }
}
