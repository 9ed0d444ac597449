//! Black-box tests of the `weblock` command-line client against a real `weblock serve`: every command
//! and exit code (README, "The command line"), the token memory across processes, wait-grab's command,
//! signals and leases, a server that comes up late, and many CLI workers taking turns on one lock.
//!
//! Every CLI process gets its own state directory (`XDG_STATE_HOME` and `HOME`) in a sandbox removed at
//! the end, and `WEBLOCK_URL` set to the test's server. Conditions are polled with deadlines; every child
//! is killed and reaped on drop.

use crate::cli_helpers;
use crate::common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use cli_helpers::*;
use common::Server;
use serde_json::Value;

/// `weblock` aimed at the fixture's server, as the user whose state directory is `state`.
fn weblock(server: &Server, state: &Path) -> Command {
    weblock_at(&server.url(""), state)
}

/// `weblock ARGS...` run to its end.
fn run(sb: &Sandbox, server: &Server, state: &Path, args: &[&str]) -> Outcome {
    let mut cmd = weblock(server, state);
    cmd.args(args);
    sb.run(cmd)
}

/// `weblock ARGS...` started, not waited for.
fn spawn(sb: &Sandbox, server: &Server, state: &Path, args: &[&str]) -> Proc {
    let mut cmd = weblock(server, state);
    cmd.args(args);
    sb.spawn(cmd)
}

fn waiting(s: &Value) -> u64 {
    s["waiting"].as_u64().unwrap_or(0)
}

fn wait_for_waiters(server: &Server, name: &str, n: u64) -> Value {
    server.wait_for_status(name, &format!("{n} waiting for {name}"), |s| {
        s["in_use"] == true && waiting(s) == n
    })
}

fn wait_until_free(server: &Server, name: &str) -> Value {
    server.wait_for_status(name, &format!("{name} to be free"), |s| {
        s["in_use"] == false
    })
}

fn wait_until_held_by(server: &Server, name: &str, holder: &str) -> Value {
    server.wait_for_status(name, &format!("{name} to be held by {holder}"), |s| {
        s["in_use"] == true && s["holder"] == holder
    })
}

fn assert_free(server: &Server, name: &str) {
    let s = server.status(name);
    assert_eq!(s["in_use"], false, "{name} should be free: {s}");
}

fn assert_held_by(server: &Server, name: &str, holder: &str) -> Value {
    let s = server.status(name);
    assert_eq!(s["in_use"], true, "{name} should be held: {s}");
    assert_eq!(
        s["holder"], holder,
        "{name} should be held by {holder}: {s}"
    );
    s
}

// ---------------------------------------------------------------------------------------------------
// grab
// ---------------------------------------------------------------------------------------------------

#[test]
fn grab_prints_a_token_and_the_lock_stays_held_after_exit() {
    let server = Server::start();
    let sb = Sandbox::new("grab");
    let alice = sb.user("alice");

    let out = run(&sb, &server, &alice, &["grab", "db", "--holder", "alice"]);
    out.expect_ok();
    out.token();
    let s = assert_held_by(&server, "db", "alice");
    assert!(s.get("ttl").is_none(), "no --ttl, no lease: {s}");

    // A lease with --ttl.
    let out = run(
        &sb,
        &server,
        &alice,
        &["grab", "lease", "--ttl", "30s", "--holder", "alice"],
    );
    out.expect_ok();
    out.token();
    let s = assert_held_by(&server, "lease", "alice");
    assert_eq!(
        s["ttl"].as_f64(),
        Some(30.0),
        "--ttl 30s is a 30 s lease: {s}"
    );

    // The default holder names the user, the host and the process.
    let out = run(&sb, &server, &alice, &["grab", "plain"]);
    out.expect_ok();
    let s = server.status("plain");
    let holder = s["holder"].as_str().unwrap_or_default();
    assert!(
        holder.contains('@') && holder.contains(" pid "),
        "default holder is user@host pid N: {s}"
    );
}

#[test]
fn grab_of_a_busy_lock_exits_1_naming_the_holder() {
    let server = Server::start();
    let sb = Sandbox::new("busy");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    run(
        &sb,
        &server,
        &alice,
        &["grab", "db", "--holder", "alice@box"],
    )
    .expect_ok();
    let out = run(&sb, &server, &bob, &["grab", "db", "--holder", "bob"]);
    out.expect_error(1, &["db", "alice@box"]);
    // Still alice's, and bob did not stay in the queue.
    let s = assert_held_by(&server, "db", "alice@box");
    assert_eq!(waiting(&s), 0, "a refused grab does not wait: {s}");
    // Bob holds no token for it.
    run(&sb, &server, &bob, &["release", "db"]).expect_error(1, &["db"]);
    assert_held_by(&server, "db", "alice@box");
}

