//! Starting CMD, tied to weblock's life (see `tether`), with the signal mask and SIGPIPE reset as
//! std's `Command` resets them.
//!
//! On Linux the child is started as glibc's `posix_spawn` starts one: `clone(CLONE_VM | CLONE_VFORK)`,
//! on a small stack of its own, sharing weblock's memory until it execs (weblock's thread waits
//! meanwhile). std's `Command` would have to `fork` instead, because the parent-death signal is set by
//! a `pre_exec` hook: a fork copies weblock's page tables, write-protects every page it has written,
//! and then pays a page fault for each page either side writes next, only for the child to throw it
//! all away at exec. For `wait-grab L -- true` that was about a fifth of a cycle's page faults, and all
//! of it while holding the lock.
//!
//! The child does nothing but system calls (sigaction, prctl, getppid, sigprocmask, execve, _exit)
//! before it execs: it shares weblock's heap, so it must not allocate, lock or unwind.
//!
//! Elsewhere, std's `Command` with the `pre_exec` hooks (`tether::arrange`).
use std::ffi::OsString;
use std::io;
use std::process::ExitStatus;

use crate::signals::Signals;

/// A started command: its pid, ours to reap.
pub struct Started {
    pid: u32,
    #[cfg(not(target_os = "linux"))]
    child: std::process::Child,
}

impl Started {
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Waits for the command to end, and reaps it.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::ExitStatusExt;
            let mut status: libc::c_int = 0;
            loop {
                // SAFETY: our own child, and a valid out-pointer.
                let rc = unsafe { libc::waitpid(self.pid as libc::pid_t, &mut status, 0) };
                if rc >= 0 {
                    return Ok(ExitStatus::from_raw(status));
                }
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        self.child.wait()
    }
}

