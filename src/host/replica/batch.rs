//! Group commit of this server's proposals: one etcd put for many entries.
//!
//! A put costs about a millisecond (a raft round and etcd's fsync), and etcd takes only so many a
//! second; concurrent proposals of one server share one. Each writer queues its encoded entries; the
//! one that finds no put in flight takes everything queued (up to `BATCH_BYTES`) and writes it as one
//! value of the log key (`entry::encode_value`), while the others wait for that put to end, or lead
//! the next one with what queued meanwhile. Every entry in a put shares its outcome: its revision, or
//! the failure (and so the 503's reason) of every proposal in it. This is the journal's group commit
//! (`journal/`), with etcd's put in the place of the fsync.
use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::entry::encode_value;
use crate::store::{Failure, Store};

/// The most a put takes at once, well under etcd's request limit (1.5 MiB by default, and values go
/// base64 in JSON); an entry larger than this still goes alone.
pub const BATCH_BYTES: usize = 256 * 1024;

#[derive(Default)]
pub struct Batcher {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Default)]
struct State {
    /// Entries waiting for a put, by ticket, in order.
    queue: VecDeque<(u64, Vec<u8>)>,
    next_ticket: u64,
    in_flight: bool,
    /// Outcomes of entries written, until their writer collects them.
    outcomes: HashMap<u64, Result<i64, Failure>>,
}

impl Batcher {
    /// Writes `entries` (encoded) to the log, in order, sharing puts with whoever else writes now;
    /// each one's revision, or why its put failed.
    pub fn write(&self, store: &Store, entries: Vec<Vec<u8>>) -> Vec<Result<i64, Failure>> {
        let mut state = self.lock();
        let first = state.next_ticket;
        for entry in entries {
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.queue.push_back((ticket, entry));
        }
        let tickets = first..state.next_ticket;
        loop {
            if tickets.clone().all(|t| state.outcomes.contains_key(&t)) {
                return tickets.filter_map(|t| state.outcomes.remove(&t)).collect();
            }
            if state.in_flight {
                state = self.done.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            let (batch, encoded): (Vec<u64>, Vec<Vec<u8>>) =
                take(&mut state.queue).into_iter().unzip();
            state.in_flight = true;
            drop(state);
            let outcome = store.append(&encode_value(&encoded));
            state = self.lock();
            state.in_flight = false;
            for ticket in batch {
                state.outcomes.insert(ticket, outcome.clone());
            }
            self.done.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The entries at the head of `queue` that one put takes: at least one, and no more than
/// `BATCH_BYTES` in all.
fn take(queue: &mut VecDeque<(u64, Vec<u8>)>) -> Vec<(u64, Vec<u8>)> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    while let Some((_, entry)) = queue.front() {
        if !batch.is_empty() && bytes + entry.len() + 1 > BATCH_BYTES {
            break;
        }
        bytes += entry.len() + 1;
        batch.extend(queue.pop_front());
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_takes_what_is_queued_up_to_the_byte_cap() {
        let mut queue: VecDeque<(u64, Vec<u8>)> =
            (0..5).map(|t| (t, vec![b'x'; 100_000])).collect();
        let batch = take(&mut queue);
        assert_eq!(batch.iter().map(|(t, _)| *t).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(queue.len(), 3);
        let mut big: VecDeque<(u64, Vec<u8>)> = [(7, vec![b'x'; BATCH_BYTES * 2])].into();
        assert_eq!(take(&mut big).len(), 1, "a large entry still goes, alone");
    }
}
