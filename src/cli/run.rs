//! `weblock wait-grab NAME -- CMD` and `weblock gate enter … -- CMD`: wait in line, run CMD while
//! holding (a lock, renewed; or gates, with a ticket), give it back when CMD exits, and exit with CMD's
//! code. Without CMD: say what was taken and keep it.
//!
//! Signals, as `just` runs recipes: the terminal's Ctrl-C goes to the whole foreground process group, so
//! CMD gets its SIGINT directly and weblock only waits for it to finish; SIGINT, SIGTERM, SIGHUP and
//! SIGQUIT sent to weblock by a process (`kill`) are passed on to CMD. What is held is given back after
//! CMD ends; if one of those signals ended CMD, weblock then dies of it too (so `weblock … -- ./migrate;
//! ./deploy` stops at Ctrl-C, as it would without weblock). A signal that comes while weblock still
//! waits in line takes it out of the line, says so, and ends weblock by that signal.
//!
//! CMD never outlives weblock (see `tether`).
//!
//! A lock found lost while CMD runs (see `renewal`) stops CMD, and weblock exits with `exit::LOST`.
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::lock::{self, Ctx, Got, Want};
use super::renewal::{self, Deadline, Lapse};
use super::spawn::{self, Started};
use super::{Failure, exit, tether};
use crate::signals::{self, Signals};

/// The lease of a lock held while a command runs, unless --ttl says otherwise: short, so that a
/// weblock killed with SIGKILL frees the lock within seconds.
pub const RUN_TTL: Duration = Duration::from_secs(10);

/// How long a command has, after SIGTERM, to end by itself once its lock is lost (`--kill-after`).
pub const KILL_AFTER: Duration = Duration::from_secs(10);

/// How long weblock looks for a command's end before it starts the renewer (at most a quarter of the
/// renewal interval): a command that ends this soon never needed one.
const QUICK_LOOK: Duration = Duration::from_millis(50);

/// Something to wait in line for.
pub trait Claim: Send + Sync + 'static {
    type Held: Held;
    /// Waits in line until it is ours. A signal meanwhile calls `withdraw` from another thread.
    fn acquire(&self) -> Result<Self::Held, Failure>;
    /// Leaves the line, or gives back what was granted just now. Best effort.
    fn withdraw(&self);
    /// What is waited for, for messages.
    fn what(&self) -> String;
}

/// Something held while a command runs.
pub trait Held: Send + 'static {
    /// Without a command: say what was taken, and keep it after weblock exits.
    fn keep(&self);
    /// The command's environment.
    fn env(&self) -> Vec<(&'static str, String)>;
    /// How often to renew it while the command runs; `None` if it needs no renewing.
    fn renew_every(&self) -> Option<Duration>;
    /// One renewal; `Err` says whether it is lost, or just not renewed this time, and why.
    fn renew(&mut self) -> Result<(), Lapse>;
    /// Gives it back.
    fn release(&self);
}

/// Where a run is, for the signal thread.
enum Stage {
    Waiting,
    /// A signal came while waiting: the signal thread leaves the line and ends the process.
    Stopping,
    Running(u32),
    Done,
}

