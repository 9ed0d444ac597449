//! The holders of one resource: by request id, with a token index (a retry, release or renewal names
//! its token). All of one mode (`slots`): the resource checks that before it puts one in.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::command::RequestId;
use super::resource::Holder;
use super::slots::Mode;

#[derive(Debug, PartialEq, Default)]
pub(super) struct Holders {
    /// Boxed: a map's node holds eleven values, and most resources have one holder, so a node of
    /// holders themselves (1.7 KB, too large for the allocator's per-thread cache) was allocated and
    /// freed for every lock taken and given back.
    by_request: BTreeMap<RequestId, Box<Holder>>,
    tokens: BTreeMap<Uuid, RequestId>,
}

impl Holders {
    pub(super) fn len(&self) -> usize {
        self.by_request.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_request.is_empty()
    }

    /// The mode they hold in; `None` if there is no holder.
    pub(super) fn mode(&self) -> Option<Mode> {
        self.by_request.values().next().map(|h| h.mode)
    }

    pub(super) fn get(&self, request: RequestId) -> Option<&Holder> {
        self.by_request.get(&request).map(|h| &**h)
    }

    pub(super) fn get_mut(&mut self, request: RequestId) -> Option<&mut Holder> {
        self.by_request.get_mut(&request).map(|h| &mut **h)
    }

    /// The request of `token` if it holds here.
    pub(super) fn find(&self, token: Uuid) -> Option<RequestId> {
        self.tokens.get(&token).copied()
    }

    /// `false` (and nothing changes: the holder is dropped) if its request or its token holds here
    /// already.
    pub(super) fn insert(&mut self, request: RequestId, holder: Holder) -> bool {
        if self.by_request.contains_key(&request) || self.tokens.contains_key(&holder.token) {
            return false;
        }
        self.tokens.insert(holder.token, request);
        self.by_request.insert(request, Box::new(holder));
        true
    }

    pub(super) fn remove(&mut self, request: RequestId) -> Option<Holder> {
        let holder = self.by_request.remove(&request)?;
        self.tokens.remove(&holder.token);
        Some(*holder)
    }

    /// In request id order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Holder> {
        self.by_request.values().map(|h| &**h)
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
        self.tokens.len() == self.by_request.len()
            && self
                .tokens
                .iter()
                .all(|(token, id)| self.by_request.get(id).is_some_and(|h| h.token == *token))
    }
}
