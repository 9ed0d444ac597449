//! The command never outlives weblock. A weblock killed with SIGKILL stops renewing, its lease runs
//! out, and the next holder gets the lock: a command still running then would overlap with it. So the
//! command is tied to weblock's life, with each system's own mechanism:
//!
//! - Linux: `prctl(PR_SET_PDEATHSIG, SIGKILL)` in the child before exec (see `spawn`). The kernel
//!   sends it when the *thread* that started the child ends, so the command is spawned from the main
//!   thread, which lives as long as the process.
//! - FreeBSD: `procctl(PROC_PDEATHSIG_CTL, SIGKILL)`, the same, per process.
//! - Elsewhere (macOS): a guardian, forked from weblock once the command runs, blocks reading a pipe
//!   whose only write end weblock holds. When weblock dies the pipe reports end-of-file and the
//!   guardian sends the command SIGKILL; when the command ends normally weblock tells the guardian so
//!   first, and it exits without killing anything.
//!
//! In every case it is the command itself that is killed, not what it started in the background: a
//! script's own children are the script's business (`exec` the last command, or kill them in a trap).
#[cfg(not(target_os = "linux"))]
use std::process::Command;

/// Whatever must be kept while the command runs, and told when it ended.
pub struct Tether {
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    guardian: Option<guardian::Guardian>,
}

/// Arranges, before the spawn, for the command to be killed when weblock dies. Call from the thread
/// that spawns the command, which must live as long as weblock (the main thread). (Linux's `spawn`
/// does it in its own child, without a `pre_exec` hook.)
#[cfg(not(target_os = "linux"))]
pub fn arrange(cmd: &mut Command) {
    #[cfg(target_os = "freebsd")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: getpid is a plain syscall.
        let parent = unsafe { libc::getpid() };
        // SAFETY: runs in the forked child before exec, and only makes async-signal-safe syscalls.
        unsafe {
            cmd.pre_exec(move || {
                set_parent_death_signal()?;
                // weblock may have died between the fork and the call above: then nobody would send
                // the signal, and the command must not start at all.
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "freebsd"))]
    let _ = cmd;
}

#[cfg(target_os = "freebsd")]
fn set_parent_death_signal() -> std::io::Result<()> {
    let mut sig: libc::c_int = libc::SIGKILL;
    // SAFETY: a plain syscall on the calling process (id 0), with a valid pointer to the signal.
    let rc = unsafe {
        libc::procctl(
            libc::P_PID,
            0,
            libc::PROC_PDEATHSIG_CTL,
            (&mut sig as *mut libc::c_int).cast(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Once the command runs (its pid): where the kernel cannot be asked, starts its guardian. A guardian
/// that cannot be started is worth a warning, not a refusal: the command runs as it did before.
pub fn watch(child: u32) -> Tether {
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    {
        match guardian::Guardian::start(child as libc::pid_t) {
            Ok(g) => Tether { guardian: Some(g) },
            Err(e) => {
                warn!(
                    "weblock: warning: cannot start the guardian that ends the command if weblock dies: {e}"
                );
                Tether { guardian: None }
            }
        }
    }
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    {
        let _ = child;
        Tether {}
    }
}

/// Whether the command ends within `d`, looked for without reaping it (so its pid stays its own):
/// Linux's pidfd becomes readable when the process ends. Elsewhere, or on a kernel without pidfds
/// (before 5.3), it says no at once.
pub fn ends_within(child: u32, d: std::time::Duration) -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a plain syscall; the descriptor it returns is closed below.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child as libc::pid_t, 0) };
        let Ok(fd) = libc::c_int::try_from(fd) else {
            return false;
        };
        if fd < 0 {
            return false;
        }
        let deadline = std::time::Instant::now() + d;
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ended = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
            // SAFETY: one valid pollfd.
            match unsafe { libc::poll(&mut pfd, 1, ms) } {
                0 => break false,
                n if n > 0 => break true,
                _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
                _ => break false,
            }
        };
        // SAFETY: our own descriptor.
        unsafe {
            libc::close(fd);
        }
        ended
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (child, d);
        false
    }
}