/// Starts `command` (a program, found on PATH as `execvp` finds it, and its arguments) with `env`
/// added to weblock's environment and its standard streams inherited. It dies with weblock's main
/// thread (call it from there), and starts with no signal blocked (`signals` are blocked in weblock).
pub fn spawn(
    command: &[OsString],
    env: &[(&'static str, String)],
    signals: &Signals,
) -> io::Result<Started> {
    #[cfg(target_os = "linux")]
    {
        let _ = signals;
        linux::spawn(command, env).map(|pid| Started { pid })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut cmd = std::process::Command::new(&command[0]);
        cmd.args(&command[1..])
            .envs(env.iter().map(|(k, v)| (k, v)));
        signals.unblock_in_child(&mut cmd);
        super::tether::arrange(&mut cmd);
        let child = cmd.spawn()?;
        Ok(Started {
            pid: child.id(),
            child,
        })
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::{CString, OsStr, OsString, c_void};
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::ptr;

    /// What the child needs, all of it built (and kept alive) by the parent before the clone; and
    /// where the child says why its exec failed.
    struct ChildArgs {
        file: *const libc::c_char,
        argv: *const *const libc::c_char,
        envp: *const *const libc::c_char,
        /// weblock's pid: a child whose parent is another already missed the parent-death signal.
        parent: libc::pid_t,
        /// 0, or the errno of a failed exec (or of the calls before it).
        errno: libc::c_int,
    }

    /// The child's stack: room for `execvpe`'s path buffer (PATH_MAX and a name) and its copy of
    /// argv for a script without `#!`, as glibc sizes `posix_spawn`'s.
    const CHILD_STACK: usize = 32 * 1024;

    fn cstring(s: &OsStr) -> io::Result<CString> {
        CString::new(s.as_bytes()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "an argument or the environment holds a NUL byte",
            )
        })
    }

    pub fn spawn(command: &[OsString], env: &[(&'static str, String)]) -> io::Result<u32> {
        let file = cstring(&command[0])?;
        let argv: Vec<CString> = command
            .iter()
            .map(|a| cstring(a))
            .collect::<Result<_, _>>()?;
        // weblock's environment as std's `Command` would pass it: what is set now, with `env`
        // replacing any variable of the same name.
        let mut envs: Vec<CString> = std::env::vars_os()
            .filter(|(k, _)| !env.iter().any(|(name, _)| OsStr::new(name) == k))
            .map(|(k, v)| {
                let mut kv = k.into_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                cstring(OsStr::from_bytes(&kv))
            })
            .collect::<Result<_, _>>()?;
        for (k, v) in env {
            envs.push(cstring(OsStr::new(&format!("{k}={v}")))?);
        }
        let argv_ptrs: Vec<*const libc::c_char> = argv
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(ptr::null()))
            .collect();
        let env_ptrs: Vec<*const libc::c_char> = envs
            .iter()
            .map(|e| e.as_ptr())
            .chain(std::iter::once(ptr::null()))
            .collect();
        let mut args = ChildArgs {
            file: file.as_ptr(),
            argv: argv_ptrs.as_ptr(),
            envp: env_ptrs.as_ptr(),
            // SAFETY: a plain syscall.
            parent: unsafe { libc::getpid() },
            errno: 0,
        };
        // Never touched by the parent; the child uses its top few pages.
        let words = (CHILD_STACK + argv_ptrs.len() * size_of::<usize>()) / 16 + 1;
        let mut stack: Vec<MaybeUninit<u128>> = Vec::with_capacity(words);
        // SAFETY: one past the end of the allocation, 16-byte aligned: the top of a stack that
        // grows down.
        let top = unsafe { stack.as_mut_ptr().add(words) }.cast::<c_void>();

        // No signal handler of weblock's may run in the child while it shares weblock's memory:
        // every signal is blocked across the clone (the child resets the handlers, then unblocks).
        // SAFETY: plain calls on this thread's mask, with initialised sets.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        }
        // SAFETY: `child` only makes system calls; with CLONE_VFORK this thread waits until the
        // child has exec'd or exited, so `args`, the strings it points to and the stack outlive
        // its use of them.
        let pid = unsafe {
            libc::clone(
                child,
                top,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&raw mut args).cast::<c_void>(),
            )
        };
        let clone_error = io::Error::last_os_error();
        // SAFETY: restores this thread's own mask.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut());
        }
        drop(stack);
        if pid < 0 {
            return Err(clone_error);
        }
        // SAFETY: the child is done with `args` (it exec'd or exited).
        let errno = unsafe { ptr::read_volatile(&raw const args.errno) };
        if errno != 0 {
            let mut status = 0;
            // SAFETY: reaps our own child, which has exited.
            unsafe {
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(io::Error::from_raw_os_error(errno));
        }
        Ok(pid as u32)
    }

    /// The child, until exec: system calls only.
    extern "C" fn child(arg: *mut c_void) -> libc::c_int {
        // SAFETY: `arg` is the parent's `ChildArgs`, alive and untouched while the parent waits.
        let args = unsafe { &mut *arg.cast::<ChildArgs>() };
        // SAFETY: system calls on this process alone, with initialised arguments; the strings and
        // arrays for exec are NUL-terminated and null-terminated.
        unsafe {
            // A handler of weblock's (std's SIGSEGV and SIGBUS ones) must not run here, on its
            // memory: back to the default for any handled signal. Ignored ones stay ignored, as
            // across any exec.
            for sig in 1..32 {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, ptr::null(), &mut old) == 0
                    && old.sa_sigaction != libc::SIG_DFL
                    && old.sa_sigaction != libc::SIG_IGN
                {
                    let mut dfl: libc::sigaction = std::mem::zeroed();
                    dfl.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(sig, &dfl, ptr::null_mut());
                }
            }
            // std's runtime ignores SIGPIPE in weblock; commands start with the default, as std's
            // `Command` starts them.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            // See `tether`. SIGKILL as an unsigned long, as prctl takes it.
            let errno = if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0
            {
                *libc::__errno_location()
            } else if libc::getppid() != args.parent {
                // weblock died before the call above: nobody would send the signal.
                libc::ESRCH
            } else {
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut());
                libc::execvpe(args.file, args.argv, args.envp);
                *libc::__errno_location()
            };
            ptr::write_volatile(&raw mut args.errno, errno.max(1));
            libc::_exit(127)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<OsString> {
        ["sh", "-c", script].iter().map(OsString::from).collect()
    }

    fn no_signals() -> Signals {
        Signals::block(&[]).expect("an empty set")
    }

    #[test]
    fn the_command_gets_its_arguments_and_the_added_environment_and_its_code_is_seen() {
        let mut started = spawn(
            &sh(r#"test "$WEBLOCK_SPAWN_TEST" = "a b" && test -n "$PATH" && exit 3"#),
            &[("WEBLOCK_SPAWN_TEST", "a b".to_string())],
            &no_signals(),
        )
        .expect("sh runs");
        assert!(started.id() > 0);
        assert_eq!(started.wait().expect("reaped").code(), Some(3));
    }

    #[test]
    fn what_cannot_run_says_why() {
        let missing = spawn(
            &[OsString::from("weblock-no-such-command-on-path")],
            &[],
            &no_signals(),
        );
        assert_eq!(
            missing.err().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
        let nul = spawn(&[OsString::from("a\0b")], &[], &no_signals());
        assert_eq!(
            nul.err().map(|e| e.kind()),
            Some(io::ErrorKind::InvalidInput)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_command_starts_with_no_signal_blocked_or_handled() {
        // Blocked in this thread only: the test's own.
        let blocked = Signals::block(&[libc::SIGTERM, libc::SIGINT]).expect("block");
        let mut started = spawn(
            &sh("grep -Eq '^SigBlk:[[:space:]]*0+$' /proc/self/status"),
            &[],
            &blocked,
        )
        .expect("sh runs");
        assert_eq!(started.wait().expect("reaped").code(), Some(0));
        // SAFETY: unblocks what this test blocked, in this thread.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}
