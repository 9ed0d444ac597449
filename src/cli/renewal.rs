//! Keeping a lock while its command runs: renewals on a short tick, checked against the wall clock as
//! well as the monotonic one, and — when the lock turns out lost — the command stopped (SIGTERM, then
//! SIGKILL after a grace period), as `wait-grab --kill-after` documents.
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use super::run::Held;

/// Why a renewal did not renew.
#[derive(Debug, Clone)]
pub enum Lapse {
    /// It is not ours any more: the server refused the renewal, or its lease ran out unrenewed.
    Lost(String),
    /// No answer this time (server unreachable, or failing); the lease may still be ours.
    NotNow(String),
    /// No renewal was answered before the lease ran out (at the moment given): lost then, unless the
    /// command had ended by that moment (it held the lock all the while it ran).
    RanOut(String, Deadline),
}

/// A moment checked against both clocks. `Instant` (CLOCK_MONOTONIC) stands still while the machine
/// is suspended, but the server's lease does not: the wall clock catches that.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    mono: Instant,
    wall: SystemTime,
}

impl Deadline {
    pub fn after(d: Duration) -> Deadline {
        Deadline {
            mono: Instant::now() + d,
            wall: SystemTime::now() + d,
        }
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.mono || SystemTime::now() >= self.wall
    }

    /// Whether this moment came no later than `other` by both clocks.
    pub fn not_after(&self, other: &Deadline) -> bool {
        self.mono <= other.mono && self.wall <= other.wall
    }

    /// The monotonic moment, for retry deadlines.
    pub fn instant(&self) -> Instant {
        self.mono
    }
}

/// How often the renewer wakes to look at the clocks, at most: a process thawed after SIGSTOP, or a
/// machine resumed, renews (or learns of its loss) within this.
const TICK: Duration = Duration::from_millis(250);

/// The lock was lost while the command ran: why, and how the command was stopped.
pub struct Lost {
    pub why: String,
    pub stopped_how: String,
}

/// Renews `held` until `stop` says the command ended (when, sent before its sender is dropped). When
/// the lock is lost,
/// `signal` sends the command SIGTERM, then SIGKILL if it has not ended after `kill_after`, and the
/// loss is returned. A server that does not answer is retried; its silence past the lease's end is
/// a loss too.
pub fn keep_renewed(
    held: &mut impl Held,
    stop: &Receiver<Deadline>,
    signal: &dyn Fn(libc::c_int) -> bool,
    kill_after: Duration,
) -> Option<Lost> {
    let Some(every) = held.renew_every() else {
        let _ = stop.recv();
        return None;
    };
    let mut next = Deadline::after(every);
    let mut warned = false;
    loop {
        match stop.recv_timeout(every.min(TICK)) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return None,
        }
        if !next.passed() {
            continue;
        }
        match held.renew() {
            Ok(()) => next = Deadline::after(every),
            Err(Lapse::NotNow(why)) => {
                if !warned {
                    warn!("weblock: {why}; retrying while the lease lasts");
                    warned = true;
                }
            }
            // The renewal was retried past the command's end: a command that ended before the
            // lease ran out held the lock all the while it ran.
            Err(Lapse::RanOut(_, lease))
                if stop.try_recv().is_ok_and(|end| end.not_after(&lease)) =>
            {
                return None;
            }
            Err(Lapse::Lost(why) | Lapse::RanOut(why, _)) => {
                return Some(Lost {
                    why,
                    stopped_how: stop_command(stop, signal, kill_after),
                });
            }
        }
    }
}