#[test]
fn grab_wait_gets_a_lock_released_meanwhile() {
    let server = Server::start();
    let sb = Sandbox::new("grab-wait");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    run(&sb, &server, &alice, &["grab", "db", "--holder", "alice"]).expect_ok();
    let mut waiter = spawn(
        &sb,
        &server,
        &bob,
        &["grab", "db", "--wait", "20s", "--holder", "bob"],
    );
    wait_for_waiters(&server, "db", 1);
    assert!(
        waiter.is_running(),
        "grab --wait waits while the lock is held"
    );

    run(&sb, &server, &alice, &["release", "db"]).expect_ok();
    let out = waiter.finish_within(FINISH);
    out.expect_ok();
    let token = out.token();
    assert_held_by(&server, "db", "bob");

    // Bob's token was remembered: released by name, it is free.
    let out = run(&sb, &server, &bob, &["release", "db", "--json"]);
    out.expect_ok();
    assert_eq!(out.json()["status"], "ok", "{out}");
    assert_free(&server, "db");
    // And it was that token: giving it again is a repeat of the release, still fine.
    run(&sb, &server, &bob, &["release", "db", "--token", &token]).expect_ok();
}

#[test]
fn grab_wait_that_runs_out_exits_3_and_leaves_the_queue() {
    let server = Server::start();
    let sb = Sandbox::new("grab-timeout");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    run(&sb, &server, &alice, &["grab", "db", "--holder", "alice"]).expect_ok();
    let out = run(&sb, &server, &bob, &["grab", "db", "--wait", "300ms"]);
    out.expect_error(3, &["timed out", "db"]);
    let s = assert_held_by(&server, "db", "alice");
    assert_eq!(waiting(&s), 0, "the timed-out grab left the queue: {s}");
}

#[test]
fn a_grab_that_timed_out_names_the_holder() {
    let server = Server::start();
    let sb = Sandbox::new("grab-timeout-holder");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    run(
        &sb,
        &server,
        &alice,
        &["grab", "db", "--holder", "alice@box"],
    )
    .expect_ok();
    // As the busy line does, and as `weblock wait --timeout` does ("held by alice@box"): the line
    // says who is in the way, not just "still busy".
    for args in [
        &["grab", "db", "--wait", "300ms"][..],
        &["wait-grab", "db", "--timeout", "300ms", "--", "true"],
    ] {
        run(&sb, &server, &bob, args).expect_error(3, &["timed out", "db", "held by alice@box"]);
    }
}

// ---------------------------------------------------------------------------------------------------
// release, and the token memory
// ---------------------------------------------------------------------------------------------------

#[test]
fn tokens_are_remembered_across_processes_and_released_by_name_in_the_other_order() {
    let server = Server::start();
    let sb = Sandbox::new("memory");
    let alice = sb.user("alice");

    let a = run(&sb, &server, &alice, &["grab", "a", "--holder", "alice"]);
    a.expect_ok();
    let b = run(&sb, &server, &alice, &["grab", "b", "--holder", "alice"]);
    b.expect_ok();
    assert_ne!(a.token(), b.token(), "every grab has its own token");
    assert!(
        alice.join("weblock").join("tokens.json").is_file(),
        "tokens are kept under $XDG_STATE_HOME/weblock"
    );
    assert_held_by(&server, "a", "alice");
    assert_held_by(&server, "b", "alice");

    // Released by name, the second one first, each by a process of its own.
    run(&sb, &server, &alice, &["release", "b"]).expect_ok();
    assert_free(&server, "b");
    assert_held_by(&server, "a", "alice");
    run(&sb, &server, &alice, &["release", "a"]).expect_ok();
    assert_free(&server, "a");

    // Released again: it succeeds, as the server's release is idempotent (the token is kept, marked
    // released, for this).
    for name in ["a", "b"] {
        run(&sb, &server, &alice, &["release", name]).expect_ok();
    }
    run(&sb, &server, &alice, &["release", "c"]).expect_error(1, &["c", "token", "--token"]);
}

#[test]
fn tokens_are_per_user_and_per_server() {
    let server = Server::start();
    let other = Server::start();
    let sb = Sandbox::new("per-user");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    let token = run(&sb, &server, &alice, &["grab", "db", "--holder", "alice"]).token();
    // Bob remembers nothing of alice's grab.
    let line = run(&sb, &server, &bob, &["release", "db"]).expect_error(1, &["db", "--token"]);
    assert!(line.contains(&server.url("")), "names the server: {line}");
    // Alice's memory is for that server: on another one she holds nothing.
    run(&sb, &other, &alice, &["release", "db"]).expect_error(1, &["db", "--token"]);
    assert_held_by(&server, "db", "alice");
    // Given the token, bob can release it.
    run(&sb, &server, &bob, &["release", "db", "--token", &token]).expect_ok();
    assert_free(&server, "db");
}

#[test]
fn release_of_a_lock_not_held_exits_1() {
    let server = Server::start();
    let sb = Sandbox::new("not-held");
    let alice = sb.user("alice");
    let stranger = uuid::Uuid::new_v4().to_string();

    // Free.
    run(
        &sb,
        &server,
        &alice,
        &["release", "db", "--token", &stranger],
    )
    .expect_error(1, &["db", "not held"]);
    // Held by another token.
    let token = run(&sb, &server, &alice, &["grab", "db"]).token();
    run(
        &sb,
        &server,
        &alice,
        &["release", "db", "--token", &stranger],
    )
    .expect_error(1, &["db", "another token"]);
    let s = server.status("db");
    assert_eq!(s["in_use"], true, "a refused release leaves it held: {s}");
    // The right token, twice: a repeated release is fine.
    run(&sb, &server, &alice, &["release", "db", "--token", &token]).expect_ok();
    run(&sb, &server, &alice, &["release", "db", "--token", &token]).expect_ok();
    assert_free(&server, "db");
}