/// Waits for `claim`, then runs `command` while holding it (see the module's comment). A lock lost
/// meanwhile stops the command: SIGTERM, then SIGKILL after `kill_after`.
pub fn run<C: Claim>(
    claim: C,
    command: Vec<OsString>,
    kill_after: Duration,
) -> Result<u8, Failure> {
    let signals = Signals::block(&STOP_SIGNALS)
        .map_err(|e| Failure::new(exit::USAGE, format!("cannot set up signals: {e}")))?;
    let signals = Arc::new(signals);
    let claim = Arc::new(claim);
    let stage = Arc::new(Mutex::new(Stage::Waiting));
    {
        let (signals, claim, stage) = (signals.clone(), claim.clone(), stage.clone());
        std::thread::spawn(move || on_signals(&signals, &*claim, &stage));
    }
    let acquired = claim.acquire();
    if matches!(*lock_stage(&stage), Stage::Stopping) {
        // The signal thread is withdrawing (which may be what ended this wait) and will end the
        // process; nothing more to say or do here.
        loop {
            std::thread::park();
        }
    }
    let mut held = acquired?;
    if command.is_empty() {
        held.keep();
        return Ok(exit::OK);
    }
    let mut child = {
        let mut st = lock_stage(&stage);
        if matches!(*st, Stage::Stopping) {
            // A signal came just now: the signal thread is giving back what we got, and ends the
            // process; CMD must not start without it.
            drop(st);
            loop {
                std::thread::park();
            }
        }
        // This is the main thread (see `tether`): the command dies with weblock.
        match spawn::spawn(&command, &held.env(), &signals) {
            Ok(child) => {
                super::json_out::command_ran();
                *st = Stage::Running(child.id());
                child
            }
            Err(e) => {
                drop(st);
                held.release();
                let code = if e.kind() == std::io::ErrorKind::NotFound {
                    127
                } else {
                    126
                };
                return Err(Failure::new(
                    code,
                    format!("cannot run {}: {e}", command[0].to_string_lossy()),
                ));
            }
        }
    };
    let tether = tether::watch(child.id());
    // A short command (`-- true`) needs no renewer thread: look a moment for its end first. What
    // needs no renewing (gates) needs no thread either.
    let quick = held
        .renew_every()
        .is_none_or(|every| tether::ends_within(child.id(), (every / 4).min(QUICK_LOOK)));
    // The renewer holds `stopped` until the command ends (then `stop` says when, and is dropped).
    let (stop, stopped) = mpsc::channel::<Deadline>();
    let renewer = if quick {
        Err(held)
    } else {
        let stage = stage.clone();
        Ok(std::thread::spawn(move || {
            let signal = |sig| signal_command(&stage, sig);
            let lost = renewal::keep_renewed(&mut held, &stopped, &signal, kill_after);
            (held, lost)
        }))
    };
    let (code, killed_by) = wait_child(&mut child, &stage);
    tether.ended();
    let _ = stop.send(Deadline::after(Duration::ZERO));
    drop(stop);
    let renewed = match renewer {
        Err(held) => Ok((held, None)),
        Ok(renewer) => renewer.join(),
    };
    match renewed {
        Ok((_, Some(lost))) => Err(Failure::new(
            exit::LOST,
            format!(
                "{} while `{}` ran; {}",
                lost.why,
                command[0].to_string_lossy(),
                lost.stopped_how
            ),
        )),
        Ok((held, None)) => {
            held.release();
            die_with(killed_by);
            Ok(code)
        }
        Err(_) => {
            die_with(killed_by);
            Ok(code)
        }
    }
}

/// A command ended by SIGINT, SIGTERM, SIGHUP or SIGQUIT: weblock, its lock given back, dies of the
/// same signal, so that a shell or `make` running it stops as it would have without weblock (bash
/// goes on to a script's next line when its child merely exits 130).
fn die_with(killed_by: Option<libc::c_int>) {
    if let Some(sig) = killed_by.filter(|s| STOP_SIGNALS.contains(s)) {
        signals::die_by(sig);
    }
}

/// The signals weblock takes itself, and dies of when they end the command.
const STOP_SIGNALS: [libc::c_int; 4] = [
    signals::SIGINT,
    signals::SIGTERM,
    signals::SIGHUP,
    signals::SIGQUIT,
];

/// For the commands that only wait (`wait`): a stop signal clears the waiting line, says what it
/// stopped, and ends weblock by that signal. Call before starting any thread.
pub fn stop_on_signals(what: String) -> Result<(), Failure> {
    let signals = Signals::block(&STOP_SIGNALS)
        .map_err(|e| Failure::new(exit::USAGE, format!("cannot set up signals: {e}")))?;
    std::thread::spawn(move || {
        let sig = signals.wait();
        super::progress::clear_for_good();
        warn!(
            "weblock: {}: stopped waiting for {what}",
            signals::name(sig)
        );
        signals::die_by(sig);
    });
    Ok(())
}

/// Sends `sig` to the command while it runs; false once it has ended.
fn signal_command(stage: &Mutex<Stage>, sig: libc::c_int) -> bool {
    match *lock_stage(stage) {
        Stage::Running(pid) => {
            // SAFETY: a plain syscall. The child is not reaped while the stage is `Running` (see
            // `wait_child`), so the pid is still the command's.
            unsafe {
                libc::kill(pid as libc::pid_t, sig);
            }
            true
        }
        _ => false,
    }
}

/// Waits for the child to end and returns its exit code, or 128+N when signal N ended it (as shells
/// report it), and that signal. The stage becomes `Done` before the child is reaped, so nobody
/// signals a reused pid.
fn wait_child(child: &mut Started, stage: &Mutex<Stage>) -> (u8, Option<libc::c_int>) {
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waitid on our own child with a valid out-pointer; WNOWAIT leaves it unreaped.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                child.id() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break;
        }
    }
    *lock_stage(stage) = Stage::Done;
    match child.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => (code as u8, None),
            (None, Some(sig)) => ((128 + sig) as u8, Some(sig)),
            (None, None) => (1, None),
        },
        Err(_) => (1, None),
    }
}

