//! One epoll readiness set shared by a pool of worker threads.
//!
//! Every connection is registered with `EPOLLONESHOT`: after it reports an event it is disarmed until the
//! thread that handled the event re-arms it, so at most one thread works on a connection at a time and any
//! idle thread can take the next ready one. A connection that is idle, trickling in a request, or parked
//! waiting for a lock therefore holds no thread at all. (std has no readiness API; `mio`'s `Poll` cannot be
//! waited on from several threads at once, which is why this talks to epoll through `libc`.)
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

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

pub struct Poller {
    epfd: RawFd,
}

/// One readiness report: the key the connection was registered with, and whether the peer hung up
/// (closed its side, or the connection broke) — said even when unread bytes remain.
#[derive(Clone, Copy, Debug)]
pub struct Ready {
    pub key: u64,
    pub hung_up: bool,
}

impl Poller {
    pub fn new() -> io::Result<Poller> {
        // SAFETY: plain syscall; the result is checked.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Poller { epfd })
    }

    pub fn add(&self, fd: &impl AsRawFd, key: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), key, interest)
    }

    /// Re-arms a connection after its one-shot event was handled.
    pub fn rearm(&self, fd: &impl AsRawFd, key: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd.as_raw_fd(), key, interest)
    }

    pub fn remove(&self, fd: &impl AsRawFd) {
        // SAFETY: plain syscall; a failure (already gone) needs no handling.
        unsafe {
            libc::epoll_ctl(
                self.epfd,
                libc::EPOLL_CTL_DEL,
                fd.as_raw_fd(),
                std::ptr::null_mut(),
            );
        }
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, key: u64, interest: Interest) -> io::Result<()> {
        let flags = match interest {
            Interest::Read => libc::EPOLLIN | libc::EPOLLRDHUP,
            Interest::Write => libc::EPOLLOUT,
            Interest::HangUp => libc::EPOLLRDHUP,
        } | libc::EPOLLONESHOT;
        let mut event = libc::epoll_event {
            events: flags as u32,
            u64: key,
        };
        // SAFETY: `event` outlives the call; the result is checked.
        let rc = unsafe { libc::epoll_ctl(self.epfd, op, fd, &mut event) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits for one ready connection. `None` on timeout or interruption.
    pub fn wait(&self, timeout: Duration) -> Option<Ready> {
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: room for exactly one event is passed; the result is checked.
        let n = unsafe { libc::epoll_wait(self.epfd, &mut event, 1, millis) };
        if n == 1 {
            let gone = (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
            Some(Ready {
                key: event.u64,
                hung_up: event.events & gone != 0,
            })
        } else {
            None
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe {
            libc::close(self.epfd);
        }
    }
}
