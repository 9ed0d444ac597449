//! The table of open connections: admission under the connection cap (the oldest idle connection makes
//! room), lookup by the poller's key, and the sweep that cuts off slow and idle clients.
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::conn::{self, ConnState, Phase, Slot};
use super::message::Response;
use super::poller::Interest;
use super::socket;
use super::{Handler, Transport};

pub struct Connections<H: Handler> {
    table: Mutex<Table<H>>,
}

impl<H: Handler> Default for Connections<H> {
    fn default() -> Connections<H> {
        Connections {
            table: Mutex::new(Table {
                entries: Vec::new(),
                free: Vec::new(),
                open: 0,
            }),
        }
    }
}

struct Table<H: Handler> {
    entries: Vec<Entry<H>>,
    free: Vec<usize>,
    open: usize,
}

struct Entry<H: Handler> {
    /// Bumped on every reuse, so a stale key from an old readiness report finds nothing.
    generation: u32,
    slot: Option<Arc<Slot<H>>>,
}

fn key(index: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | index as u64
}

impl<H: Handler> Connections<H> {
    fn table(&self) -> MutexGuard<'_, Table<H>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: u64) -> Option<Arc<Slot<H>>> {
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
    fn all(&self) -> Vec<Arc<Slot<H>>> {
        self.table()
            .entries
            .iter()
            .filter_map(|e| e.slot.clone())
            .collect()
    }

    fn insert(&self, stream: TcpStream, peer: SocketAddr) -> Arc<Slot<H>> {
        let mut table = self.table();
        let index = match table.free.pop() {
            Some(i) => i,
            None => {
                table.entries.push(Entry {
                    generation: 0,
                    slot: None,
                });
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
pub fn admit<H: Handler>(net: &Transport<H>, stream: TcpStream, peer: SocketAddr) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    if net.conns.open() >= net.limits.max_connections && !evict_oldest_idle(net) {
        let refusal = Response::fail(
            503,
            format!(
                "too many open connections ({}); try again shortly",
                net.limits.max_connections
            ),
        );
        let _ = std::io::Write::write(&mut &stream, &refusal.encode(1, false, false));
        net.handler.answered(None, 503);
        return;
    }
    let session = match net.tls.as_ref().map(socket::Acceptor::session).transpose() {
        Ok(session) => session,
        Err(_) => return,
    };
    let slot = net.conns.insert(stream, peer);
    // Before the poller knows it: no other thread can be working on it yet.
    {
        let mut st = slot.lock();
        st.tls = session.map(Box::new);
        st.armed = Some(Interest::Read);
    }
    if net
        .poller
        .add(&slot.stream, slot.key, Interest::Read)
        .is_err()
    {
        conn::close(net, &slot, &mut slot.lock());
    }
}

/// Closes the connection that has been idle longest. False if none is idle.
///
/// "Idle" is decided and acted on under one hold of the connection's lock, so a connection whose
/// request is being read meanwhile is never closed under it (its request would be lost, or it would be
/// left parked in a queue with no client). A connection with bytes waiting in its socket is not idle:
/// its request has arrived, only not been read yet.
fn evict_oldest_idle<H: Handler>(net: &Transport<H>) -> bool {
    // A candidate can stop being idle between the scan and the close; then look again (bounded).
    for _ in 0..3 {
        let mut oldest: Option<(Instant, Arc<Slot<H>>)> = None;
        for slot in net.conns.all() {
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
            conn::close(net, &slot, &mut st);
            return true;
        }
    }
    false
}

/// Idle with nothing unread, or lingering after its last answer: closing it loses nothing.
fn is_idle<H: Handler>(slot: &Slot<H>, st: &ConnState<H>) -> bool {
    (st.phase == Phase::Idle && !slot.has_unread_bytes()) || st.phase == Phase::Lingering
}

/// Cuts off connections over their time (the pledges of answers they never read are lost, into
/// `work`): idle past the keep-alive timeout, a request not fully sent within the request timeout, an
/// answer not read within the write timeout. Parked connections are not touched here: how long they
/// wait is the handler's business.
pub fn sweep<H: Handler>(net: &Transport<H>, work: &mut H::Work) {
    let now = Instant::now();
    let limits = &net.limits;
    for slot in net.conns.all() {
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
            && let Some(pledge) = conn::expire(net, &slot, &mut st)
        {
            drop(st);
            net.handler.lost(pledge, work);
        }
    }
}
