//! The epoll backend (Linux): `EPOLLONESHOT` per connection (unless the poller is persistent),
//! `EPOLLRDHUP` for hang-ups.
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use super::{Interest, MAX_BATCH, Ready};

pub struct Poller {
    epfd: RawFd,
    oneshot: bool,
}

impl Poller {
    /// `oneshot`: see `Poller` in the module above (`super`).
    pub fn new(oneshot: bool) -> io::Result<Poller> {
        // SAFETY: plain syscall; the result is checked.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Poller { epfd, oneshot })
    }

    pub fn oneshot(&self) -> bool {
        self.oneshot
    }

    pub fn add(&self, fd: &impl AsRawFd, key: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), key, interest)
    }

    /// Re-arms a connection after its one-shot event was handled (persistent: changes its interest).
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
        } | if self.oneshot { libc::EPOLLONESHOT } else { 0 };
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

    /// Waits for ready connections and puts up to `room` of them in `out` (emptied first); leaves it
    /// empty on timeout or interruption.
    pub fn wait(&self, timeout: Duration, out: &mut Vec<Ready>, room: usize) {
        out.clear();
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX_BATCH];
        let room = room.clamp(1, MAX_BATCH);
        let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `events` has room for `room` events; the result is checked.
        let n = unsafe { libc::epoll_wait(self.epfd, events.as_mut_ptr(), room as i32, millis) };
        let gone = (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
        for event in events.iter().take(usize::try_from(n).unwrap_or(0)) {
            out.push(Ready {
                key: event.u64,
                hung_up: event.events & gone != 0,
            });
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