fn lock_stage(stage: &Mutex<Stage>) -> MutexGuard<'_, Stage> {
    stage.lock().unwrap_or_else(|p| p.into_inner())
}

fn on_signals(signals: &Signals, claim: &impl Claim, stage: &Mutex<Stage>) {
    loop {
        let (sig, from_terminal) = signals.wait_origin();
        let mut st = lock_stage(stage);
        match *st {
            Stage::Waiting => {
                *st = Stage::Stopping;
                drop(st);
                claim.withdraw();
                super::progress::clear_for_good();
                warn!(
                    "weblock: {}: stopped waiting for {}",
                    signals::name(sig),
                    claim.what()
                );
                signals::die_by(sig);
            }
            // A terminal's Ctrl-C, Ctrl-\ or hang-up went to the whole foreground group, the
            // command included; what a process sent to weblock alone is passed on.
            Stage::Running(pid) if !from_terminal => {
                // SAFETY: a plain syscall. The pid is the child's: it is reaped only after the stage
                // became `Done` under this lock (see `wait_child`).
                unsafe {
                    libc::kill(pid as libc::pid_t, sig);
                }
            }
            Stage::Running(_) | Stage::Stopping | Stage::Done => {}
        }
    }
}

/// A lock, waited for in the server's queue.
pub struct LockClaim {
    ctx: Arc<Ctx>,
    want: Want,
    token: String,
}

impl LockClaim {
    pub fn new(ctx: Ctx, want: Want) -> LockClaim {
        LockClaim {
            ctx: Arc::new(ctx),
            want,
            token: uuid::Uuid::new_v4().to_string(),
        }
    }
}

impl Claim for LockClaim {
    type Held = LockHeld;

    fn acquire(&self) -> Result<LockHeld, Failure> {
        let ttl = self.want.ttl.unwrap_or(RUN_TTL);
        let started = Instant::now();
        // `--timeout` bounds the whole wait: a stale grant's renewal, and any wait after it.
        let deadline = match self.want.waiting {
            lock::Waiting::For(total) => Some(started + total),
            lock::Waiting::No | lock::Waiting::Forever => None,
        };
        let mut want = self.want.clone();
        loop {
            let got = lock::acquire_with(&self.ctx, &want, &self.token)?;
            // The lease as the server counted it when it wrote the grant: a grant that waited in a
            // paused server, or on the way, has less of it than `ttl`.
            let left = lease_left(&got.answer, ttl);
            let mut held = LockHeld {
                ctx: self.ctx.clone(),
                name: self.want.name.clone(),
                lease: Deadline::after(left),
                ttl,
                got,
            };
            // Without a lease (a plain grab) there is nothing to run out.
            if self.want.ttl.is_none() || !needs_fresh_lease(left, ttl) {
                return Ok(held);
            }
            // Too little left to start CMD on: renew first. A refusal means the grant was stale
            // (another holder has the lock by now): wait again, never run CMD on it.
            let why = match held.renew_until(deadline) {
                Ok(()) => return Ok(held),
                Err(Lapse::Lost(why) | Lapse::NotNow(why) | Lapse::RanOut(why, _)) => why,
            };
            let grant = format!(
                "the grant of {} came with {} of its {} lease left and could not be renewed ({why})",
                self.want.name,
                crate::duration::format(left),
                crate::duration::format(ttl)
            );
            if let Some(deadline) = deadline {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    // Out of time: give back what that grant may still hold, as a wait that times
                    // out does.
                    self.withdraw();
                    return Err(Failure::new(
                        exit::TIMED_OUT,
                        format!(
                            "timed out after {} waiting for {}: {grant}",
                            crate::duration::format(started.elapsed()),
                            self.want.name
                        ),
                    ));
                }
                want.waiting = lock::Waiting::For(remaining);
            }
            warn!("weblock: {grant}; waiting again");
        }
    }

    fn withdraw(&self) {
        lock::withdraw(&self.ctx, &self.want.name, &self.token);
    }

    fn what(&self) -> String {
        self.want.name.clone()
    }
}

/// What is left of a grant's lease, by the server's count when it wrote the grant (`ttl_left`; a
/// server that does not say gives the whole `ttl`).
fn lease_left(answer: &super::client::Answer, ttl: Duration) -> Duration {
    answer
        .f64("ttl_left")
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(ttl, |s| Duration::from_secs_f64(s.min(ttl.as_secs_f64())))
}