#[test]
fn a_release_refused_after_the_lease_ran_out_forgets_the_token() {
    let server = Server::start();
    let sb = Sandbox::new("expired");
    let alice = sb.user("alice");

    run(&sb, &server, &alice, &["grab", "db", "--ttl", "1s"]).expect_ok();
    wait_until_free(&server, "db"); // the lease runs out: that is the scenario
    run(&sb, &server, &alice, &["release", "db"]).expect_error(1, &["db", "not held"]);
    // That token holds nothing any more (src/cli/lock.rs, `release`: "Either way this token holds
    // nothing any more"): it is forgotten, and a second release says there is no token.
    run(&sb, &server, &alice, &["release", "db"]).expect_error(1, &["db", "--token"]);
}

// ---------------------------------------------------------------------------------------------------
// renew, status, --json
// ---------------------------------------------------------------------------------------------------

#[test]
fn renew_extends_the_lease() {
    let server = Server::start();
    let sb = Sandbox::new("renew");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    run(&sb, &server, &alice, &["grab", "db", "--ttl", "2s"]).expect_ok();
    run(&sb, &server, &alice, &["renew", "db", "--ttl", "60s"]).expect_ok();
    let s = server.status("db");
    assert_eq!(s["ttl"].as_f64(), Some(60.0), "renewed to 60 s: {s}");
    assert!(
        s["ttl_left"].as_f64().unwrap_or(0.0) > 30.0,
        "the lease runs 60 s from the renewal: {s}"
    );
    // Without --ttl: the lease in force, again from now; --json shows the grant, never the token.
    let out = run(&sb, &server, &alice, &["renew", "db", "--json"]);
    out.expect_ok();
    let v = out.json();
    assert_eq!(v["status"], "ok", "{out}");
    assert_eq!(v["ttl"].as_f64(), Some(60.0), "{out}");
    assert!(v.get("token").is_none(), "renew shows no token: {out}");

    // Someone who holds no token for it.
    run(&sb, &server, &bob, &["renew", "db"]).expect_error(1, &["db", "--token"]);
    // A token that does not hold it.
    let stranger = uuid::Uuid::new_v4().to_string();
    run(&sb, &server, &bob, &["renew", "db", "--token", &stranger]).expect_error(1, &["db"]);
    // After the release there is nothing to renew.
    run(&sb, &server, &alice, &["release", "db"]).expect_ok();
    run(&sb, &server, &alice, &["renew", "db"]).expect_error(1, &["db"]);
}

