//! `weblock wait-grab NAME -- CMD`: wait in line, run CMD while holding the lock with its lease kept
//! renewed, release when CMD exits, and exit with CMD's code.
//!
//! Signals, as `just` runs recipes: the terminal's Ctrl-C goes to the whole foreground process group, so
//! CMD gets its SIGINT directly and weblock only waits for it to finish; SIGTERM, SIGHUP and SIGQUIT,
//! which are sent to weblock alone, are passed on to CMD. The lock is released after CMD ends. A signal
//! that comes while weblock still waits in line takes it out of the queue and ends it (128+N).
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::lock::{self, Ctx, Want};
use super::{Failure, exit};
use crate::signals::{self, Signals};

/// The lease of a lock held while a command runs, unless --ttl says otherwise: short, so that a
/// weblock killed with SIGKILL frees the lock within seconds.
pub const RUN_TTL: Duration = Duration::from_secs(10);

/// Where wait-grab is, for the signal thread.
enum Stage {
    Waiting,
    /// A signal came while waiting: the signal thread leaves the queue and ends the process.
    Stopping,
    Running(u32),
    Done,
}

pub fn wait_grab(ctx: Ctx, want: Want, command: Vec<OsString>) -> Result<u8, Failure> {
    let signals = Signals::block(&[
        signals::SIGINT,
        signals::SIGTERM,
        signals::SIGHUP,
        signals::SIGQUIT,
    ])
    .map_err(|e| Failure::new(exit::USAGE, format!("cannot set up signals: {e}")))?;
    let signals = Arc::new(signals);
    let ctx = Arc::new(ctx);
    let stage = Arc::new(Mutex::new(Stage::Waiting));
    let name = want.name.to_string();
    let token = uuid::Uuid::new_v4().to_string();
    {
        let (signals, ctx, stage) = (signals.clone(), ctx.clone(), stage.clone());
        let (name, token) = (name.clone(), token.clone());
        std::thread::spawn(move || on_signals(&signals, &ctx, &stage, &name, &token));
    }
    let acquired = lock::acquire_with(&ctx, &want, &token);
    if matches!(*lock_stage(&stage), Stage::Stopping) {
        // The signal thread is withdrawing (which may be what ended this wait) and will end the
        // process; nothing more to say or do here.
        loop {
            std::thread::park();
        }
    }
    let got = acquired?;
    if command.is_empty() {
        lock::remember(&ctx, &name, &got);
        if ctx.json {
            ctx.print_json(&got.answer);
        } else {
            println!("{}", got.token);
        }
        return Ok(exit::OK);
    }
    let mut child = {
        let mut st = lock_stage(&stage);
        let mut cmd = Command::new(&command[0]);
        cmd.args(&command[1..])
            .env("WEBLOCK_NAME", &name)
            .env("WEBLOCK_TOKEN", &got.token)
            .env("WEBLOCK_FENCE", got.fence.to_string());
        signals.unblock_in_child(&mut cmd);
        let spawned = cmd.spawn();
        match spawned {
            Ok(child) => {
                *st = Stage::Running(child.id());
                child
            }
            Err(e) => {
                drop(st);
                release_after(&ctx, &name, &got.token);
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
    let ttl = want.ttl.unwrap_or(RUN_TTL);
    let (stop, stopped) = mpsc::channel::<()>();
    let renewer = {
        let (ctx, name, token) = (ctx.clone(), name.clone(), got.token.clone());
        std::thread::spawn(move || keep_renewed(&ctx, &name, &token, ttl, &stopped))
    };
    let code = wait_child(&mut child);
    *lock_stage(&stage) = Stage::Done;
    drop(stop);
    let _ = renewer.join();
    release_after(&ctx, &name, &got.token);
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

/// Renews the lease every third of it until told to stop. A refused renewal means the lock was lost
/// (its lease ran out while this machine was stalled, or an administrator took it): that is said on
/// stderr; the command goes on.
fn keep_renewed(ctx: &Ctx, name: &str, token: &str, ttl: Duration, stop: &mpsc::Receiver<()>) {
    let every = (ttl / 3).max(Duration::from_millis(100));
    let mut lease_ends = Instant::now() + ttl;
    loop {
        match stop.recv_timeout(every) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        // Retrying past the lease's end is pointless: by then the lock is gone anyway.
        match lock::renew_once(ctx, name, token, Some(ttl), lease_ends) {
            Ok(answer) if answer.status == 200 => lease_ends = Instant::now() + ttl,
            Ok(answer) => {
                eprintln!(
                    "weblock: lost the lock on {name}: {}; the command is still running",
                    answer.reason()
                );
                return;
            }
            Err(failure) => {
                eprintln!(
                    "weblock: cannot renew the lease on {name}: {}",
                    failure.message
                );
                return;
            }
        }
    }
}

fn release_after(ctx: &Ctx, name: &str, token: &str) {
    if let Err(failure) = lock::release_token(ctx, name, token) {
        eprintln!(
            "weblock: could not release {name}: {}; its lease will free it",
            failure.message
        );
    }
}

fn lock_stage(stage: &Mutex<Stage>) -> std::sync::MutexGuard<'_, Stage> {
    stage.lock().unwrap_or_else(|p| p.into_inner())
}

fn on_signals(signals: &Signals, ctx: &Ctx, stage: &Mutex<Stage>, name: &str, token: &str) {
    loop {
        let sig = signals.wait();
        let mut st = lock_stage(stage);
        match *st {
            Stage::Waiting => {
                *st = Stage::Stopping;
                drop(st);
                lock::withdraw(ctx, name, token);
                eprintln!(
                    "weblock: {}: stopped waiting for {name}",
                    signals::name(sig)
                );
                std::process::exit(128 + sig);
            }
            Stage::Running(pid) if sig != signals::SIGINT => {
                // SAFETY: plain syscall on the child's pid, which is not reaped until `Done`.
                unsafe {
                    libc::kill(pid as libc::pid_t, sig);
                }
            }
            Stage::Running(_) | Stage::Stopping | Stage::Done => {}
        }
    }
}
