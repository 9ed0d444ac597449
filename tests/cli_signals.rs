//! Issue #17: signals as careful as flock(1). weblock dies of the signal that ended its command (so a
//! shell script stops at Ctrl-C instead of going on to its next line), a SIGINT sent to weblock alone
//! reaches the command, a wait stopped by a signal says so, and the command never outlives a weblock
//! killed with SIGKILL. Real binary, real server.

use crate::cli_helpers;
use crate::common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cli_helpers::*;
use common::Server;

fn weblock(server: &Server, state: &Path, args: &[&str]) -> Command {
    let mut cmd = weblock_at(&server.url(""), state);
    cmd.args(args);
    cmd
}

/// A command that writes its pid to `file` and becomes `sleep 30` (same pid).
fn sleeper(file: &Path) -> String {
    format!("echo $$ > '{}'; exec sleep 30", file.display())
}

/// The pid written by `sleeper`, once it is there.
fn pid_in(file: &Path) -> i32 {
    let mut pid = None;
    wait_until(Duration::from_secs(10), "the command to start", || {
        pid = fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        pid.is_some()
    });
    pid.unwrap_or_default()
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet: it runs no more).
fn gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn ctrl_c_stops_the_shell_script_that_runs_weblock() {
    let server = Server::start();
    let sb = Sandbox::new("sig-script");
    let alice = sb.user("alice");
    let pidfile = sb.path("pid");

    // `weblock wait-grab db -- ./migrate; ./deploy`: a Ctrl-C during the migration must not deploy.
    let script = format!(
        "'{BIN}' wait-grab db --holder alice -- sh -c \"{}\"; echo next",
        sleeper(&pidfile)
    );
    let mut cmd = Command::new("bash");
    user_env(&mut cmd, &server.url(""), &alice).args(["-c", &script]);
    let mut shell = sb.spawn(cmd);
    let sleep_pid = pid_in(&pidfile);
    server.wait_for_status("db", "db to be held by alice", |s| s["holder"] == "alice");

    // The terminal's Ctrl-C: SIGINT to the whole foreground process group (the shell leads its own).
    shell.signal_group(libc::SIGINT);
    let out = shell.finish_within(Duration::from_secs(10));
    assert!(!out.stdout.contains("next"), "the script went on: {out}");
    out.expect_signal(libc::SIGINT);
    wait_until(Duration::from_secs(5), "the command to be gone", || {
        gone(sleep_pid)
    });
    assert_eq!(server.status("db")["in_use"], false, "released");
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn sigint_sent_to_weblock_alone_reaches_the_command() {
    let server = Server::start();
    let sb = Sandbox::new("sig-int-alone");
    let alice = sb.user("alice");
    let pidfile = sb.path("pid");

    let mut wg = sb.spawn(weblock(
        &server,
        &alice,
        &["wait-grab", "db", "--", "sh", "-c", &sleeper(&pidfile)],
    ));
    let sleep_pid = pid_in(&pidfile);
    wg.signal(libc::SIGINT);
    wg.finish_within(Duration::from_secs(10))
        .expect_signal(libc::SIGINT);
    assert!(gone(sleep_pid), "the command got the SIGINT");
    assert_eq!(server.status("db")["in_use"], false, "released");
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn a_command_that_catches_sigint_and_exits_leaves_weblock_exiting_with_its_code() {
    let server = Server::start();
    let sb = Sandbox::new("sig-caught");
    let alice = sb.user("alice");
    let ready = sb.path("ready");

    // As bash does with a child that handles SIGINT: its exit code is what counts.
    let script = format!(
        "trap 'exit 3' INT; echo > '{}'; while :; do sleep 0.05; done",
        ready.display()
    );
    let mut wg = sb.spawn(weblock(
        &server,
        &alice,
        &["wait-grab", "db", "--", "sh", "-c", &script],
    ));
    wait_until(Duration::from_secs(10), "the command to start", || {
        ready.exists()
    });
    wg.signal(libc::SIGINT);
    wg.finish_within(Duration::from_secs(10)).expect_code(3);
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn grab_wait_and_wait_stopped_by_a_signal_say_so_leave_the_line_and_die_of_it() {
    let server = Server::start();
    let sb = Sandbox::new("sig-waits");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    sb.run(weblock(
        &server,
        &alice,
        &["grab", "db", "--holder", "alice"],
    ))
    .expect_ok();

    let mut grab = sb.spawn(weblock(&server, &bob, &["grab", "db", "--wait", "30s"]));
    server.wait_for_waiting("db", 1);
    grab.signal(libc::SIGINT);
    let out = grab.finish_within(Duration::from_secs(10));
    out.expect_signal(libc::SIGINT)
        .one_error_line(&["SIGINT", "stopped waiting for db"]);
    assert_eq!(out.stdout, "", "{out}");
    server.wait_for_waiting("db", 0);

    for (args, words) in [
        (&["wait", "db"][..], "stopped waiting for db to be free"),
        (
            &["wait", "shop:live"],
            "stopped waiting for shop:live to open",
        ),
    ] {
        if args[1] == "shop:live" {
            sb.run(weblock(
                &server,
                &alice,
                &["gate", "create", "shop", "--group", "g", "--env", "live"],
            ))
            .expect_ok();
            sb.run(weblock(&server, &alice, &["gate", "close", "shop", "live"]))
                .expect_ok();
        }
        let mut wait = sb.spawn(weblock(&server, &bob, args));
        wait_until(Duration::from_secs(10), "the wait to be under way", || {
            wait.has_socket()
        });
        wait.signal(libc::SIGTERM);
        wait.finish_within(Duration::from_secs(10))
            .expect_signal(libc::SIGTERM)
            .one_error_line(&["SIGTERM", words]);
    }
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn the_command_never_outlives_a_weblock_killed_with_sigkill() {
    let server = Server::start();
    let sb = Sandbox::new("sig-kill9");
    let alice = sb.user("alice");
    let pidfile = sb.path("pid");

    let mut wg = sb.spawn(weblock(
        &server,
        &alice,
        &[
            "wait-grab",
            "db",
            "--ttl",
            "2s",
            "--",
            "sh",
            "-c",
            &sleeper(&pidfile),
        ],
    ));
    let sleep_pid = pid_in(&pidfile);
    assert!(!gone(sleep_pid));
    // SIGKILL to weblock alone (not its group): its lease will free the lock, so its command must end.
    wg.signal(libc::SIGKILL);
    wg.finish_within(Duration::from_secs(5))
        .expect_signal(libc::SIGKILL);
    wait_until(
        Duration::from_secs(5),
        "the orphaned command to be killed",
        || gone(sleep_pid),
    );
}