#[test]
fn status_shows_free_and_held_locks() {
    let server = Server::start();
    let sb = Sandbox::new("status");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    let out = run(&sb, &server, &alice, &["status", "db"]);
    out.expect_ok();
    assert_eq!(out.stdout, "db: free\n", "{out}");
    let out = run(&sb, &server, &alice, &["status"]);
    out.expect_ok();
    assert_eq!(out.stdout, "no locks held\n\nno gates\n", "{out}");

    run(&sb, &server, &alice, &["grab", "db", "--holder", "alice"]).expect_ok();
    run(
        &sb,
        &server,
        &alice,
        &["grab", "cache", "--holder", "carol", "--ttl", "60s"],
    )
    .expect_ok();
    let mut waiter = spawn(&sb, &server, &bob, &["grab", "db", "--wait", "20s"]);
    wait_for_waiters(&server, "db", 1);

    let out = run(&sb, &server, &alice, &["status", "db"]);
    out.expect_ok();
    let line = out.stdout.trim_end();
    assert!(
        out.stdout.lines().count() == 1
            && line.starts_with("db: held by alice for ")
            && line.contains(", 1 waiting")
            && !line.contains("lease"),
        "status of a held lock without a lease: {out}"
    );
    let out = run(&sb, &server, &alice, &["status", "cache"]);
    out.expect_ok();
    let line = out.stdout.trim_end();
    assert!(
        line.starts_with("cache: held by carol for ")
            && line.contains(", lease ")
            && line.contains(" left, 0 waiting"),
        "status of a held lock with a lease: {out}"
    );

    // Every lock, a row each, sorted by name, in aligned columns; then the gates.
    run(
        &sb,
        &server,
        &alice,
        &[
            "gate", "create", "shop", "--group", "team12", "--env", "live",
        ],
    )
    .expect_ok();
    run(
        &sb,
        &server,
        &alice,
        &[
            "gate",
            "close",
            "shop",
            "live",
            "--message",
            "testing. -Jens",
        ],
    )
    .expect_ok();
    let out = run(&sb, &server, &alice, &["status"]);
    out.expect_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(
        lines[0], "NAME   HOLDER  HELD FOR  LEASE LEFT  WAITING",
        "{out}"
    );
    // Cells are two or more spaces apart; every row's cells start where the header's do.
    let cells = |line: &str| -> Vec<String> {
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    // Where each cell starts, searching on from the end of the one before.
    let starts = |line: &str| -> Vec<usize> {
        let mut from = 0;
        cells(line)
            .iter()
            .map(|c| {
                let at = line[from..]
                    .find(c.as_str())
                    .map_or(usize::MAX, |i| i + from);
                from = at.saturating_add(c.len()).min(line.len());
                at
            })
            .collect()
    };
    let cache = cells(lines[1]);
    assert_eq!(cache.len(), 5, "{out}");
    assert_eq!(
        (cache[0].as_str(), cache[1].as_str()),
        ("cache", "carol"),
        "{out}"
    );
    assert!(
        cache[3].ends_with('s') && cache[4] == "0",
        "lease left, 0 waiting: {out}"
    );
    let db = cells(lines[2]);
    assert_eq!(db[0..2], ["db", "alice"], "{out}");
    assert_eq!(db[3..], ["-", "1"], "no lease, 1 waiting: {out}");
    assert_eq!(starts(lines[1]), starts(lines[0]), "aligned: {out}");
    assert_eq!(starts(lines[2]), starts(lines[0]), "aligned: {out}");
    assert_eq!(lines[3], "", "{out}");
    assert_eq!(lines[4], "GATE       STATE   TICKETS  MESSAGE", "{out}");
    assert_eq!(
        lines[5], "shop:live  closed  -        testing. -Jens",
        "{out}"
    );

    // --json: the server's answers.
    let out = run(&sb, &server, &alice, &["status", "db", "--json"]);
    out.expect_ok();
    let v = out.json();
    assert_eq!(v["status"], "ok", "{out}");
    assert_eq!(v["id"], "db", "{out}");
    assert_eq!(v["in_use"], true, "{out}");
    assert_eq!(v["holder"], "alice", "{out}");
    assert_eq!(v["waiting"], 1, "{out}");
    assert!(
        v.get("token").is_none(),
        "status never shows a token: {out}"
    );
    let out = run(&sb, &server, &alice, &["--json", "status"]);
    out.expect_ok();
    let v = out.json();
    let ids: Vec<&str> = v["locks"]
        .as_array()
        .unwrap_or_else(|| panic!("no `locks` array: {out}"))
        .iter()
        .map(|l| l["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["cache", "db"], "{out}");
    assert_eq!(v["locks"][1]["waiting"], 1, "{out}");
    let gates = v["gates"].as_array().cloned().unwrap_or_default();
    assert_eq!(gates.len(), 1, "{out}");
    assert_eq!(gates[0]["service"], "shop", "{out}");
    assert_eq!(gates[0]["gate"], "live", "{out}");
    assert_eq!(gates[0]["state"], "closed", "{out}");
    assert_eq!(gates[0]["message"], "testing. -Jens", "{out}");

    run(&sb, &server, &alice, &["release", "db"]).expect_ok();
    waiter.finish_within(FINISH).expect_ok();
}

#[test]
fn json_prints_the_servers_answers() {
    let server = Server::start();
    let sb = Sandbox::new("json");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    let out = run(
        &sb,
        &server,
        &alice,
        &["grab", "db", "--json", "--ttl", "60s", "--holder", "alice"],
    );
    out.expect_ok();
    let grant = out.json();
    assert_eq!(grant["status"], "ok", "{out}");
    assert_eq!(grant["id"], "db", "{out}");
    assert_eq!(grant["holder"], "alice", "{out}");
    assert_eq!(grant["ttl"].as_f64(), Some(60.0), "{out}");
    assert!(grant["fence"].is_u64(), "{out}");
    let token = grant["token"].as_str().unwrap_or_default().to_string();
    uuid::Uuid::parse_str(&token).unwrap_or_else(|e| panic!("token not a UUID ({e}): {out}"));

    // A refused grab prints the server's 409 answer, and still one line on stderr.
    let out = run(&sb, &server, &bob, &["--json", "grab", "db"]);
    out.expect_code(1);
    let v = out.json();
    assert_eq!(v["status"], "fail", "{out}");
    assert_eq!(v["holder"], "alice", "{out}");
    out.one_error_line(&["db", "alice"]);

    // The token memory works with --json too.
    let out = run(&sb, &server, &alice, &["release", "db", "--json"]);
    out.expect_ok();
    let v = out.json();
    assert_eq!(v["status"], "ok", "{out}");
    assert_eq!(v["id"], "db", "{out}");
    assert_free(&server, "db");

    // wait-grab without a command prints its grant.
    let out = run(&sb, &server, &alice, &["wait-grab", "db", "--json"]);
    out.expect_ok();
    let v = out.json();
    assert_eq!(v["status"], "ok", "{out}");
    assert!(v["token"].is_string(), "{out}");
    assert!(
        v["fence"].as_u64() > grant["fence"].as_u64(),
        "fences grow: {out}"
    );

    // wait prints the status that answered it.
    run(&sb, &server, &alice, &["release", "db"]).expect_ok();
    let out = run(&sb, &server, &alice, &["wait", "db", "--json"]);
    out.expect_ok();
    let v = out.json();
    assert_eq!(v["in_use"], false, "{out}");
}

#[test]
fn json_on_a_refused_release_prints_the_servers_answer() {
    let server = Server::start();
    let sb = Sandbox::new("json-release");
    let alice = sb.user("alice");
    let stranger = uuid::Uuid::new_v4().to_string();

    // As a refused grab and a refused renew do with --json.
    let out = run(
        &sb,
        &server,
        &alice,
        &["release", "db", "--token", &stranger, "--json"],
    );
    out.expect_code(1);
    out.one_error_line(&["db", "not held"]);
    let v = out.json();
    assert_eq!(v["status"], "fail", "{out}");
}

// ---------------------------------------------------------------------------------------------------
// Bad input, unreachable server
// ---------------------------------------------------------------------------------------------------

#[test]
fn bad_input_exits_2() {
    let server = Server::start();
    let sb = Sandbox::new("usage");
    let alice = sb.user("alice");

    // Durations are checked by the argument parser: a usage error naming the option and the value.
    for (args, option, value) in [
        (&["grab", "db", "--ttl", "5x"][..], "--ttl", "'5x'"),
        (&["grab", "db", "--wait", "soon"], "--wait", "'soon'"),
        (&["wait", "db", "--timeout=-1s"], "--timeout", "'-1s'"),
        (
            &["wait-grab", "db", "--timeout", "1m30", "--", "true"],
            "--timeout",
            "'1m30'",
        ),
        (&["renew", "db", "--ttl", ""], "--ttl", "''"),
    ] {
        let out = run(&sb, &server, &alice, args);
        out.expect_code(2);
        assert_eq!(out.stdout, "", "{out}");
        assert!(
            out.stderr.contains("invalid duration")
                && out.stderr.contains(option)
                && out.stderr.contains(value),
            "the error says which duration is wrong: {out}"
        );
    }
    // Missing arguments and unknown commands are usage errors too.
    for args in [&["grab"][..], &["release"], &["frobnicate", "db"], &[]] {
        let out = run(&sb, &server, &alice, args);
        out.expect_code(2);
        assert!(!out.stderr.is_empty(), "{out}");
    }
    // A server URL that is not http://HOST:PORT (nor https://HOST:PORT).
    for url in [
        "localhost:7878",
        "ftp://127.0.0.1:7878",
        "http://127.0.0.1:7878/x",
        "https://127.0.0.1:7878/x",
    ] {
        let mut cmd = weblock_at(url, &alice);
        cmd.args(["status", "db"]);
        sb.run(cmd)
            .expect_error(2, &["invalid server URL", url, "http://HOST:PORT"]);
    }
    // Input the server refuses: a bad lock name, a token that is not a UUID.
    run(&sb, &server, &alice, &["grab", "no spaces"]).expect_error(2, &["id"]);
    run(&sb, &server, &alice, &["status", "no/slash"]).expect_error(2, &["id"]);
    run(&sb, &server, &alice, &["release", "db", "--token", "abc"]).expect_error(2, &["token"]);
    assert_eq!(
        server.get("/status").json()["locks"],
        serde_json::json!([]),
        "nothing was taken"
    );
}

#[test]
fn an_unreachable_server_exits_4_naming_it() {
    let sb = Sandbox::new("unreachable");
    let alice = sb.user("alice");
    let url = "http://127.0.0.1:1";
    let marker = sb.path("ran");
    let marker_s = marker.to_string_lossy().into_owned();
    let token = uuid::Uuid::new_v4().to_string();

    // One-shot commands retry for a few seconds: run them side by side.
    let commands: Vec<Vec<&str>> = vec![
        vec!["grab", "db"],
        vec!["status"],
        vec!["release", "db", "--token", &token],
        vec!["--server", url, "status", "db"],
        vec![
            "wait-grab",
            "db",
            "--timeout",
            "1s",
            "--",
            "touch",
            &marker_s,
        ],
    ];
    let mut procs: Vec<Proc> = commands
        .iter()
        .map(|args| {
            let mut cmd = weblock_at(url, &alice);
            if args[0] == "--server" {
                // --server alone, WEBLOCK_URL pointing at nothing useful.
                cmd.env("WEBLOCK_URL", "http://127.0.0.1:2");
            }
            cmd.args(args);
            sb.spawn(cmd)
        })
        .collect();
    for p in &mut procs {
        let line = p
            .finish_within(FINISH)
            .expect_error(4, &["cannot reach", url, "weblock serve"]);
        assert_eq!(
            line.matches(url).count(),
            1,
            "the server named once: {line}"
        );
    }
    assert!(
        !marker.exists(),
        "wait-grab ran its command without the lock"
    );
}

// ---------------------------------------------------------------------------------------------------
// wait
// ---------------------------------------------------------------------------------------------------

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn wait_returns_once_the_lock_is_released_without_taking_it() {
    let server = Server::start();
    let sb = Sandbox::new("wait");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    // Free: at once.
    run(&sb, &server, &bob, &["wait", "db"]).expect_ok();

    run(&sb, &server, &alice, &["grab", "db", "--holder", "alice"]).expect_ok();
    let mut waiter = spawn(&sb, &server, &bob, &["wait", "db", "--timeout", "20s"]);
    // Watchers do not show in /status: wait until it has connected, and is still blocked.
    wait_until(Duration::from_secs(5), "`weblock wait` to connect", || {
        waiter.has_socket()
    });
    assert!(waiter.is_running(), "wait blocks while the lock is held");
    assert_held_by(&server, "db", "alice");

    run(&sb, &server, &alice, &["release", "db"]).expect_ok();
    let out = waiter.finish_within(FINISH);
    out.expect_ok();
    assert_eq!(out.stdout, "", "wait prints nothing without --json: {out}");
    // It did not take it.
    assert_free(&server, "db");
}

#[test]
fn wait_returns_when_a_lease_runs_out() {
    let server = Server::start();
    let sb = Sandbox::new("wait-lease");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    run(&sb, &server, &alice, &["grab", "db", "--ttl", "1s"]).expect_ok();
    let mut waiter = spawn(&sb, &server, &bob, &["wait", "db", "--timeout", "20s"]);
    assert!(waiter.is_running(), "wait blocks while the lock is held");
    waiter.finish_within(FINISH).expect_ok();
    assert_free(&server, "db");
}

#[test]
fn wait_that_runs_out_exits_3() {
    let server = Server::start();
    let sb = Sandbox::new("wait-timeout");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    run(&sb, &server, &alice, &["grab", "db", "--holder", "alice"]).expect_ok();
    run(&sb, &server, &bob, &["wait", "db", "--timeout", "300ms"])
        .expect_error(3, &["timed out", "db", "alice"]);
    assert_held_by(&server, "db", "alice");
}

// ---------------------------------------------------------------------------------------------------
// wait-grab
// ---------------------------------------------------------------------------------------------------

#[test]
fn wait_grab_without_a_command_prints_a_token_and_keeps_the_lock() {
    let server = Server::start();
    let sb = Sandbox::new("wait-grab-token");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    let out = run(
        &sb,
        &server,
        &alice,
        &["wait-grab", "db", "--holder", "alice"],
    );
    out.expect_ok();
    out.token();
    let s = assert_held_by(&server, "db", "alice");
    assert!(s.get("ttl").is_none(), "held without a lease: {s}");

    // Waiting in line, then holding it after exit.
    let mut waiter = spawn(
        &sb,
        &server,
        &bob,
        &[
            "wait-grab",
            "db",
            "--timeout",
            "20s",
            "--ttl",
            "60s",
            "--holder",
            "bob",
        ],
    );
    wait_for_waiters(&server, "db", 1);
    run(&sb, &server, &alice, &["release", "db"]).expect_ok();
    let out = waiter.finish_within(FINISH);
    out.expect_ok();
    out.token();
    let s = assert_held_by(&server, "db", "bob");
    assert_eq!(s["ttl"].as_f64(), Some(60.0), "{s}");
    run(&sb, &server, &bob, &["release", "db"]).expect_ok();
    assert_free(&server, "db");
}

#[test]
fn wait_grab_runs_the_command_with_its_environment_and_exits_with_its_code() {
    let server = Server::start();
    let sb = Sandbox::new("wait-grab-cmd");
    let alice = sb.user("alice");
    let env_file = sb.path("env");
    let status_file = sb.path("status.json");

    // The command sees the lock held, by this holder, with its fence, and its own token.
    let script = format!(
        "printf '%s\\n%s\\n%s\\n' \"$WEBLOCK_NAME\" \"$WEBLOCK_TOKEN\" \"$WEBLOCK_FENCE\" > '{}'; \
         '{}' status db --json > '{}'; exit 7",
        env_file.display(),
        BIN,
        status_file.display()
    );
    let out = run(
        &sb,
        &server,
        &alice,
        &[
            "wait-grab",
            "db",
            "--holder",
            "runner",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    out.expect_code(7);
    assert_eq!(out.stderr, "", "{out}");
    assert_eq!(
        out.stdout, "",
        "wait-grab with a command prints no token: {out}"
    );

    let env = fs::read_to_string(&env_file).expect("the command wrote its environment");
    let lines: Vec<&str> = env.lines().collect();
    assert_eq!(lines.len(), 3, "{env:?}");
    assert_eq!(lines[0], "db", "WEBLOCK_NAME: {env:?}");
    uuid::Uuid::parse_str(lines[1]).unwrap_or_else(|e| panic!("WEBLOCK_TOKEN ({e}): {env:?}"));
    let fence: u64 = lines[2]
        .parse()
        .unwrap_or_else(|_| panic!("WEBLOCK_FENCE is not a number: {env:?}"));
    let status: Value = serde_json::from_str(&fs::read_to_string(&status_file).unwrap_or_default())
        .expect("the command's `weblock status --json`");
    assert_eq!(
        status["in_use"], true,
        "held while the command runs: {status}"
    );
    assert_eq!(status["holder"], "runner", "{status}");
    assert_eq!(status["fence"].as_u64(), Some(fence), "{status}");
    assert_eq!(
        status["ttl"].as_f64(),
        Some(10.0),
        "a command's lock has a short lease (10 s): {status}"
    );
    // Released after the command.
    assert_free(&server, "db");
    // Nothing remembered: there is nothing to release.
    run(&sb, &server, &alice, &["release", "db"]).expect_error(1, &["db", "--token"]);

    // Success is 0, and arguments reach the command as they are.
    let out_file = sb.path("args");
    let out = run(
        &sb,
        &server,
        &alice,
        &[
            "wait-grab",
            "db",
            "--",
            "sh",
            "-c",
            "printf '%s|' \"$@\" > \"$0\"",
            &out_file.to_string_lossy(),
            "a b",
            "--ttl",
            "",
        ],
    );
    out.expect_ok();
    assert_eq!(
        fs::read_to_string(&out_file).unwrap_or_default(),
        "a b|--ttl||"
    );
    assert_free(&server, "db");
}

#[test]
fn wait_grab_command_killed_by_a_signal_exits_128_plus_n() {
    let server = Server::start();
    let sb = Sandbox::new("wait-grab-signal");
    let alice = sb.user("alice");

    for (sig, name) in [(libc::SIGUSR1, "USR1"), (libc::SIGKILL, "KILL")] {
        let script = format!("kill -{name} $$");
        let out = run(
            &sb,
            &server,
            &alice,
            &["wait-grab", "db", "--", "sh", "-c", &script],
        );
        out.expect_code(128 + sig);
        assert_free(&server, "db");
    }
}

#[test]
fn wait_grab_of_a_command_that_cannot_run_exits_127_or_126_and_releases() {
    let server = Server::start();
    let sb = Sandbox::new("wait-grab-missing");
    let alice = sb.user("alice");

    let missing = sb.path("no-such-command");
    let missing = missing.to_string_lossy();
    run(
        &sb,
        &server,
        &alice,
        &["wait-grab", "db", "--", &missing, "arg"],
    )
    .expect_error(127, &["cannot run", &missing]);
    assert_free(&server, "db");
    run(
        &sb,
        &server,
        &alice,
        &["wait-grab", "db", "--", "weblock-no-such-command-on-path"],
    )
    .expect_error(127, &["weblock-no-such-command-on-path"]);
    assert_free(&server, "db");

    // A file that is not executable.
    let plain = sb.path("not-executable");
    fs::write(&plain, "#!/bin/sh\nexit 0\n").expect("write a file");
    let plain = plain.to_string_lossy();
    run(&sb, &server, &alice, &["wait-grab", "db", "--", &plain])
        .expect_error(126, &["cannot run", &plain]);
    assert_free(&server, "db");
}

#[test]
fn wait_grab_that_runs_out_exits_3_leaves_the_queue_and_runs_nothing() {
    let server = Server::start();
    let sb = Sandbox::new("wait-grab-timeout");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));
    let marker = sb.path("ran");

    run(&sb, &server, &alice, &["grab", "db", "--holder", "alice"]).expect_ok();
    run(
        &sb,
        &server,
        &bob,
        &[
            "wait-grab",
            "db",
            "--timeout",
            "300ms",
            "--",
            "touch",
            &marker.to_string_lossy(),
        ],
    )
    .expect_error(3, &["timed out", "db"]);
    assert!(
        !marker.exists(),
        "the command must not run without the lock"
    );
    let s = assert_held_by(&server, "db", "alice");
    assert_eq!(waiting(&s), 0, "the timed-out waiter left the queue: {s}");
}

#[test]
fn wait_grab_waiters_are_served_in_fifo_order() {
    let server = Server::start();
    let sb = Sandbox::new("fifo");
    let alice = sb.user("alice");
    let log = sb.path("order");

    run(&sb, &server, &alice, &["grab", "q", "--holder", "alice"]).expect_ok();
    let mut waiters = Vec::new();
    for i in 1..=4u64 {
        let user = sb.user(&format!("w{i}"));
        let script = format!("echo {i} >> '{}'", log.display());
        let mut cmd = weblock(&server, &user);
        cmd.args([
            "wait-grab",
            "q",
            "--timeout",
            "30s",
            "--",
            "sh",
            "-c",
            &script,
        ]);
        waiters.push(sb.spawn(cmd));
        wait_for_waiters(&server, "q", i);
    }
    run(&sb, &server, &alice, &["release", "q"]).expect_ok();
    for w in &mut waiters {
        w.finish_within(FINISH).expect_ok();
    }
    assert_eq!(
        fs::read_to_string(&log).unwrap_or_default(),
        "1\n2\n3\n4\n",
        "waiters are served in the order they came"
    );
    assert_free(&server, "q");
}

#[test]
fn sigterm_to_wait_grab_stops_the_command_and_releases() {
    let server = Server::start();
    let sb = Sandbox::new("sigterm");
    let alice = sb.user("alice");
    let started = sb.path("started");

    let script = format!(
        "trap 'kill $pid 2>/dev/null; exit 42' TERM; sleep 60 & pid=$!; echo started > '{}'; wait",
        started.display()
    );
    let mut wg = spawn(
        &sb,
        &server,
        &alice,
        &[
            "wait-grab",
            "db",
            "--holder",
            "alice",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    wait_until(Duration::from_secs(5), "the command to start", || {
        fs::read_to_string(&started).is_ok_and(|s| s == "started\n")
    });
    assert_held_by(&server, "db", "alice");

    wg.signal(libc::SIGTERM);
    let out = wg.finish_within(Duration::from_secs(5));
    out.expect_code(42);
    assert_free(&server, "db");
}

#[test]
fn sigterm_and_sighup_end_a_command_that_does_not_catch_them() {
    let server = Server::start();
    let sb = Sandbox::new("sigterm-plain");
    let alice = sb.user("alice");

    // "SIGTERM and SIGHUP are passed on to it": a command with the default action dies of them.
    for sig in [libc::SIGTERM, libc::SIGHUP] {
        let mut wg = spawn(
            &sb,
            &server,
            &alice,
            &["wait-grab", "db", "--holder", "alice", "--", "sleep", "60"],
        );
        wait_until_held_by(&server, "db", "alice");
        wg.signal(sig);
        // weblock dies of the signal that ended its command, as the command did.
        wg.finish_within(Duration::from_secs(5)).expect_signal(sig);
        assert_free(&server, "db");
    }
}

#[test]
fn ctrl_c_to_the_process_group_ends_the_command() {
    let server = Server::start();
    let sb = Sandbox::new("ctrl-c");
    let alice = sb.user("alice");

    // "Ctrl-C reaches the command as it would without weblock": the terminal sends SIGINT to the
    // whole foreground process group (here: the group wait-grab leads).
    let mut wg = spawn(
        &sb,
        &server,
        &alice,
        &["wait-grab", "db", "--holder", "alice", "--", "sleep", "60"],
    );
    wait_until_held_by(&server, "db", "alice");
    wg.signal_group(libc::SIGINT);
    wg.finish_within(Duration::from_secs(5))
        .expect_signal(libc::SIGINT);
    assert_free(&server, "db");
}

#[test]
fn sigterm_while_waiting_in_line_leaves_the_queue() {
    let server = Server::start();
    let sb = Sandbox::new("sigterm-waiting");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));
    let marker = sb.path("ran");

    run(&sb, &server, &alice, &["grab", "db", "--holder", "alice"]).expect_ok();
    let mut wg = spawn(
        &sb,
        &server,
        &bob,
        &["wait-grab", "db", "--", "touch", &marker.to_string_lossy()],
    );
    wait_for_waiters(&server, "db", 1);
    wg.signal(libc::SIGTERM);
    let out = wg.finish_within(Duration::from_secs(5));
    out.expect_signal(libc::SIGTERM)
        .one_error_line(&["SIGTERM", "db"]);
    let s = assert_held_by(&server, "db", "alice");
    assert_eq!(waiting(&s), 0, "the waiter left the queue: {s}");
    // Released now, the lock is free: nobody is left in line to get it.
    run(&sb, &server, &alice, &["release", "db"]).expect_ok();
    assert_free(&server, "db");
    assert!(!marker.exists(), "the command never ran");
}

#[test]
fn sigkill_of_wait_grab_frees_the_lock_within_its_lease_for_the_next_waiter() {
    let server = Server::start();
    let sb = Sandbox::new("sigkill");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    let mut holder = spawn(
        &sb,
        &server,
        &alice,
        &[
            "wait-grab",
            "db",
            "--ttl",
            "2s",
            "--holder",
            "alice",
            "--",
            "sleep",
            "60",
        ],
    );
    wait_until_held_by(&server, "db", "alice");
    let mut next = spawn(
        &sb,
        &server,
        &bob,
        &["wait-grab", "db", "--timeout", "30s", "--holder", "bob"],
    );
    wait_for_waiters(&server, "db", 1);

    holder.signal(libc::SIGKILL);
    // Within its lease (2 s); the deadline here is generous on purpose.
    let out = next.finish_within(Duration::from_secs(10));
    out.expect_ok();
    out.token();
    assert_held_by(&server, "db", "bob");
    // Not reaped here: the drop kills what is left of its group (its `sleep 60`) first.
    assert!(!holder.is_running(), "the killed wait-grab is gone");
}

#[test]
fn wait_grab_gets_the_job_done_with_a_server_started_three_seconds_later() {
    let sb = Sandbox::new("late-server");
    let alice = sb.user("alice");
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("an address");
    let url = format!("http://{addr}");
    let marker = sb.path("ran");

    let mut cmd = weblock_at(&url, &alice);
    cmd.args(["wait-grab", "late", "--timeout", "30s", "--", "touch"])
        .arg(&marker);
    let mut wg = sb.spawn(cmd);
    thread::sleep(Duration::from_secs(3)); // the scenario: no server for three seconds
    assert!(
        wg.is_running(),
        "wait-grab keeps trying while there is no server"
    );

    let server = OwnServer::start(&sb, addr);
    assert_eq!(server.addr, addr, "the server listens where asked");
    let out = wg.finish_within(FINISH);
    out.expect_ok();
    assert!(marker.exists(), "the command ran");
    let mut cmd = weblock_at(&server.url(), &alice);
    cmd.args(["status", "late"]);
    let out = sb.run(cmd);
    out.expect_ok();
    assert_eq!(
        out.stdout, "late: free\n",
        "released after the command: {out}"
    );
}

#[test]
fn eight_cli_workers_never_overlap() {
    const WORKERS: usize = 8;
    const ROUNDS: usize = 5;
    let server = Server::start();
    let sb = Sandbox::new("overlap");
    let log = sb.path("log");
    let mut workers = section_workers(&sb, &[server.url("")], WORKERS, ROUNDS, "0.01", &log);
    for w in &mut workers {
        w.finish_within(Duration::from_secs(40)).expect_ok();
    }
    assert_sections(&log, WORKERS * ROUNDS);
    assert_free(&server, "L");
}
