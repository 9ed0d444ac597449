//! A server paused past its clients' leases (SIGSTOP, as a VM frozen by its host or a stop-the-world
//! pause would) must not hand out, when it resumes, grants it made before the pause: their leases ran
//! out meanwhile by its own clock, and the next waiter is about to be granted the lock. Six CLI
//! workers loop `wait-grab L --ttl 2s -- section` while the server is frozen for longer than the
//! lease, again and again; no two sections may overlap, fences grow in the order sections begin, and
//! every worker ends 0.

use crate::cli_helpers;
use crate::common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use cli_helpers::*;
use common::{Server, etcd};

const WORKERS: usize = 6;
/// How long each pause lasts: past the workers' 2 s leases.
const FROZEN: Duration = Duration::from_millis(2_600);
/// Sections the workers must complete between two pauses (the server is working again).
const BETWEEN: usize = 3;

/// How many pauses: `default`, or `WEBLOCK_PAUSES` from the environment (for longer runs by hand).
fn pauses(default: usize) -> usize {
    std::env::var("WEBLOCK_PAUSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Workers that loop `wait-grab L --ttl 2s -- section` until the file `stop` exists, each section
/// logging `enter FENCE` and `leave FENCE`. Worker `i` talks to `urls[i % urls.len()]`.
fn looping_workers(sb: &Sandbox, urls: &[String], log: &Path) -> Vec<Proc> {
    let stop = sb.path("stop");
    let section = "echo \"enter $WEBLOCK_FENCE\" >> \"$LOG\"; sleep 0.05; \
                   echo \"leave $WEBLOCK_FENCE\" >> \"$LOG\"";
    let script = format!(
        "while [ ! -e \"{}\" ]; do \
           \"$WEBLOCK_BIN\" wait-grab L --ttl 2s --timeout 120s -- sh -c '{section}' || exit $?; \
         done",
        stop.display()
    );
    spawn_scripts(sb, urls, WORKERS, &script, log)
}

/// A worker ends 0; what it may say on stderr is only what a pause explains: a release that found the
/// lease already over (the server was frozen past it after the section ended) or the server silent,
/// the server silent for a while, or a grant that came with too little of its lease left to start on
/// (or ended before it could be written).
fn expect_worker_ok(worker: &mut Proc, within: Duration) {
    let outcome = worker.finish_within(within);
    outcome.expect_code(0);
    for line in outcome.stderr.lines() {
        assert!(
            line.starts_with("weblock: L was no longer held by this command")
                || line.starts_with("weblock: could not release L")
                || line.starts_with("weblock: no answer from the weblock server")
                || line.contains("could not be renewed")
                || line.contains("ask again"),
            "unexpected stderr from a worker: {line:?} in {outcome}"
        );
    }
}

fn sections_so_far(log: &Path) -> usize {
    fs::read_to_string(log)
        .map(|t| t.lines().filter(|l| l.starts_with("leave")).count())
        .unwrap_or(0)
}

/// Freezes `pid` for `FROZEN`, `pauses` times, letting the workers complete a few sections between
/// two pauses; then stops the workers and checks the log.
fn pause_and_check(sb: &Sandbox, pid: i32, pauses: usize, log: &Path, mut workers: Vec<Proc>) {
    for _ in 0..pauses {
        let before = sections_so_far(log);
        wait_until(
            Duration::from_secs(60),
            "the workers to make progress",
            || sections_so_far(log) >= before + BETWEEN,
        );
        // SAFETY: plain syscalls on a pid this test started.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        // The pause itself is the scenario: the server is frozen this long.
        std::thread::sleep(FROZEN);
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGCONT) };
    }
    let before = sections_so_far(log);
    wait_until(Duration::from_secs(60), "the workers to go on", || {
        sections_so_far(log) >= before + BETWEEN
    });
    fs::write(sb.path("stop"), "").expect("the stop file");
    for w in &mut workers {
        expect_worker_ok(w, Duration::from_secs(60));
    }
    let sections = sections_so_far(log);
    assert_sections(log, sections);
}

#[test]
fn a_durable_server_paused_past_the_leases_never_hands_out_a_stale_grant() {
    let sb = Sandbox::new("pause-state");
    let state = sb.path("state");
    let server = Server::builder()
        .args(&["--state", state.to_str().expect("a UTF-8 path")])
        .start();
    let log = sb.path("log");
    let workers = looping_workers(&sb, &[server.url("")], &log);
    pause_and_check(&sb, server.pid() as i32, pauses(8), &log, workers);
}

#[test]
fn an_in_memory_server_paused_past_the_leases_never_hands_out_a_stale_grant() {
    let sb = Sandbox::new("pause-memory");
    let server = Server::start();
    let log = sb.path("log");
    let workers = looping_workers(&sb, &[server.url("")], &log);
    pause_and_check(&sb, server.pid() as i32, pauses(4), &log, workers);
}

/// Three servers on one etcd; one of them is frozen past its liveness lease (5 s) while the others
/// go on granting. On resume it must catch up with the log before it delivers anything it applied
/// late, and deliver nothing the log has ended since.
#[test]
fn a_replicated_server_paused_past_its_liveness_lease_delivers_no_stale_grant() {
    if !etcd::available(
        "a_replicated_server_paused_past_its_liveness_lease_delivers_no_stale_grant",
    ) {
        return;
    }
    let store = etcd::fresh_store();
    let servers: Vec<Server> = (0..3)
        .map(|_| Server::builder().args(&["--store", &store]).start())
        .collect();
    let sb = Sandbox::new("pause-etcd");
    let log = sb.path("log");
    let urls: Vec<String> = servers.iter().map(|s| s.url("")).collect();
    let workers = looping_workers(&sb, &urls, &log);
    let frozen = servers[0].pid() as i32;
    let mut left = workers;
    // Past the liveness lease: the others judge it dead meanwhile.
    for _ in 0..pauses(2) {
        let before = sections_so_far(&log);
        wait_until(
            Duration::from_secs(60),
            "the workers to make progress",
            || sections_so_far(&log) >= before + BETWEEN,
        );
        // SAFETY: plain syscalls on a pid this test started.
        unsafe { libc::kill(frozen, libc::SIGSTOP) };
        std::thread::sleep(Duration::from_secs(7));
        // SAFETY: as above.
        unsafe { libc::kill(frozen, libc::SIGCONT) };
    }
    let before = sections_so_far(&log);
    wait_until(Duration::from_secs(60), "the workers to go on", || {
        sections_so_far(&log) >= before + BETWEEN
    });
    fs::write(sb.path("stop"), "").expect("the stop file");
    for w in &mut left {
        expect_worker_ok(w, Duration::from_secs(90));
    }
    assert_sections(&log, sections_so_far(&log));
}
