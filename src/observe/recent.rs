//! The recent changes: the last `CAPACITY` records the event log is fed (grants, releases, expiries,
//! gate changes…), numbered in the engine's order, kept in memory whatever `--log-format` says, and
//! read back by `GET /events?since=N` (the dashboard's "recent changes" panel, or any script).
//!
//! Records are pushed under the engine's lock (one short lock of the ring's own, no I/O); a reader
//! copies what it asked for under that lock and renders it after.
use std::collections::VecDeque;
use std::sync::Mutex;

use super::events_log::Record;

/// Records kept; older ones are forgotten.
pub const CAPACITY: usize = 500;

pub struct Recent {
    inner: Mutex<Ring>,
}

struct Ring {
    /// The number the next record gets (the first is 1).
    next: u64,
    records: VecDeque<(u64, Record)>,
}

impl Default for Recent {
    fn default() -> Recent {
        Recent {
            inner: Mutex::new(Ring {
                next: 1,
                records: VecDeque::with_capacity(CAPACITY),
            }),
        }
    }
}

impl Recent {
    pub fn push(&self, record: Record) {
        let mut ring = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if ring.records.len() == CAPACITY {
            ring.records.pop_front();
        }
        let seq = ring.next;
        ring.next += 1;
        ring.records.push_back((seq, record));
    }

    /// The records numbered above `since`, oldest first, at most `limit`; and the number the next
    /// record will get.
    pub fn since(&self, since: u64, limit: usize) -> (Vec<(u64, Record)>, u64) {
        let ring = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let list = ring
            .records
            .iter()
            .filter(|(seq, _)| *seq > since)
            .take(limit)
            .cloned()
            .collect();
        (list, ring.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(resource: &str) -> Record {
        Record {
            resource: resource.into(),
            ..Record::default()
        }
    }

    #[test]
    fn the_ring_keeps_the_last_records_in_order() {
        let recent = Recent::default();
        for i in 0..CAPACITY + 10 {
            recent.push(record(&format!("r{i}")));
        }
        let (all, next) = recent.since(0, usize::MAX);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(next, CAPACITY as u64 + 11);
        assert_eq!(all[0].0, 11);
        assert_eq!(all[0].1.resource, "r10");
        assert!(all.windows(2).all(|w| w[0].0 + 1 == w[1].0));
        let (tail, _) = recent.since(next - 3, 10);
        assert_eq!(
            tail.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [next - 2, next - 1]
        );
        assert_eq!(recent.since(0, 5).0.len(), 5);
    }
}
