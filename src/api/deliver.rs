//! Where the host and the transport meet: the answers of parked waiters, confirmed by the host and
//! written by the transport, and the timer that makes them due (leases, waits) and sweeps slow
//! connections.
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::replies::words_of;
use super::shared::{Core, Delivery, Net, Slot};
use crate::host::{Host, WriteId};
use crate::http::conn::{self, Phase, Written};
use crate::http::{Response, workers};
use crate::observe::metrics::Api;

/// How often the sweeper looks for connections over their time limits.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// Writes the answers of parked waiters whose wait ended. A waiter found gone at this point (its
/// connection closed after the hand-over was settled) gives its lock up again, which may make more answers
/// due; they are delivered in the same loop. Each connection is locked alone, never two at once.
pub fn deliver(net: &Net, deliveries: Vec<Delivery>) {
    if deliveries.is_empty() {
        return;
    }
    let shared = &net.handler;
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
        let granted_at = ready.granted_at;
        let write = ready.write;
        let refused = ready.response.is_err();
        // A panic while answering (a bug in weblock) closes this connection, as a worker's does: left
        // half-answered, a client would wait for ever, and a persistent poller would keep reporting it.
        let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut st = slot.lock();
            // A refused grant's pledge is not the answer's: what is still held goes back below.
            let (pledge, mut undo) = match refused {
                false => (ready.undo, None),
                true => (None, ready.undo),
            };
            let mut written = None;
            let mut more = Vec::new();
            if st.phase == Phase::Parked(ready.request) {
                let mut response = match ready.response {
                    // Made now, with no engine lock held (see `host::Responder`).
                    Ok(render) => render(),
                    Err(reason) => {
                        let api = conn::parked_tag(&st).unwrap_or(Api::Other);
                        Response::refusal(words_of(api), 503, reason)
                    }
                };
                response.mark = write.map(WriteId::number);
                if let (false, Some((claim, _))) = (refused, &pledge) {
                    shared.core.stall_for_test(*claim);
                }
                let (outcome, left) =
                    conn::answer_parked(net, &slot, &mut st, &response, pledge, &mut more);
                written = Some(outcome);
                // Partly written: the transport keeps the pledge (kept or lost when the rest is done).
                if undo.is_none() {
                    undo = left;
                }
            } else if undo.is_none() {
                undo = pledge;
            }
            (written, undo, more)
        }));
        let (written, undo) = match answered {
            Ok((written, undo, more)) => {
                unsynced |= !more.is_empty();
                queue.extend(more);
                (written, undo)
            }
            Err(_) => {
                warn!(
                    "weblock: internal error while answering {}; connection closed",
                    slot.peer
                );
                conn::close(net, &slot, &mut slot.lock());
                (None, None)
            }
        };
        // Ended when the answer was handed to the socket; here if it never was (a no-op otherwise).
        if let Some(write) = write {
            let more = shared.core.written(write);
            unsynced |= !more.is_empty();
            queue.extend(more);
        }
        let written_whole = matches!(written, Some(Written::Continue | Written::Finished));
        if let (true, false, Some(at)) = (written_whole, refused, granted_at) {
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

/// What the threads of a shared store deliver through.
impl Host for Net {
    type Waiter = Arc<Slot>;

    fn core(&self) -> &Core {
        &self.handler.core
    }

    fn deliver(&self, deliveries: Vec<Delivery>) {
        deliver(self, deliveries);
    }

    fn servers_seen(&self, count: usize) {
        self.handler.identity.set_servers(count);
    }
}

/// Applies lease and wait deadlines as they come, and sweeps slow connections, for as long as the
/// server runs.
pub fn timer(net: Arc<Net>) {
    let mut next_sweep = Instant::now() + SWEEP_EVERY;
    while !net.stopping.load(Ordering::Relaxed) {
        // A panic here (a bug) must not stop every lease expiry and sweep for good.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let until_sweep = next_sweep.saturating_duration_since(Instant::now());
            let deliveries = net.handler.core.tick_and_sleep(until_sweep);
            deliver(&net, deliveries);
            if Instant::now() >= next_sweep {
                let mut lost = Vec::new();
                workers::sweep(&net, &mut lost);
                deliver(&net, lost);
                next_sweep = Instant::now() + SWEEP_EVERY;
            }
        }));
        if ran.is_err() {
            warn!("weblock: internal error in the timer; carrying on");
            next_sweep = Instant::now() + SWEEP_EVERY;
        }
    }
}
