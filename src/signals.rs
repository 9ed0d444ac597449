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

    /// `wait`, and whether the kernel sent it (a terminal's Ctrl-C, Ctrl-\ or hang-up, which go to the
    /// whole foreground process group) rather than a process (`kill`). Where the system cannot tell
    /// (macOS has no `sigwaitinfo`), it says a process sent it.
    pub fn wait_origin(&self) -> (libc::c_int, bool) {
        #[cfg(any(target_os = "linux", target_os = "freebsd"))]
        loop {
            // SAFETY: `set` was initialised in `block`; `info` is a valid out-pointer, read only
            // after a successful call.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let sig = unsafe { libc::sigwaitinfo(&self.set, &mut info) };
            if sig > 0 {
                return (sig, from_kernel(&info));
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
        (self.wait(), false)
    }
}

/// Whether the signal came from the kernel (a terminal) rather than from `kill` or `sigqueue`.
#[cfg(target_os = "linux")]
fn from_kernel(info: &libc::siginfo_t) -> bool {
    info.si_code == libc::SI_KERNEL
}

/// Whether the signal came from the kernel (a terminal) rather than from `kill` or `sigqueue`: FreeBSD
/// has no SI_KERNEL, and marks what a process sent with SI_USER, SI_QUEUE or SI_LWP.
#[cfg(target_os = "freebsd")]
fn from_kernel(info: &libc::siginfo_t) -> bool {
    // <sys/signal.h>; the libc crate does not name them for FreeBSD.
    const SI_USER: libc::c_int = 0x10001;
    const SI_QUEUE: libc::c_int = 0x10002;
    const SI_LWP: libc::c_int = 0x10007;
    !matches!(info.si_code, SI_USER | SI_QUEUE | SI_LWP)
}

/// Ends this process by `sig`, as if it had never been caught: its default action restored, unblocked
/// in this thread, and raised. So a shell, `make` or a supervisor sees weblock die of the signal that
/// ended its command (bash then stops a script at Ctrl-C, rather than going on to its next line).
pub fn die_by(sig: libc::c_int) -> ! {
    // SAFETY: plain calls on this process's own signal state and limits; the set is initialised
    // before use.
    unsafe {
        if sig == libc::SIGQUIT {
            // SIGQUIT's default action dumps core: weblock's own core would help nobody.
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
        }
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
    // Not reached for SIGINT, SIGTERM, SIGHUP or SIGQUIT, whose default action ends the process.
    std::process::exit(128 + sig)
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
