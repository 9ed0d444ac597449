//! A lock lost while its command runs (issue 10): `weblock wait-grab NAME -- CMD` that finds it no
//! longer holds the lock stops CMD (SIGTERM, then SIGKILL after `--kill-after`), says so in one line on
//! stderr, and exits 5 — whether the server refused a renewal, an administrator deleted the lock, or
//! no renewal was answered (here: 401s) before the lease ran out.

use crate::cli_helpers;
use crate::common;

use std::fs;
use std::time::Duration;

use cli_helpers::*;
use common::Server;

/// The exit code of a wait-grab whose lock was lost while its command ran.
const LOST: i32 = 5;

/// The pids of the processes whose parent is `parent` (from /proc/PID/stat).
fn children_of(parent: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
                    let after = &stat[stat.rfind(')')? + 1..];
                    after.split_whitespace().nth(1)?.parse::<i32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// Whether `pid` is gone or a zombie (ended, not yet reaped).
fn has_ended(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_none_or(|state| state == "Z" || state == "X"),
    }
}

/// The one child of `weblock`: its command.
fn command_of(weblock: &Proc) -> i32 {
    let mut found = Vec::new();
    wait_until(Duration::from_secs(10), "the command to start", || {
        found = children_of(weblock.pid());
        found.len() == 1
    });
    found[0]
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn a_wait_grab_frozen_past_its_lease_stops_its_command_when_thawed() {
    let server = Server::start();
    let sb = Sandbox::new("lost-frozen");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    let mut cmd = weblock_at(&server.url(""), &alice);
    cmd.args(["wait-grab", "db", "--ttl", "2s", "--holder", "alice"])
        .args(["--", "sleep", "30"]);
    let mut weblock = sb.spawn(cmd);
    server.wait_for_status("db", "alice to hold db", |s| s["holder"] == "alice");
    let sleep = command_of(&weblock);

    // Frozen (weblock alone, not its command) past its lease, while bob takes the lock.
    weblock.signal(libc::SIGSTOP);
    let mut grab = weblock_at(&server.url(""), &bob);
    grab.args(["grab", "db", "--wait", "15s", "--holder", "bob"]);
    sb.run(grab).expect_ok();
    assert!(
        !has_ended(sleep),
        "the command runs on while weblock is frozen"
    );

    weblock.signal(libc::SIGCONT);
    wait_until(Duration::from_secs(1), "the command to be stopped", || {
        has_ended(sleep)
    });
    let out = weblock.finish_within(FINISH);
    out.expect_code(LOST);
    out.one_error_line(&["lost the lock on db", "sleep", "SIGTERM"]);
    let s = server.status("db");
    assert_eq!(s["holder"], "bob", "bob keeps the lock: {s}");
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn a_lock_deleted_by_an_administrator_stops_a_command_that_ignores_sigterm_with_sigkill() {
    let sb = Sandbox::new("lost-deleted");
    let creds = sb.path("admin");
    fs::write(&creds, "admin:pw\n").expect("write the credentials");
    let server = Server::builder()
        .args(&["--admin-credentials", creds.to_str().unwrap_or_default()])
        .start();
    let alice = sb.user("alice");

    let mut cmd = weblock_at(&server.url(""), &alice);
    cmd.args(["wait-grab", "db", "--ttl", "1s", "--kill-after", "300ms"])
        .args([
            "--",
            "sh",
            "-c",
            "trap '' TERM; while :; do sleep 0.05; done",
        ]);
    let mut weblock = sb.spawn(cmd);
    server.wait_for_status("db", "db to be held", |s| s["in_use"] == true);
    let shell = command_of(&weblock);

    // admin:pw
    let r = server.request(
        "DELETE",
        "/resources/db",
        &[("Authorization", "Basic YWRtaW46cHc=")],
        b"",
    );
    assert_eq!(r.status, 204, "{r}");

    let out = weblock.finish_within(FINISH);
    out.expect_code(LOST);
    out.one_error_line(&["lost the lock on db", "`sh`", "SIGKILL 300ms later"]);
    assert!(has_ended(shell), "the command was killed");
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn renewals_refused_with_401_lose_the_lock_at_the_lease_end_and_stop_the_command() {
    let sb = Sandbox::new("lost-401");
    let (ours, theirs) = (sb.path("ours"), sb.path("theirs"));
    fs::write(&ours, "ours\n").expect("write a secrets file");
    fs::write(&theirs, "theirs\n").expect("write a secrets file");
    let first = Server::builder()
        .args(&["--auth-file", ours.to_str().unwrap_or_default()])
        .start();
    let second = Server::builder()
        .args(&["--auth-file", theirs.to_str().unwrap_or_default()])
        .start();
    let alice = sb.user("alice");

    let servers = format!("{},{}", first.url(""), second.url(""));
    let mut cmd = weblock_at(&servers, &alice);
    cmd.env("WEBLOCK_AUTH", "ours")
        .args(["wait-grab", "db", "--ttl", "1s", "--", "sleep", "30"]);
    let mut weblock = sb.spawn(cmd);
    let sleep = command_of(&weblock);

    // Its server dies; the next one refuses our secret, so no renewal is answered.
    drop(first);
    let out = weblock.finish_within(FINISH);
    out.expect_code(LOST);
    assert!(
        out.stderr.contains("HTTP 401")
            && out
                .stderr
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("weblock: lost the lock on db: its lease ran out")),
        "{out}"
    );
    assert!(has_ended(sleep), "the command was stopped: {out}");
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn a_command_that_ends_while_a_renewal_goes_unanswered_within_the_lease_keeps_its_exit_code() {
    let server = Server::start();
    let sb = Sandbox::new("lost-ended-first");
    let alice = sb.user("alice");

    // The command kills the server and ends (code 3) well within the lease (3s), while the renewal
    // due after 1s is retried, unanswered, until the lease's end: the lock was held for the whole
    // of the command, which is no lost lock (not exit 5).
    let script = format!("kill -KILL {}; sleep 1.5; exit 3", server.pid());
    let mut cmd = weblock_at(&server.url(""), &alice);
    cmd.args(["wait-grab", "db", "--ttl", "3s", "--", "sh", "-c", &script]);
    let out = sb.run(cmd);
    out.expect_code(3);
    assert!(!out.stderr.contains("lost the lock"), "{out}");
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn a_server_that_stops_answering_renewals_stops_the_command_when_the_lease_runs_out() {
    let server = Server::start();
    let sb = Sandbox::new("lost-unanswered");
    let alice = sb.user("alice");

    let mut cmd = weblock_at(&server.url(""), &alice);
    cmd.args(["wait-grab", "db", "--ttl", "2s", "--", "sleep", "30"]);
    let mut weblock = sb.spawn(cmd);
    server.wait_for_status("db", "db to be held", |s| s["in_use"] == true);
    let sleep = command_of(&weblock);

    // The server takes connections but answers nothing: the lease runs out at most 2s after its
    // last renewal, and the command must not run on past that (someone else may hold db then),
    // however long one unanswered renewal would wait.
    // SAFETY: kill(2) on the test's own server.
    unsafe {
        libc::kill(server.pid() as i32, libc::SIGSTOP);
    }
    let stopped = std::panic::catch_unwind(|| {
        wait_until(Duration::from_secs(4), "the command to be stopped", || {
            has_ended(sleep)
        })
    });
    // SAFETY: as above.
    unsafe {
        libc::kill(server.pid() as i32, libc::SIGCONT);
    }
    assert!(stopped.is_ok(), "the command ran on past the lease");
    let out = weblock.finish_within(FINISH);
    out.expect_code(LOST);
    out.one_error_line(&["lost the lock on db", "its lease ran out", "SIGTERM"]);
}
