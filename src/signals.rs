//! Signals taken synchronously: blocked in the calling thread (and so in every thread it starts
//! afterwards), then received with `sigwait` by whoever wants them. No signal handler runs, so there
//! is no async-signal-safety to worry about. Child processes start with an empty mask (std resets it).
use std::io;

pub use libc::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

pub struct Signals {
    set: libc::sigset_t,
}

impl Signals {
    /// Blocks `signals`. Call before starting any thread.
    pub fn block(signals: &[libc::c_int]) -> io::Result<Signals> {
        // SAFETY: the set is initialised by sigemptyset before use; results are checked.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &s in signals {
                libc::sigaddset(&mut set, s);
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            Ok(Signals { set })
        }
    }

    /// Blocks until one of the signals arrives, and returns it.
    pub fn wait(&self) -> libc::c_int {
        let mut sig: libc::c_int = 0;
        loop {
            // SAFETY: `set` was initialised in `block`; `sig` is a valid out-pointer.
            if unsafe { libc::sigwait(&self.set, &mut sig) } == 0 {
                return sig;
            }
        }
    }
}

impl Signals {
    /// Arranges for `command`'s process to start with these signals unblocked, as it would without
    /// weblock in between (so a Ctrl-C or a forwarded SIGTERM reaches it).
    pub fn unblock_in_child(&self, command: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        let set = self.set;
        // SAFETY: runs in the forked child before exec; pthread_sigmask only changes that thread's
        // mask and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                let rc = libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                if rc == 0 {
                    Ok(())
                } else {
                    Err(io::Error::from_raw_os_error(rc))
                }
            });
        }
    }
}

// SAFETY: a sigset_t is plain data, read only by sigwait.
unsafe impl Send for Signals {}
unsafe impl Sync for Signals {}

pub fn name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        _ => "a signal",
    }
}
