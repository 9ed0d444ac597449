//! The kqueue backend (macOS and the BSDs), shaped as the epoll one: each connection is registered
//! `EV_ONESHOT` (unless the poller is persistent) on the one filter its interest needs, with its key as `udata`.
//!
//! kqueue keeps a filter per direction where epoll keeps one interest set per descriptor, so arming
//! one filter also deletes the other: a connection is armed for one thing at a time, as with
//! `EPOLL_CTL_MOD`. A hang-up is `EV_EOF` on the read filter, reported even with unread bytes left, as
//! `EPOLLRDHUP` is. kqueue has no hang-up-only filter: `Interest::HangUp` arms the read filter with a
//! low-water mark no request can reach (`NOTE_LOWAT`), so the bytes already waiting do not wake it
//! and the end of the stream (which ignores the mark) does.
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use super::{Interest, MAX_BATCH, Ready};

pub struct Poller {
    kq: RawFd,
    oneshot: bool,
}

/// A low-water mark that unread bytes never reach: the read filter then fires only at the end.
const NEVER_ENOUGH: i32 = i32::MAX;

fn change(fd: RawFd, filter: i16, flags: u16, key: u64, low_water: Option<i32>) -> libc::kevent {
    // SAFETY: kevent is plain data; every field the kernel reads is set below (the rest, such as
    // FreeBSD's `ext`, must be zero).
    let mut event: libc::kevent = unsafe { std::mem::zeroed() };
    event.ident = fd as libc::uintptr_t;
    event.filter = filter as _;
    event.flags = flags as _;
    event.udata = key as usize as *mut libc::c_void as _;
    if let Some(mark) = low_water {
        event.fflags = libc::NOTE_LOWAT as _;
        event.data = mark as _;
    }
    event
}

impl Poller {
    /// `oneshot`: see `Poller` in the module above (`super`).
    pub fn new(oneshot: bool) -> io::Result<Poller> {
        // SAFETY: plain syscall; the result is checked.
        let kq = unsafe { libc::kqueue() };
        if kq < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: plain syscall on the descriptor just made; a failure only leaks it into children.
        unsafe { libc::fcntl(kq, libc::F_SETFD, libc::FD_CLOEXEC) };
        Ok(Poller { kq, oneshot })
    }

    pub fn oneshot(&self) -> bool {
        self.oneshot
    }

    pub fn add(&self, fd: &impl AsRawFd, key: u64, interest: Interest) -> io::Result<()> {
        self.arm(fd.as_raw_fd(), key, interest)
    }

    /// Re-arms a connection after its one-shot event was handled.
    pub fn rearm(&self, fd: &impl AsRawFd, key: u64, interest: Interest) -> io::Result<()> {
        self.arm(fd.as_raw_fd(), key, interest)
    }

    pub fn remove(&self, fd: &impl AsRawFd) {
        let fd = fd.as_raw_fd();
        for filter in [libc::EVFILT_READ, libc::EVFILT_WRITE] {
            // Not armed (fired, or never): ENOENT, which needs no handling.
            let _ = self.submit(change(fd, filter, libc::EV_DELETE, 0, None));
        }
    }

    fn arm(&self, fd: RawFd, key: u64, interest: Interest) -> io::Result<()> {
        let (filter, other, low_water) = match interest {
            Interest::Read => (libc::EVFILT_READ, libc::EVFILT_WRITE, None),
            Interest::Write => (libc::EVFILT_WRITE, libc::EVFILT_READ, None),
            Interest::HangUp => (libc::EVFILT_READ, libc::EVFILT_WRITE, Some(NEVER_ENOUGH)),
        };
        // One interest at a time: the other direction's filter, if still armed, goes.
        let _ = self.submit(change(fd, other, libc::EV_DELETE, key, None));
        let flags =
            libc::EV_ADD | libc::EV_ENABLE | if self.oneshot { libc::EV_ONESHOT } else { 0 };
        self.submit(change(fd, filter, flags, key, low_water))
    }

    fn submit(&self, event: libc::kevent) -> io::Result<()> {
        // SAFETY: one change is passed and no events are asked back; the result is checked.
        let rc = unsafe {
            libc::kevent(
                self.kq,
                &event,
                1,
                std::ptr::null_mut(),
                0,
                std::ptr::null(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits for ready connections and puts up to `room` of them in `out` (emptied first); leaves it
    /// empty on timeout or interruption.
    pub fn wait(&self, timeout: Duration, out: &mut Vec<Ready>, room: usize) {
        out.clear();
        // SAFETY: kevent is plain data, filled in by the kernel.
        let mut events: [libc::kevent; MAX_BATCH] = unsafe { std::mem::zeroed() };
        let room = room.clamp(1, MAX_BATCH);
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i32::MAX as u64) as _,
            tv_nsec: timeout.subsec_nanos() as _,
        };
        // SAFETY: `events` has room for `room` events; the result is checked.
        let n = unsafe {
            libc::kevent(
                self.kq,
                std::ptr::null(),
                0,
                events.as_mut_ptr(),
                room as _,
                &ts,
            )
        };
        for event in events.iter().take(usize::try_from(n).unwrap_or(0)) {
            out.push(Ready {
                key: event.udata as usize as u64,
                hung_up: event.flags & (libc::EV_EOF | libc::EV_ERROR) != 0,
            });
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe {
            libc::close(self.kq);
        }
    }
}
