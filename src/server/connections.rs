//! The table of open connections: admission under the connection cap (the oldest idle connection makes
//! room), lookup by the poller's key, and the sweep that cuts off slow and idle clients.
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::Shared;
use super::conn::{self, ConnState, Phase, Slot};
use super::http::Response;
use super::metrics::Api;
use super::poller::Interest;

#[derive(Default)]
pub struct Connections {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    entries: Vec<Entry>,
    free: Vec<usize>,
    open: usize,
}

#[derive(Default)]
struct Entry {
    /// Bumped on every reuse, so a stale key from an old readiness report finds nothing.
    generation: u32,
    slot: Option<Arc<Slot>>,
}

fn key(index: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | index as u64
}

impl Connections {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: u64) -> Option<Arc<Slot>> {
        let index = (key & 0xffff_ffff) as usize;
        let generation = (key >> 32) as u32;
        let table = self.table();
        let entry = table.entries.get(index)?;
        if entry.generation != generation {
            return None;
        }
        entry.slot.clone()
    }

    pub fn remove(&self, key: u64) {
        let index = (key & 0xffff_ffff) as usize;
        let generation = (key >> 32) as u32;
        let mut table = self.table();
        let Some(entry) = table.entries.get_mut(index) else {
            return;
        };
        if entry.generation != generation || entry.slot.is_none() {
            return;
        }
        entry.slot = None;
        table.free.push(index);
        table.open -= 1;
    }

    pub fn open(&self) -> usize {
        self.table().open
    }

    /// Every open connection, for the sweeper and for eviction.
    fn all(&self) -> Vec<Arc<Slot>> {
        self.table()
            .entries
            .iter()
            .filter_map(|e| e.slot.clone())
            .collect()
    }

    fn insert(&self, stream: TcpStream, peer: SocketAddr) -> Arc<Slot> {
        let mut table = self.table();
        let index = match table.free.pop() {
            Some(i) => i,
            None => {
                table.entries.push(Entry::default());
                table.entries.len() - 1
            }
        };
        let entry = &mut table.entries[index];
        entry.generation = entry.generation.wrapping_add(1);
        let local = stream.local_addr().unwrap_or(peer);
        let slot = Arc::new(Slot::new(key(index, entry.generation), stream, peer, local));
        entry.slot = Some(slot.clone());
        table.open += 1;
        slot
    }
}

/// Takes in a freshly accepted connection, making room under the cap if it has to.
pub fn admit(shared: &Shared, stream: TcpStream, peer: SocketAddr) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    if shared.conns.open() >= shared.limits.max_connections && !evict_oldest_idle(shared) {
        let refusal = Response::fail(
            503,
            format!(
                "too many open connections ({}); try again shortly",
                shared.limits.max_connections
            ),
        );
        let _ = std::io::Write::write(&mut &stream, &refusal.encode(1, false, false));
        shared.metrics.request(Api::Other, 503);
        return;
    }
    let slot = shared.conns.insert(stream, peer);
    if shared
        .poller
        .add(&slot.stream, slot.key, Interest::Read)
        .is_err()
    {
        conn::close(shared, &slot, &mut slot.lock());
    }
}

/// Closes the connection that has been idle longest. False if none is idle.
///
/// "Idle" is decided and acted on under one hold of the connection's lock, so a connection whose
/// request is being read meanwhile is never closed under it (its request would be lost, or it would be
/// left parked in a queue with no client). A connection with bytes waiting in its socket is not idle:
/// its request has arrived, only not been read yet.
fn evict_oldest_idle(shared: &Shared) -> bool {
    // A candidate can stop being idle between the scan and the close; then look again (bounded).
    for _ in 0..3 {
        let mut oldest: Option<(Instant, Arc<Slot>)> = None;
        for slot in shared.conns.all() {
            // Waiting for a busy connection's lock costs microseconds (nothing blocks under it), and
            // skipping it could pass over the oldest idle one just as its answer is finished.
            let st = slot.lock();
            if is_idle(&slot, &st) && oldest.as_ref().is_none_or(|(t, _)| st.since < *t) {
                let since = st.since;
                drop(st);
                oldest = Some((since, slot));
            }
        }
        let Some((since, slot)) = oldest else {
            return false;
        };
        let mut st = slot.lock();
        if is_idle(&slot, &st) && st.since == since {
            conn::close(shared, &slot, &mut st);
            return true;
        }
    }
    false
}

/// Idle with nothing unread, or lingering after its last answer: closing it loses nothing.
fn is_idle(slot: &Slot, st: &ConnState) -> bool {
    (st.phase == Phase::Idle && !slot.has_unread_bytes()) || st.phase == Phase::Lingering
}

/// Cuts off connections over their time (and returns the answers that giving back their undelivered
/// grants made due): idle past the keep-alive timeout, a request not fully sent
/// within the request timeout, an answer not read within the write timeout. Parked waiters are not
/// touched here: their waits are the engine's deadlines.
pub fn sweep(shared: &Shared) -> Vec<super::Delivery> {
    let mut deliveries = Vec::new();
    let now = Instant::now();
    let limits = &shared.limits;
    for slot in shared.conns.all() {
        // A connection some thread is working on is not over its time.
        let Ok(mut st) = slot.state.try_lock() else {
            continue;
        };
        let allowed = match st.phase {
            Phase::Idle => limits.idle_timeout,
            Phase::Reading => limits.request_timeout,
            Phase::Writing => limits.write_timeout,
            Phase::Lingering => limits.linger_timeout,
            Phase::Busy | Phase::Parked(_) | Phase::Closed => continue,
        };
        if now.duration_since(st.since) > allowed
            && let Some((claim, op)) = conn::expire(shared, &slot, &mut st)
        {
            drop(st);
            deliveries.extend(shared.core.undo(claim, op));
        }
    }
    deliveries
}
