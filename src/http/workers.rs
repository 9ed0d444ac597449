//! The transport's threads: a bounded pool of workers that take ready connections from the poller,
//! and one acceptor.
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::conn;
use super::connections;
use super::poller::Ready;
use super::{Handler, Transport};

pub use connections::sweep;

pub fn worker<H: Handler>(net: Arc<Transport<H>>) {
    let mut batch = Vec::with_capacity(net.batch);
    while !net.stopping.load(Ordering::Relaxed) {
        net.poller
            .wait(Duration::from_secs(1), &mut batch, net.batch);
        for ready in &batch {
            serve_ready(&net, *ready);
        }
    }
}

fn serve_ready<H: Handler>(net: &Transport<H>, ready: Ready) {
    let Some(slot) = net.conns.get(ready.key) else {
        return;
    };
    if ready.hung_up {
        slot.mark_hung_up();
    }
    // A panic here is a bug in weblock, never the client's doing; it must not take a worker (or
    // the server) with it. That one connection is closed; every other is served on.
    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut work = H::Work::default();
        conn::on_ready(net, &slot, &mut work);
        net.handler.finish(net, work);
    }));
    if handled.is_err() {
        warn!(
            "weblock: internal error while serving {}; connection closed",
            slot.peer
        );
        conn::close(net, &slot, &mut slot.lock());
    }
}

/// Accepts connections for as long as the server runs. Accept errors (out of descriptors, a connection
/// aborted before it was taken) are logged and survived with a growing pause, never fatal.
pub fn acceptor<H: Handler>(net: Arc<Transport<H>>, listener: TcpListener) {
    let mut backoff = Duration::ZERO;
    while !net.stopping.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, peer)) => {
                backoff = Duration::ZERO;
                connections::admit(&net, stream, peer);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => {}
            Err(e) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                warn!(
                    "weblock: accept failed: {e} ({} connections open); retrying in {}ms",
                    net.conns.open(),
                    backoff.as_millis()
                );
                std::thread::sleep(backoff);
            }
        }
    }
}
