//! What the server asks of the operating system: more open files, and a clean stop on SIGINT/SIGTERM.
use std::io;

/// Raises the soft open-files limit to the hard one (each connection is a descriptor) and returns the
/// limit now in force.
pub fn raise_open_files_limit() -> io::Result<libc::rlim_t> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-pointer; results are checked.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(io::Error::last_os_error());
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    Ok(lim.rlim_cur)
}

/// The stop signals, blocked in the calling thread (and so in every thread it starts afterwards) so
/// that `wait` can take them synchronously, with no async-signal-safety concerns.
pub struct StopSignals {
    set: libc::sigset_t,
}

impl StopSignals {
    /// Call before starting any thread.
    pub fn block() -> io::Result<StopSignals> {
        // SAFETY: the set is initialised by sigemptyset before use; results are checked.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            Ok(StopSignals { set })
        }
    }

    /// Blocks until SIGINT or SIGTERM arrives, and names it.
    pub fn wait(&self) -> &'static str {
        let mut sig: libc::c_int = 0;
        loop {
            // SAFETY: `set` was initialised in `block`; `sig` is a valid out-pointer.
            let rc = unsafe { libc::sigwait(&self.set, &mut sig) };
            if rc == 0 {
                return if sig == libc::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
            }
        }
    }
}
