//! The server's threads: a bounded pool of workers that take ready connections from the poller, one
//! acceptor, and one timer for lease and wait deadlines and for the connection sweep.
use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Delivery;
use super::Shared;
use super::conn::{self, Phase, Written};
use super::connections;
use super::http::Response;
use super::metrics::Api;
use super::router;

/// How often the sweeper looks for connections over their time limits.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

pub fn worker(shared: Arc<Shared>) {
    while !shared.stopping.load(Ordering::Relaxed) {
        let Some(ready) = shared.poller.wait(Duration::from_secs(1)) else {
            continue;
        };
        let Some(slot) = shared.conns.get(ready.key) else {
            continue;
        };
        if ready.hung_up {
            slot.mark_hung_up();
        }
        // A panic here is a bug in weblock, never the client's doing; it must not take a worker (or
        // the server) with it. That one connection is closed; every other is served on.
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let deliveries = conn::on_ready(&shared, &slot);
            deliver(&shared, deliveries);
        }));
        if handled.is_err() {
            warn!(
                "weblock: internal error while serving {}; connection closed",
                slot.peer
            );
            conn::close(&shared, &slot, &mut slot.lock());
        }
    }
}

/// Writes the answers of parked waiters whose wait ended. A waiter found gone at this point (its
/// connection closed after the hand-over was settled) gives its lock up again, which may make more answers
/// due; they are delivered in the same loop. Each connection is locked alone, never two at once.
pub fn deliver(shared: &Shared, deliveries: Vec<Delivery>) {
    if deliveries.is_empty() {
        return;
    }
    let mut queue: VecDeque<Delivery> = deliveries.into();
    // What made these answers due must be on disk before anyone hears of it: synced once for what
    // came in, and again only after this loop applied more (a give-back, what a served request did).
    let mut unsynced = true;
    while let Some(delivery) = queue.pop_front() {
        if std::mem::take(&mut unsynced) {
            shared.core.barrier();
        }
        // Rendered now, and a grant only if it is still its client's now (`core::confirm`): a pause
        // anywhere before this line cannot hand out a lease that ran out meanwhile.
        let (ready, more) = shared.core.confirm(delivery);
        queue.extend(more);
        let slot = ready.waiter.clone();
        let mut st = slot.lock();
        let mut undo = ready.undo;
        let refused = ready.response.is_err();
        let written = if st.phase == Phase::Parked(ready.request) {
            let response = ready.response.unwrap_or_else(|reason| {
                let api = st.parked_shape.map_or(Api::Other, |shape| shape.api);
                Response::refusal(router::words_of(api), 503, reason)
            });
            let (written, more) = conn::answer_parked(shared, &slot, &mut st, &response);
            unsynced |= !more.is_empty();
            queue.extend(more);
            if written == Written::Pending && !refused {
                // Delivered only when the rest is written (`conn::on_ready`), or given back.
                st.pending_undo = undo.take();
            }
            Some(written)
        } else {
            None
        };
        drop(st);
        let written_whole = matches!(written, Some(Written::Continue | Written::Finished));
        if let (true, false, Some(at)) = (written_whole, refused, ready.granted_at) {
            shared.metrics.handover(at.elapsed());
        }
        match undo {
            Some((claim, _)) if written_whole && !refused => shared.core.delivered(claim),
            // Not received, or refused as no longer its client's: what is still held goes back.
            Some((claim, op)) => {
                let more = shared.core.undo(claim, op);
                unsynced |= !more.is_empty();
                queue.extend(more);
            }
            None => {}
        }
    }
}

pub fn timer(shared: Arc<Shared>) {
    let mut next_sweep = Instant::now() + SWEEP_EVERY;
    while !shared.stopping.load(Ordering::Relaxed) {
        // A panic here (a bug) must not stop every lease expiry and sweep for good.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let until_sweep = next_sweep.saturating_duration_since(Instant::now());
            let deliveries = shared.core.tick_and_sleep(until_sweep);
            deliver(&shared, deliveries);
            if Instant::now() >= next_sweep {
                deliver(&shared, connections::sweep(&shared));
                next_sweep = Instant::now() + SWEEP_EVERY;
            }
        }));
        if ran.is_err() {
            warn!("weblock: internal error in the timer; carrying on");
            next_sweep = Instant::now() + SWEEP_EVERY;
        }
    }
}

/// Accepts connections for as long as the server runs. Accept errors (out of descriptors, a connection
/// aborted before it was taken) are logged and survived with a growing pause, never fatal.
pub fn acceptor(shared: Arc<Shared>, listener: TcpListener) {
    let mut backoff = Duration::ZERO;
    while !shared.stopping.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, peer)) => {
                backoff = Duration::ZERO;
                connections::admit(&shared, stream, peer);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => {}
            Err(e) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                warn!(
                    "weblock: accept failed: {e} ({} connections open); retrying in {}ms",
                    shared.conns.open(),
                    backoff.as_millis()
                );
                std::thread::sleep(backoff);
            }
        }
    }
}