impl Tether {
    /// The command ended (it was reaped): nothing is to be killed any more.
    pub fn ended(self) {
        #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
        if let Some(g) = self.guardian {
            g.stand_down();
        }
    }
}

/// The guardian process, for systems without a parent-death signal. Portable POSIX; tested on every
/// system, used where `arrange` has nothing better.
#[cfg_attr(any(target_os = "linux", target_os = "freebsd"), allow(dead_code))]
pub mod guardian {
    use std::io;

    pub struct Guardian {
        /// The write end of the pipe; its end-of-file (weblock gone) is the guardian's cue.
        write: libc::c_int,
        pid: libc::pid_t,
    }

    impl Guardian {
        /// Forks a guardian of `child`. Both ends of the pipe are close-on-exec, so no command
        /// inherits the write end (which would keep the guardian from ever seeing end-of-file).
        pub fn start(child: libc::pid_t) -> io::Result<Guardian> {
            let mut fds = [0 as libc::c_int; 2];
            // SAFETY: plain syscalls with a valid two-element array; results are checked.
            unsafe {
                if libc::pipe(fds.as_mut_ptr()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                for fd in fds {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
                match libc::fork() {
                    -1 => {
                        let e = io::Error::last_os_error();
                        libc::close(fds[0]);
                        libc::close(fds[1]);
                        Err(e)
                    }
                    0 => {
                        // The guardian: a copy of a threaded process, so nothing but async-signal-safe
                        // calls (close, read, kill, _exit) until it ends.
                        libc::close(fds[1]);
                        let mut byte = 0u8;
                        loop {
                            let n = libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
                            if n == 1 {
                                // weblock says the command ended: stand down.
                                libc::_exit(0);
                            }
                            if n == 0 {
                                // weblock is gone, and its command must not outlive it.
                                libc::kill(child, libc::SIGKILL);
                                libc::_exit(0);
                            }
                            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                                libc::kill(child, libc::SIGKILL);
                                libc::_exit(1);
                            }
                        }
                    }
                    pid => {
                        libc::close(fds[0]);
                        Ok(Guardian { write: fds[1], pid })
                    }
                }
            }
        }

        /// The command ended normally: the guardian exits without killing, and is reaped.
        pub fn stand_down(self) {
            // SAFETY: our own pipe's write end and our own child; results do not matter.
            unsafe {
                libc::write(self.write, b"x".as_ptr().cast(), 1);
                libc::close(self.write);
                let mut status = 0;
                libc::waitpid(self.pid, &mut status, 0);
            }
        }

        /// Closes the write end without a word, as weblock's death would (for tests).
        #[cfg(test)]
        pub fn abandon(self) -> libc::pid_t {
            // SAFETY: our own pipe's write end.
            unsafe {
                libc::close(self.write);
            }
            self.pid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::guardian::Guardian;
    use std::process::Command;
    use std::time::{Duration, Instant};

    fn reaped_within(
        child: &mut std::process::Child,
        within: Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    #[test]
    fn an_abandoned_guardian_kills_the_command() {
        let mut child = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let guardian = Guardian::start(child.id() as libc::pid_t).expect("guardian");
        let pid = guardian.abandon();
        let status = reaped_within(&mut child, Duration::from_secs(5));
        // Reap the guardian too.
        let mut st = 0;
        // SAFETY: our own child.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.and_then(|s| s.signal()),
            Some(libc::SIGKILL),
            "the command was killed"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_end_of_a_command_is_seen_without_reaping_it() {
        let mut quick = Command::new("true").spawn().expect("spawn true");
        assert!(super::ends_within(quick.id(), Duration::from_secs(5)));
        assert!(
            quick.wait().is_ok_and(|s| s.success()),
            "still ours to reap"
        );
        let mut slow = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        assert!(!super::ends_within(slow.id(), Duration::from_millis(20)));
        let _ = slow.kill();
        let _ = slow.wait();
    }

    #[test]
    fn a_guardian_told_of_the_end_kills_nothing() {
        let mut child = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let guardian = Guardian::start(child.id() as libc::pid_t).expect("guardian");
        guardian.stand_down();
        assert!(
            reaped_within(&mut child, Duration::from_millis(200)).is_none(),
            "the command runs on"
        );
        let _ = child.kill();
        let _ = child.wait();
    }
}
