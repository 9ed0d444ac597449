//! One readiness set shared by a pool of worker threads, with one backend per OS: epoll on Linux
//! (and Android), kqueue on macOS and the BSDs.
//!
//! Every connection is registered one-shot (`EPOLLONESHOT`, `EV_ONESHOT`): after it reports an event
//! it is disarmed until the thread that handled the event re-arms it, so at most one thread works on a
//! connection at a time and any idle thread can take the next ready one. A poller that one worker
//! alone waits on is made persistent instead (`Poller::new(false)`, level-triggered): no other worker
//! can take a connection from it, so the re-arm after every request, a system call each, is left out
//! unless the connection's interest changes (`conn::rearm`). A connection that is idle,
//! trickling in a request, or parked waiting for a lock therefore holds no thread at all. (std has no
//! readiness API; `mio`'s `Poll` cannot be waited on from several threads at once, and has no
//! hang-up-only interest, which is why this talks to the OS through `libc`.)
//!
//! Both backends keep the same contract, which the regression tests rely on: a peer's hang-up is
//! reported as `Ready::hung_up` even while unread bytes remain (epoll's `EPOLLRDHUP`, kqueue's `EV_EOF`
//! on the read filter), and `Interest::HangUp` wakes for the hang-up alone, not for more bytes.

#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "poller/epoll.rs"]
mod backend;

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
))]
#[path = "poller/kqueue.rs"]
mod backend;

pub use backend::Poller;

/// What a connection wants to hear about next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Bytes to read, or the peer hanging up.
    Read,
    /// Room in the send buffer for the rest of a response.
    Write,
    /// Only the peer hanging up: for a parked connection whose client sent more than its request
    /// (those bytes wait, unread, until its answer; they must not keep waking the poller).
    HangUp,
}

/// Ready connections one wait hands to one thread, at most.
pub const MAX_BATCH: usize = 64;

/// One readiness report: the key the connection was registered with, and whether the peer hung up
/// (closed its side, or the connection broke) — said even when unread bytes remain.
#[derive(Clone, Copy, Debug)]
pub struct Ready {
    pub key: u64,
    pub hung_up: bool,
}

#[cfg(test)]
mod tests;
