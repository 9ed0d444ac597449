//! What one entry of the shared log says, and the shared snapshot. Plain data (serde JSON), like the
//! engine's commands: every server applies the same entries in the same order and so reaches the same
//! state, including the table of who parked what (`Origins`).
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::origins::{Origin, OriginsSnapshot};
use crate::engine::{Command, Millis, Op, RequestId, Snapshot};
use crate::server::core::Claim;

/// One entry: who proposed it (a server's id for this run, and its own count), and what it asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub server: Uuid,
    pub seq: u64,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// An engine command. `parks`: its proposer has a connection to park on it if it has to wait
    /// (an acquire, a watch, a ticket's poll).
    Command {
        command: Command,
        #[serde(default)]
        parks: bool,
    },
    /// Ends a parked request's wait (a cancel by its client), but only if it is still parked from
    /// `origin`: its client hung up, its server died, or its proposer stopped waiting. A newer poll with
    /// the same token (through any server) has moved it, and then this does nothing; so two servers
    /// proposing it for one dead server is harmless.
    EndParked {
        now: Millis,
        request: RequestId,
        origin: Origin,
    },
    /// Gives back a grant (`op`: the cancel or the ticket's delete) whose client was gone when its
    /// answer was written, unless the client collected it meanwhile with a retry (through any
    /// server): then it is the client's, and this does nothing.
    GiveBack {
        now: Millis,
        claim: Claim,
        origin: Origin,
        op: Op,
    },
}

/// The shared state after the log's entry at `revision`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedSnapshot {
    pub revision: i64,
    pub engine: Snapshot,
    pub origins: OriginsSnapshot,
}

impl Entry {
    pub fn encode(&self) -> Vec<u8> {
        // Strings, numbers and plain enums: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An entry, or why the bytes are not one (anyone with access to etcd could write the key).
    pub fn decode(bytes: &[u8]) -> Result<Entry, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not a log entry: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_garbage_is_refused() {
        let entry = Entry {
            server: Uuid::from_u128(7),
            seq: 3,
            body: Body::Command {
                command: Command {
                    now: 5,
                    op: Op::Tick,
                },
                parks: false,
            },
        };
        assert_eq!(Entry::decode(&entry.encode()), Ok(entry));
        assert!(Entry::decode(b"{}").is_err());
        assert!(Entry::decode(b"\xff").is_err());
    }
}
