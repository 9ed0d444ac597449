//! Where the host keeps its state: in memory only, in a journal on this machine (`--state`), or in a
//! log shared with other servers in etcd (`--store`).
use std::sync::Arc;

use super::replica::Replica;
use crate::journal::Journal;

pub enum Store {
    /// Forgotten when the process ends.
    Memory,
    /// Every command appended (and synced before it is answered) to a file.
    Journal(Arc<Journal>),
    /// Every change proposed to a shared log and applied in its order.
    /// (Boxed: a replica is large, the other stores a pointer or nothing.)
    Replicated(Box<Replica>),
}

impl Store {
    pub fn journal(&self) -> Option<&Arc<Journal>> {
        match self {
            Store::Journal(journal) => Some(journal),
            _ => None,
        }
    }

    pub fn replica(&self) -> Option<&Replica> {
        match self {
            Store::Replicated(replica) => Some(replica),
            _ => None,
        }
    }
}
