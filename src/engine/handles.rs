//! The public handles of lock requests: a HAL `uid` and a request-queue `number`. Whoever presents a
//! HAL lock's URL may end it, so both are drawn at random by the server and come in with the command
//! (`Acquire::handles`), as tokens do: the engine draws nothing, and replay gives the same handles.
//! A request whose command carried none (an older journal's) gets handles made from its request id,
//! as before: its old URLs keep working.
//!
//! Each handle names one request while that request is live or retained in the history; a handle
//! asked for that is already taken (a chance of about n / 2^53 for a number) is moved to the next
//! free one, deterministically.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::command::RequestId;

/// Request-queue numbers are below this (2^53), so JavaScript reads them exactly; never 0.
pub const NUMBER_LIMIT: u64 = 1 << 53;

/// How one lock request is named in the HAL and request-queue APIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Handles {
    /// The HAL lock's uid (shown as 32 hex digits).
    pub uid: Uuid,
    /// The request-queue request's number (`/v1/locks/{r}/requests/{number}/`): 1 to 2^53 - 1.
    pub number: u64,
}

impl Handles {
    /// What a request made without handles is called: its request id, in both APIs (the URLs of
    /// requests made before handles were random).
    pub fn of_request(request: RequestId) -> Handles {
        Handles {
            uid: Uuid::from_u128(u128::from(request.0)),
            number: request.0,
        }
    }

    /// `number` within its range: 1 to `NUMBER_LIMIT - 1`.
    fn in_range(number: u64) -> u64 {
        match number % NUMBER_LIMIT {
            0 => 1,
            n => n,
        }
    }
}

/// The handles of every live holder and waiter and every retained ended request, both ways.
///
/// Handles are random, so the indexes from them are hash maps: a sorted map of ten thousand random
/// keys costs a cache miss per level on every grant and every forgotten request (it was the engine's
/// largest cost under load). Request ids come in order and leave in nearly the same order, which a
/// sorted map serves well.
#[derive(Debug, Default, PartialEq)]
pub(super) struct HandleIndex {
    by_request: BTreeMap<RequestId, Handles>,
    by_uid: HashMap<Uuid, RequestId, Spread>,
    by_number: HashMap<u64, RequestId, Spread>,
}

/// Hashes keys that are random already, or sequential (an old journal's handles made from request
/// ids), by a multiplication per word and a finalizer that spreads the result over the whole word.
/// No client chooses a handle (the server draws them: `api::capabilities::new_handles`), so
/// SipHash's defence against chosen keys buys nothing here, and replay stays deterministic (no
/// per-process key to differ).
pub(super) type Spread = BuildHasherDefault<SpreadHasher>;

#[derive(Default)]
pub(super) struct SpreadHasher(u64);

