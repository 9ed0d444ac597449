//! `weblock wait-grab NAME -- CMD` and `weblock gate enter … -- CMD`: wait in line, run CMD while
//! holding (a lock, renewed; or gates, with a ticket), give it back when CMD exits, and exit with CMD's
//! code. Without CMD: say what was taken and keep it.
//!
//! Signals, as `just` runs recipes: the terminal's Ctrl-C goes to the whole foreground process group, so
//! CMD gets its SIGINT directly and weblock only waits for it to finish; SIGTERM, SIGHUP and SIGQUIT,
//! which are sent to weblock alone, are passed on to CMD. What is held is given back after CMD ends. A
//! signal that comes while weblock still waits in line takes it out of the line and ends it (128+N).
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::lock::{self, Ctx, Got, Want};
use super::{Failure, exit};
use crate::signals::{self, Signals};

/// The lease of a lock held while a command runs, unless --ttl says otherwise: short, so that a
/// weblock killed with SIGKILL frees the lock within seconds.
pub const RUN_TTL: Duration = Duration::from_secs(10);

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
    /// One renewal. `Err` says why it is lost (or cannot be renewed); renewing stops then.
    fn renew(&mut self) -> Result<(), String>;
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

pub fn run<C: Claim>(claim: C, command: Vec<OsString>) -> Result<u8, Failure> {
    let signals = Signals::block(&[
        signals::SIGINT,
        signals::SIGTERM,
        signals::SIGHUP,
        signals::SIGQUIT,
    ])
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
        let mut cmd = Command::new(&command[0]);
        cmd.args(&command[1..]).envs(held.env());
        signals.unblock_in_child(&mut cmd);
        match cmd.spawn() {
            Ok(child) => {
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
    let (stop, stopped) = mpsc::channel::<()>();
    let renewer = std::thread::spawn(move || {
        keep_renewed(&mut held, &stopped);
        held
    });
    let code = wait_child(&mut child);
    *lock_stage(&stage) = Stage::Done;
    drop(stop);
    if let Ok(held) = renewer.join() {
        held.release();
    }
    Ok(code)
}

/// The child's exit code, or 128+N when signal N ended it (as shells report it).
fn wait_child(child: &mut Child) -> u8 {
    match child.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => code as u8,
            (None, Some(sig)) => (128 + sig) as u8,
            (None, None) => 1,
        },
        Err(_) => 1,
    }
}

/// Renews until told to stop. A refused renewal means it was lost (a lease ran out while this machine
/// was stalled, or an administrator took it): that is said on stderr; the command goes on.
fn keep_renewed(held: &mut impl Held, stop: &mpsc::Receiver<()>) {
    let Some(every) = held.renew_every() else {
        let _ = stop.recv();
        return;
    };
    loop {
        match stop.recv_timeout(every) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        if let Err(why) = held.renew() {
            eprintln!("weblock: {why}; the command is still running");
            let _ = stop.recv();
            return;
        }
    }
}

fn lock_stage(stage: &Mutex<Stage>) -> MutexGuard<'_, Stage> {
    stage.lock().unwrap_or_else(|p| p.into_inner())
}

fn on_signals(signals: &Signals, claim: &impl Claim, stage: &Mutex<Stage>) {
    loop {
        let sig = signals.wait();
        let mut st = lock_stage(stage);
        match *st {
            Stage::Waiting => {
                *st = Stage::Stopping;
                drop(st);
                claim.withdraw();
                eprintln!(
                    "weblock: {}: stopped waiting for {}",
                    signals::name(sig),
                    claim.what()
                );
                std::process::exit(128 + sig);
            }
            Stage::Running(pid) if sig != signals::SIGINT => {
                // SAFETY: a plain syscall. The pid is the child's; it is reaped only just before the
                // stage becomes `Done`, under this same lock's protection against a stale `Running`.
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
        let got = lock::acquire_with(&self.ctx, &self.want, &self.token)?;
        let ttl = self.want.ttl.unwrap_or(RUN_TTL);
        Ok(LockHeld {
            ctx: self.ctx.clone(),
            name: self.want.name.clone(),
            lease_ends: Instant::now() + ttl,
            ttl,
            got,
        })
    }

    fn withdraw(&self) {
        lock::withdraw(&self.ctx, &self.want.name, &self.token);
    }

    fn what(&self) -> String {
        self.want.name.clone()
    }
}

pub struct LockHeld {
    ctx: Arc<Ctx>,
    name: String,
    got: Got,
    ttl: Duration,
    lease_ends: Instant,
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

    fn renew(&mut self) -> Result<(), String> {
        // Retrying past the lease's end is pointless: by then the lock is gone anyway.
        let name = &self.name;
        match lock::renew_once(
            &self.ctx,
            name,
            &self.got.token,
            Some(self.ttl),
            self.lease_ends,
        ) {
            Ok(answer) if answer.status == 200 => {
                self.lease_ends = Instant::now() + self.ttl;
                Ok(())
            }
            Ok(answer) => Err(format!("lost the lock on {name}: {}", answer.reason())),
            Err(failure) => Err(format!(
                "cannot renew the lease on {name}: {}",
                failure.message
            )),
        }
    }

    fn release(&self) {
        if let Err(failure) = lock::release_token(&self.ctx, &self.name, &self.got.token) {
            eprintln!(
                "weblock: could not release {}: {}; its lease will free it",
                self.name, failure.message
            );
        }
    }
}