/// Whether a grant's lease is too far gone to start CMD on without renewing it first: a third of it
/// spent (the renewer's own rhythm: it renews every third), or less than a second left. The lease is
/// measured on the server's clock; the client adds only its own elapsed time to what it was told.
fn needs_fresh_lease(left: Duration, ttl: Duration) -> bool {
    left < MIN_LEASE_LEFT || left.as_secs_f64() < ttl.as_secs_f64() * 2.0 / 3.0
}

/// How long the renewer retries a failing renewal before it looks whether the command has ended.
const RENEW_STEP: Duration = Duration::from_secs(1);

/// Below this much lease, CMD is not started before a renewal.
const MIN_LEASE_LEFT: Duration = Duration::from_secs(1);

pub struct LockHeld {
    ctx: Arc<Ctx>,
    name: String,
    got: Got,
    ttl: Duration,
    /// When the lease ends unless renewed (by this process's clocks).
    lease: Deadline,
}

impl LockHeld {
    /// When the lease ends, for retries: now if it has ended (retrying past the lease's end is
    /// pointless: by then the lock is gone anyway).
    fn lease_end(&self) -> Instant {
        if self.lease.passed() {
            Instant::now()
        } else {
            self.lease.instant()
        }
    }

    /// One renewal, retried until the lease ends or `cap`, whichever is first; no try outlasts
    /// that by more than a moment.
    fn renew_until(&mut self, cap: Option<Instant>) -> Result<(), Lapse> {
        let end = self.lease_end();
        let deadline = cap.map_or(end, |cap| end.min(cap));
        self.renew_within(deadline, deadline)
    }

    /// One renewal: no try outlasts `deadline` by more than a moment, and none starts after
    /// `retry_until`.
    fn renew_within(&mut self, deadline: Instant, retry_until: Instant) -> Result<(), Lapse> {
        let name = &self.name;
        let renewed = Deadline::after(self.ttl);
        let why = match lock::renew_try(
            &self.ctx,
            name,
            &self.got.token,
            Some(self.ttl),
            deadline,
            retry_until,
        ) {
            Ok(answer) if answer.status == 200 => {
                self.lease = renewed;
                return Ok(());
            }
            Ok(answer) if answer.status == 409 => {
                return Err(Lapse::Lost(format!(
                    "lost the lock on {name}: {}",
                    answer.reason()
                )));
            }
            Ok(answer) => lock::unexpected(&answer).message,
            Err(failure) => failure.message,
        };
        if self.lease.passed() {
            Err(Lapse::RanOut(
                format!(
                    "lost the lock on {name}: its lease ran out with no renewal answered ({why})"
                ),
                self.lease,
            ))
        } else {
            Err(Lapse::NotNow(format!(
                "cannot renew the lease on {name}: {why}"
            )))
        }
    }
}

impl Held for LockHeld {
    fn keep(&self) {
        lock::remember(&self.ctx, &self.name, &self.got);
        if self.ctx.json {
            self.ctx.print_json(&self.got.answer);
        } else {
            println!("{}", self.got.token);
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("WEBLOCK_NAME", self.name.clone()),
            ("WEBLOCK_TOKEN", self.got.token.clone()),
            ("WEBLOCK_FENCE", self.got.fence.to_string()),
        ]
    }

    fn renew_every(&self) -> Option<Duration> {
        Some((self.ttl / 3).max(Duration::from_millis(100)))
    }

    fn renew(&mut self) -> Result<(), Lapse> {
        // Failed tries are retried for a step at a time, not until the lease's end: between two
        // steps the renewer sees whether the command has ended, and weblock is not kept waiting
        // for a renewal nobody needs any more (a second Ctrl-C ignored meanwhile).
        let end = self.lease_end();
        self.renew_within(end, (Instant::now() + RENEW_STEP).min(end))
    }

    fn release(&self) {
        match lock::release_token(&self.ctx, &self.name, &self.got.token) {
            Ok(()) => {}
            // Not ours any more: its lease ran out while the server could not be reached (or was
            // paused), or an administrator ended it. Nothing is left to free.
            Err(failure) if failure.code == exit::NO => warn!(
                "weblock: {} was no longer held by this command when it ended ({}); nothing to release",
                self.name, failure.message
            ),
            Err(failure) => warn!(
                "weblock: could not release {}: {}; its lease will free it",
                self.name, failure.message
            ),
        }
    }
}
