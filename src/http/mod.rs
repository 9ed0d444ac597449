//! HTTP/1.1 over non-blocking sockets, and nothing of locks: the table of connections, one
//! connection's cycle (read a request under limits, hand it to the [`Handler`], write its answer),
//! parking a connection until its answer is due, the sweep that cuts off slow clients, and the threads
//! that run it. `docs/architecture.md` says why weblock owns this layer.
//!
//! A parked connection waits under the handler's own id for its wait (`Handler::Wait`); an answer may
//! carry the handler's pledge (`Handler::Pledge`), which the transport reports kept once the answer is
//! wholly written, or lost if its client goes first. The transport knows no more of either.
/// Crate-visible for `crate::fuzzing`.
pub(crate) mod checks;
/// Crate-visible for `crate::fuzzing`.
pub(crate) mod chunked;
pub mod conn;
mod connections;
mod fields;
pub mod limits;
pub mod message;
mod poller;
pub mod socket;
#[cfg(feature = "tls")]
mod subject;
mod system;
#[cfg(feature = "tls")]
pub mod tls;
pub mod workers;

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub use conn::{Shape, Slot, Written};
pub use limits::Limits;
pub use message::{Request, Response, Words};
pub use system::raise_open_files_limit;

/// What the transport hands requests to: the rest of the server.
pub trait Handler: Send + Sync + Sized + 'static {
    /// What a parked connection waits under.
    type Wait: Copy + PartialEq + Debug + Send;
    /// What an answer may carry until it is known to have been received (or not).
    type Pledge: Send;
    /// What the handler remembers of a request while its connection is parked (which API it was
    /// for, say): given back with its answer's count.
    type Tag: Copy + Send;
    /// What a request's handling made due for others, done once its connection is let go.
    type Work: Default;

    /// What to remember of `req` while its connection is parked, and count its answer under.
    fn tag(&self, req: &Request) -> Self::Tag;
    /// Answers `req`, or parks its connection.
    fn handle(
        &self,
        net: &Transport<Self>,
        slot: &Arc<Slot<Self>>,
        req: &Request,
        work: &mut Self::Work,
    ) -> Handled<Self>;
    /// A request whose client waits for `100 Continue` before it sends its body: an answer to give at
    /// once instead (a refused secret, say), and its body is never asked for. `req` has no body yet.
    fn before_body(&self, req: &Request) -> Option<Response> {
        let _ = req;
        None
    }
    /// A request with `tag` was answered with `status` (`None`: refused before it was handled).
    fn answered(&self, tag: Option<Self::Tag>, status: u16);
    /// The client of a connection parked under `wait` hung up.
    fn hung_up(&self, slot: &Arc<Slot<Self>>, wait: Self::Wait, work: &mut Self::Work);
    /// The answer marked `mark` (`Response::mark`) was handed to the socket, or could not be.
    fn written(&self, mark: u64, work: &mut Self::Work) {
        let _ = (mark, work);
    }
    /// An answer carrying `pledge` was wholly written.
    fn kept(&self, pledge: Self::Pledge);
    /// An answer carrying `pledge` never reached its client.
    fn lost(&self, pledge: Self::Pledge, work: &mut Self::Work);
    /// Does `work`, with no connection held.
    fn finish(&self, net: &Transport<Self>, work: Self::Work);
}

/// What the handler did with a request.
pub enum Handled<H: Handler> {
    Respond(Response),
    /// The connection waits under this id; it is answered through `conn::answer_parked`.
    Parked(H::Wait),
}

/// The transport: the poller, the table of connections, their limits, and the handler.
pub struct Transport<H: Handler> {
    poller: poller::Poller,
    conns: connections::Connections<H>,
    pub limits: Limits,
    pub stopping: AtomicBool,
    pub handler: H,
    /// On a TLS port: what every accepted connection's session starts from.
    tls: Option<socket::Acceptor>,
    /// Ready connections a worker takes from one wait (`with_batch`).
    batch: usize,
}

impl<H: Handler> Transport<H> {
    /// `workers`: how many threads will wait on the poller (`workers::worker`). With one, its
    /// registrations are persistent (see `poller`).
    pub fn new(limits: Limits, handler: H, workers: usize) -> std::io::Result<Transport<H>> {
        Ok(Transport {
            poller: poller::Poller::new(workers > 1)?,
            conns: connections::Connections::default(),
            limits,
            stopping: AtomicBool::new(false),
            handler,
            tls: None,
            batch: 1,
        })
    }

    /// How many ready connections a worker takes from one wait and serves in turn (1 by default,
    /// at most `poller::MAX_BATCH`). Where handling never blocks (an in-memory store), a busy worker
    /// then serves what is ready without waking another thread for each connection, as a
    /// single-threaded event loop does; where a handler may wait on a disk or the network, 1 keeps
    /// a waiting thread from holding other ready connections back.
    pub fn with_batch(mut self, batch: usize) -> Transport<H> {
        self.batch = batch.clamp(1, poller::MAX_BATCH);
        self
    }

    /// Every connection speaks TLS (set before the acceptor starts).
    pub fn with_tls(mut self, tls: Option<socket::Acceptor>) -> Transport<H> {
        self.tls = tls;
        self
    }

    /// How many connections are open.
    pub fn open_connections(&self) -> usize {
        self.conns.open()
    }
}