impl Hasher for SpreadHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Knuth's multiplicative constant (2^64 / golden ratio): high bits depend on every bit below
        // (the low bits only on the bits below them: `finish` mixes the high ones down).
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        // A product's low bits depend only on the low bits multiplied: handles made from request
        // ids (zeros but for a few bytes) would share them, and the map finds a key's place from its
        // hash's low bits. SplitMix64's finalizer brings the high bits down.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl HandleIndex {
    /// Gives the new `request` the handles `wanted` (its request id's without), or the next free ones
    /// where those are taken. What it got.
    pub(super) fn assign(&mut self, request: RequestId, wanted: Option<Handles>) -> Handles {
        let wanted = wanted.unwrap_or_else(|| Handles::of_request(request));
        let mut uid = wanted.uid;
        while self.by_uid.contains_key(&uid) {
            uid = Uuid::from_u128(uid.as_u128().wrapping_add(1));
        }
        let mut number = Handles::in_range(wanted.number);
        while self.by_number.contains_key(&number) {
            number = Handles::in_range(number + 1);
        }
        let handles = Handles { uid, number };
        self.put(request, handles);
        handles
    }

    /// Restores a snapshot's handles for `request`: `Err` when either is taken already or out of range.
    pub(super) fn restore(&mut self, request: RequestId, handles: Handles) -> Result<(), String> {
        let Handles { uid, number } = handles;
        if number == 0 || number >= NUMBER_LIMIT {
            return Err(format!(
                "request {request}: number {number} is out of range"
            ));
        }
        if self.by_request.contains_key(&request)
            || self.by_uid.contains_key(&uid)
            || self.by_number.contains_key(&number)
        {
            return Err(format!("request {request}: its handles are given twice"));
        }
        self.put(request, handles);
        Ok(())
    }

    fn put(&mut self, request: RequestId, handles: Handles) {
        self.by_uid.insert(handles.uid, request);
        self.by_number.insert(handles.number, request);
        self.by_request.insert(request, handles);
    }

    /// `request` is forgotten: its handles are free again.
    pub(super) fn remove(&mut self, request: RequestId) {
        if let Some(h) = self.by_request.remove(&request) {
            self.by_uid.remove(&h.uid);
            self.by_number.remove(&h.number);
        }
    }

    pub(super) fn get(&self, request: RequestId) -> Option<Handles> {
        self.by_request.get(&request).copied()
    }

    pub(super) fn by_uid(&self, uid: Uuid) -> Option<RequestId> {
        self.by_uid.get(&uid).copied()
    }

    pub(super) fn by_number(&self, number: u64) -> Option<RequestId> {
        self.by_number.get(&number).copied()
    }

    /// The requests with handles, in id order.
    #[cfg(test)]
    pub(super) fn requests(&self) -> impl Iterator<Item = RequestId> + '_ {
        self.by_request.keys().copied()
    }

    /// Panics unless the three maps agree.
    #[cfg(test)]
    pub(super) fn check(&self) {
        assert_eq!(self.by_uid.len(), self.by_request.len(), "uid index size");
        assert_eq!(
            self.by_number.len(),
            self.by_request.len(),
            "number index size"
        );
        for (&request, h) in &self.by_request {
            assert_eq!(self.by_uid.get(&h.uid), Some(&request), "uid index");
            assert_eq!(
                self.by_number.get(&h.number),
                Some(&request),
                "number index"
            );
            assert!(
                h.number > 0 && h.number < NUMBER_LIMIT,
                "number out of range"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(uid: u128, number: u64) -> Handles {
        Handles {
            uid: Uuid::from_u128(uid),
            number,
        }
    }

    #[test]
    fn handles_asked_for_are_given_and_found_both_ways() {
        let mut index = HandleIndex::default();
        assert_eq!(index.assign(RequestId(1), Some(h(77, 5))), h(77, 5));
        assert_eq!(index.by_uid(Uuid::from_u128(77)), Some(RequestId(1)));
        assert_eq!(index.by_number(5), Some(RequestId(1)));
        assert_eq!(index.by_uid(Uuid::from_u128(78)), None);
        assert_eq!(index.by_number(6), None);
        index.remove(RequestId(1));
        assert_eq!(index.by_uid(Uuid::from_u128(77)), None);
        assert_eq!(index.by_number(5), None);
        index.check();
    }

    #[test]
    fn without_handles_a_request_is_named_by_its_id() {
        let mut index = HandleIndex::default();
        assert_eq!(index.assign(RequestId(27), None), h(27, 27));
        assert_eq!(
            format!("{}", Handles::of_request(RequestId(27)).uid.simple()),
            "0000000000000000000000000000001b"
        );
    }

    #[test]
    fn a_taken_handle_moves_to_the_next_free_one() {
        let mut index = HandleIndex::default();
        index.assign(RequestId(1), Some(h(u128::MAX, NUMBER_LIMIT - 1)));
        let second = index.assign(RequestId(2), Some(h(u128::MAX, NUMBER_LIMIT - 1)));
        assert_eq!(second, h(0, 1), "both wrap around");
        let third = index.assign(RequestId(3), Some(h(0, 0)));
        assert_eq!(third, h(1, 2), "0 is no number; 1 is taken");
        index.check();
        assert!(
            index.restore(RequestId(4), h(9, 2)).is_err(),
            "number taken"
        );
        assert!(index.restore(RequestId(4), h(0, 9)).is_err(), "uid taken");
        assert!(index.restore(RequestId(4), h(9, NUMBER_LIMIT)).is_err());
        assert!(index.restore(RequestId(4), h(9, 9)).is_ok());
        index.check();
    }
}

#[cfg(test)]
mod spread_tests {
    use std::collections::BTreeSet;
    use std::hash::BuildHasher;

    use super::*;

    /// hashbrown finds a key's first place from a hash's low bits: keys whose hashes share those
    /// bits all probe from one place, and every lookup walks past the others.
    fn distinct_low_bits<K: std::hash::Hash>(keys: impl Iterator<Item = K>, bits: u32) -> usize {
        let spread = Spread::default();
        keys.map(|k| spread.hash_one(k) & ((1 << bits) - 1))
            .collect::<BTreeSet<u64>>()
            .len()
    }

    #[test]
    fn handles_made_from_request_ids_spread_over_the_low_bits() {
        let uids = (1..=4096).map(|id| Handles::of_request(RequestId(id)).uid);
        assert!(
            distinct_low_bits(uids, 12) > 2048,
            "an old journal's uids all start their probes at the same place"
        );
        let numbers = (1..=4096).map(|id| Handles::of_request(RequestId(id)).number);
        assert!(distinct_low_bits(numbers, 12) > 2048);
        let random = (1..=4096u64).map(|i| {
            Uuid::from_u128(u128::from(i.wrapping_mul(0x2545_F491_4F6C_DD1D)) << 64 | u128::from(i))
        });
        assert!(distinct_low_bits(random, 12) > 2048);
    }
}