/// SIGTERM, then SIGKILL after `kill_after` unless the command ended; says which it took.
fn stop_command(
    stop: &Receiver<Deadline>,
    signal: &dyn Fn(libc::c_int) -> bool,
    kill_after: Duration,
) -> String {
    if !signal(libc::SIGTERM) {
        return "the command had ended".to_string();
    }
    match stop.recv_timeout(kill_after) {
        Err(RecvTimeoutError::Timeout) => {
            signal(libc::SIGKILL);
            let _ = stop.recv();
            format!(
                "the command was sent SIGTERM, and SIGKILL {} later",
                crate::duration::format(kill_after)
            )
        }
        _ => "the command was stopped with SIGTERM".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::mpsc;

    /// Renewals answered from a script; an exhausted script is a loss.
    struct Scripted(Vec<Result<(), Lapse>>);

    impl Held for Scripted {
        fn keep(&self) {}
        fn env(&self) -> Vec<(&'static str, String)> {
            Vec::new()
        }
        fn renew_every(&self) -> Option<Duration> {
            Some(Duration::from_millis(1))
        }
        fn renew(&mut self) -> Result<(), Lapse> {
            if self.0.is_empty() {
                return Err(Lapse::Lost("gone".into()));
            }
            self.0.remove(0)
        }
        fn release(&self) {}
    }

    /// A command that ends on the signal `dies_of`: the signals sent to it, and the receiver the
    /// renewer watches (its sender is dropped, as weblock's main thread does, when the command ends).
    struct Command {
        sent: Mutex<Vec<libc::c_int>>,
        running: Mutex<Option<mpsc::Sender<Deadline>>>,
        dies_of: libc::c_int,
    }

    impl Command {
        fn start(dies_of: libc::c_int) -> (Command, mpsc::Receiver<Deadline>) {
            let (tx, stop) = mpsc::channel();
            let command = Command {
                sent: Mutex::new(Vec::new()),
                running: Mutex::new(Some(tx)),
                dies_of,
            };
            (command, stop)
        }

        fn signal(&self, sig: libc::c_int) -> bool {
            self.sent.lock().unwrap().push(sig);
            if sig == self.dies_of {
                self.running.lock().unwrap().take();
            }
            true
        }
    }

    #[test]
    fn a_refused_renewal_sends_sigterm_and_sigkill_after_the_grace() {
        let (command, stop) = Command::start(libc::SIGKILL);
        let mut held = Scripted(vec![Ok(()), Err(Lapse::NotNow("no answer".into())), Ok(())]);
        let signal = |sig| command.signal(sig);
        let lost = keep_renewed(&mut held, &stop, &signal, Duration::from_millis(20))
            .expect("lost after the script");
        assert_eq!(lost.why, "gone");
        assert!(lost.stopped_how.contains("SIGKILL"), "{}", lost.stopped_how);
        assert_eq!(
            *command.sent.lock().unwrap(),
            [libc::SIGTERM, libc::SIGKILL]
        );
    }

    #[test]
    fn a_command_that_ends_on_sigterm_gets_no_sigkill() {
        let (command, stop) = Command::start(libc::SIGTERM);
        let signal = |sig| command.signal(sig);
        let lost = keep_renewed(
            &mut Scripted(Vec::new()),
            &stop,
            &signal,
            Duration::from_secs(60),
        )
        .expect("lost at once");
        assert_eq!(lost.stopped_how, "the command was stopped with SIGTERM");
        assert_eq!(*command.sent.lock().unwrap(), [libc::SIGTERM]);
    }

    #[test]
    fn renewing_stops_when_the_command_ends() {
        let (tx, stop) = mpsc::channel::<Deadline>();
        drop(tx);
        let mut held = Scripted(vec![Ok(()); 1000]);
        assert!(keep_renewed(&mut held, &stop, &|_| true, Duration::ZERO).is_none());
    }

    #[test]
    fn a_deadline_passes_on_either_clock() {
        assert!(!Deadline::after(Duration::from_secs(60)).passed());
        assert!(Deadline::after(Duration::ZERO).passed());
        let suspended = Deadline {
            mono: Instant::now() + Duration::from_secs(60),
            wall: SystemTime::now() - Duration::from_secs(1),
        };
        assert!(suspended.passed(), "the wall clock says the lease ran out");
    }
}
