//! What one entry of the shared log says, and the shared snapshot. Plain data (serde JSON), like the
//! engine's commands: every server applies the same entries in the same order and so reaches the same
//! state, including the table of who parked what (`Origins`).
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::origins::{Origin, OriginsSnapshot};
use crate::engine::{Command, Millis, Op, RequestId, Snapshot};
use crate::host::Claim;

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

/// One put of the log key holding `entries` (each `Entry::encode`d), in order: one entry alone is
/// written as it always was (an entry's JSON object), several as a JSON array of them (group commit,
/// `replica::batch`).
pub fn encode_value(entries: &[Vec<u8>]) -> Vec<u8> {
    if let [one] = entries {
        return one.clone();
    }
    let mut value = Vec::with_capacity(entries.iter().map(|e| e.len() + 1).sum::<usize>() + 2);
    value.push(b'[');
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            value.push(b',');
        }
        value.extend_from_slice(entry);
    }
    value.push(b']');
    value
}

/// The entries one value of the log key holds, in order: an array of entries, or one entry alone
/// (as every value was before group commit). A value that is neither is skipped whole.
pub fn decode_value(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'[') {
        return Entry::decode(bytes).map(|entry| vec![entry]);
    }
    let entries: Vec<Entry> =
        serde_json::from_slice(bytes).map_err(|e| format!("not a batch of log entries: {e}"))?;
    if entries.is_empty() {
        return Err("an empty batch of log entries".to_string());
    }
    Ok(entries)
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

    fn tick(seq: u64) -> Entry {
        Entry {
            server: Uuid::from_u128(9),
            seq,
            body: Body::Command {
                command: Command {
                    now: seq,
                    op: Op::Tick,
                },
                parks: false,
            },
        }
    }

    #[test]
    fn one_entry_is_written_as_before_and_read_back() {
        let entry = tick(1);
        let value = encode_value(&[entry.encode()]);
        assert_eq!(value, entry.encode(), "an old server can read it");
        assert_eq!(decode_value(&value), Ok(vec![entry]));
    }

    #[test]
    fn several_entries_share_one_value_in_order() {
        let entries = vec![tick(1), tick(2), tick(3)];
        let encoded: Vec<Vec<u8>> = entries.iter().map(Entry::encode).collect();
        let value = encode_value(&encoded);
        assert_eq!(value.first(), Some(&b'['));
        assert_eq!(decode_value(&value), Ok(entries));
    }

    #[test]
    fn values_written_before_group_commit_are_read() {
        let old = format!(
            r#"{{"server":"{}","seq":4,"body":{{"command":{{"command":{{"now":5,"op":"tick"}}}}}}}}"#,
            Uuid::from_u128(9)
        );
        let entries = decode_value(old.as_bytes()).expect("an old value");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].seq, 4);
        assert!(matches!(
            &entries[0].body,
            Body::Command { parks: false, command } if command.op == Op::Tick && command.now == 5
        ));
    }

    #[test]
    fn values_that_are_no_entries_are_refused_whole() {
        for bad in [&b"[]"[..], b"[{}]", b" [1,2", b"{}", b"", b"\xff"] {
            assert!(
                decode_value(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let good = tick(1).encode();
        let mut mixed = b"[".to_vec();
        mixed.extend_from_slice(&good);
        mixed.extend_from_slice(b",{}]");
        assert!(
            decode_value(&mixed).is_err(),
            "one bad entry spoils its value"
        );
    }
}
