//! Issue #17, "the command line as careful as flock(1)": names refused before anything is sent, one
//! exit code per outcome (and `-E N` for busy and timed out), `weblock break` for an administrator,
//! and `bench` that never measures a shared server by accident. Real binary, real server.

use crate::cli_helpers;
use crate::common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use cli_helpers::*;
use common::{Server, Stderr};

/// A listener nothing answers on: it tells whether anybody connected.
struct Silent(TcpListener);

impl Silent {
    fn new() -> Silent {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        l.set_nonblocking(true).expect("nonblocking");
        Silent(l)
    }
    fn url(&self) -> String {
        format!("http://{}", self.0.local_addr().expect("local_addr"))
    }
    fn was_contacted(&self) -> bool {
        self.0.accept().is_ok()
    }
}

fn weblock(url: &str, state: &Path, args: &[&str]) -> Command {
    let mut cmd = weblock_at(url, state);
    cmd.args(args).env_remove("WEBLOCK_ADMIN_CREDENTIALS");
    cmd
}

#[test]
fn empty_or_invalid_names_are_usage_errors_before_anything_is_sent() {
    let sb = Sandbox::new("names");
    let alice = sb.user("alice");
    let silent = Silent::new();
    let marker = sb.path("deployed");
    let marker_s = marker.to_string_lossy().into_owned();

    let cases: Vec<Vec<&str>> = vec![
        // `weblock wait-grab "$LOCK" -- ./deploy` with $LOCK empty: no deploy, no anonymous lock.
        vec!["wait-grab", "", "--", "touch", &marker_s],
        vec!["wait-grab", " ", "--", "touch", &marker_s],
        vec!["wait-grab", "a/b", "--timeout", "1s"],
        vec!["grab", ""],
        vec!["grab", "", "--wait", "1s"],
        vec!["release", ""],
        vec![
            "renew",
            "",
            "--token",
            "4ca72ee9-82b9-48c5-bf66-994ac907386b",
        ],
        vec!["status", ""],
        vec!["wait", ""],
        vec!["wait", "shop:"],
        vec!["break", ""],
        vec!["gate", "create", "", "--group", "g", "--env", "live"],
        vec!["gate", "create", "shop", "--group", "g", "--env", ""],
        vec!["gate", "open", "shop", ""],
        vec!["gate", "close", "", "live"],
        vec!["gate", "delete", ""],
        vec!["gate", "show", ""],
        vec!["gate", "leave", ""],
        vec!["gate", "enter", ":live", "--", "touch", &marker_s],
        vec!["gate", "enter", "shop:", "--", "touch", &marker_s],
    ];
    for args in &cases {
        let out = sb.run(weblock(&silent.url(), &alice, args));
        out.expect_error(2, &["invalid"]);
    }
    assert!(!silent.was_contacted(), "nothing was sent to the server");
    assert!(!marker.exists(), "no command ran");
}

#[test]
fn each_outcome_has_its_exit_code_and_dash_e_replaces_busy_and_timed_out() {
    let server = Server::start();
    let sb = Sandbox::new("codes");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));
    let url = server.url("");
    let run = |state: &Path, args: &[&str]| sb.run(weblock(&url, state, args));

    // 0: done.
    run(&alice, &["grab", "db", "--holder", "alice"]).expect_ok();
    // 1: busy.
    run(&bob, &["grab", "db"]).expect_error(1, &["db", "held by alice"]);
    // 1: not held (release of something this user never held).
    run(&bob, &["release", "other"]).expect_error(1, &["no token"]);
    // 2: usage.
    run(&bob, &["grab", "db", "--ttl", "soon"]).expect_code(2);
    // 3: timed out.
    run(&bob, &["grab", "db", "--wait", "200ms"]).expect_error(3, &["timed out"]);
    run(&bob, &["wait", "db", "--timeout", "200ms"]).expect_error(3, &["timed out"]);

    // -E N, as flock's: busy and timed out exit N; other failures keep their code.
    run(&bob, &["-E", "75", "grab", "db"]).expect_error(75, &["held by alice"]);
    run(&bob, &["grab", "db", "--conflict-exit-code", "75"]).expect_error(75, &["held by alice"]);
    run(&bob, &["-E", "75", "grab", "db", "--wait", "200ms"]).expect_error(75, &["timed out"]);
    run(
        &bob,
        &[
            "-E",
            "75",
            "wait-grab",
            "db",
            "--timeout",
            "200ms",
            "--",
            "true",
        ],
    )
    .expect_error(75, &["timed out"]);
    run(&bob, &["-E", "75", "wait", "db", "--timeout", "200ms"]).expect_error(75, &["timed out"]);
    run(&bob, &["-E", "75", "release", "other"]).expect_error(1, &["no token"]);
    run(&bob, &["-E", "75", "grab", ""]).expect_error(2, &["invalid"]);
    run(&bob, &["-E", "300", "grab", "db"]).expect_code(2);

    // A closed gate is busy too.
    run(
        &alice,
        &["gate", "create", "shop", "--group", "g", "--env", "live"],
    )
    .expect_ok();
    run(&alice, &["gate", "close", "shop", "live"]).expect_ok();
    run(&bob, &["gate", "enter", "shop:live", "--", "true"]).expect_error(1, &["closed"]);
    run(
        &bob,
        &["-E", "75", "gate", "enter", "shop:live", "--", "true"],
    )
    .expect_error(75, &["closed"]);
    // The CMD's own code is not remapped.
    run(
        &bob,
        &["-E", "75", "wait-grab", "free", "--", "sh", "-c", "exit 1"],
    )
    .expect_code(1);
}

#[test]
fn break_ends_a_stuck_lock_with_the_administrators_credentials_only() {
    let server = Server::builder()
        .stderr(Stderr::Drained)
        .envs(&[("WEBLOCK_ADMIN_CREDENTIALS", "admin:s3cret")])
        .start();
    let sb = Sandbox::new("break");
    let (alice, bob, carol) = (sb.user("alice"), sb.user("bob"), sb.user("carol"));
    let url = server.url("");

    // A name the HAL API could not take (a dash), held for ever, with a waiter behind it.
    sb.run(weblock(
        &url,
        &alice,
        &["grab", "db-1", "--holder", "alice@box"],
    ))
    .expect_ok();
    let mut waiter = sb.spawn(weblock(
        &url,
        &bob,
        &["wait-grab", "db-1", "--holder", "bob"],
    ));
    server.wait_for_waiting("db-1", 1);

    // Without the credentials: refused before anything is sent.
    sb.run(weblock(&url, &carol, &["break", "db-1"]))
        .expect_error(6, &["WEBLOCK_ADMIN_CREDENTIALS", "nothing was sent"]);
    // With wrong ones: the server refuses.
    let mut wrong = weblock(&url, &carol, &["break", "db-1"]);
    wrong.env("WEBLOCK_ADMIN_CREDENTIALS", "admin:guess");
    let line = sb
        .run(wrong)
        .expect_error(6, &["401", "WEBLOCK_ADMIN_CREDENTIALS"]);
    assert!(
        !line.contains("guess"),
        "credentials are never printed: {line}"
    );
    assert_eq!(server.status("db-1")["holder"], "alice@box", "still held");

    // With the right ones: ended, and the line names the holder it ended.
    let mut right = weblock(&url, &carol, &["break", "db-1"]);
    right.env("WEBLOCK_ADMIN_CREDENTIALS", "admin:s3cret");
    let out = sb.run(right);
    out.expect_ok();
    assert!(
        out.stdout
            .starts_with("broke db-1: it was held by alice@box"),
        "{out}"
    );
    assert_eq!(server.status("db-1")["in_use"], false, "free now");
    // The waiter's wait was ended too, as the administrator's delete does.
    waiter
        .finish_within(FINISH)
        .expect_error(1, &["administrator"]);

    // A free lock: nothing to break.
    let mut again = weblock(&url, &carol, &["break", "db-1"]);
    again.env("WEBLOCK_ADMIN_CREDENTIALS", "admin:s3cret");
    sb.run(again).expect_error(1, &["free", "nothing to break"]);
}

#[test]
fn break_is_refused_by_a_server_without_an_administrator() {
    let server = Server::start();
    let sb = Sandbox::new("break-no-admin");
    let alice = sb.user("alice");
    let url = server.url("");
    sb.run(weblock(&url, &alice, &["grab", "db"])).expect_ok();
    let mut cmd = weblock(&url, &alice, &["break", "db"]);
    cmd.env("WEBLOCK_ADMIN_CREDENTIALS", "admin:s3cret");
    sb.run(cmd)
        .expect_error(6, &["disabled", "--admin-credentials"]);
    assert_eq!(server.status("db")["in_use"], true);
}

#[test]
fn bench_ignores_an_exported_weblock_url_and_starts_its_own_server() {
    let sb = Sandbox::new("bench-own");
    let alice = sb.user("alice");
    let silent = Silent::new();
    let out = sb.run(weblock(
        &silent.url(),
        &alice,
        &[
            "bench",
            "--clients",
            "1",
            "--duration",
            "100ms",
            "--waiters",
            "0",
            "--parked",
            "0",
            "--no-durable",
        ],
    ));
    out.expect_code(0);
    assert!(
        !silent.was_contacted(),
        "the exported server was not measured: {out}"
    );
}

#[test]
fn json_prints_one_object_for_success_and_failure_alike_with_a_true_status() {
    let server = Server::start();
    let sb = Sandbox::new("json-always");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));
    let url = server.url("");
    let run = |state: &Path, args: &[&str]| sb.run(weblock(&url, state, args));

    sb.run(weblock(&url, &alice, &["grab", "db", "--holder", "alice"]))
        .expect_ok();
    // Each failure: one object, status "fail", its exit code and the stderr line in it.
    for (args, code) in [
        (&["--json", "wait", "db", "--timeout", "100ms"][..], 3),
        (&["--json", "grab", "db", "--wait", "100ms"], 3),
        (&["--json", "grab", ""], 2),
        (&["--json", "-E", "9", "grab", "db"], 9),
        (&["--json", "release", "never"], 1),
    ] {
        let out = run(&bob, args);
        out.expect_code(code);
        let v = out.json();
        assert_eq!(v["status"], "fail", "{out}");
        assert_eq!(v["exit_code"], code, "{out}");
        let line = out.one_error_line(&[]);
        assert_eq!(
            Some(line.trim_start_matches("weblock: ")),
            v["error"].as_str(),
            "{out}"
        );
    }
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!(
        "http://127.0.0.1:{}",
        silent.local_addr().expect("addr").port()
    );
    drop(silent);
    let out = sb.run(weblock(&dead, &bob, &["--json", "status", "db"]));
    out.expect_code(4);
    assert_eq!(out.json()["status"], "fail", "{out}");

    // Success: status "ok".
    for args in [&["--json", "status", "db"][..], &["--json", "status"]] {
        let out = run(&bob, args);
        out.expect_ok();
        assert_eq!(out.json()["status"], "ok", "{out}");
    }
}

#[test]
fn releasing_twice_succeeds() {
    let server = Server::start();
    let sb = Sandbox::new("release-twice");
    let alice = sb.user("alice");
    let url = server.url("");
    sb.run(weblock(&url, &alice, &["grab", "db"])).expect_ok();
    sb.run(weblock(&url, &alice, &["release", "db"]))
        .expect_ok();
    sb.run(weblock(&url, &alice, &["release", "db"]))
        .expect_ok();
    assert_eq!(server.status("db")["in_use"], false);
    // A lock this user never held is still a no.
    sb.run(weblock(&url, &alice, &["release", "other"]))
        .expect_error(1, &["no token"]);
}

#[test]
fn the_holder_is_the_uids_name_without_user_and_weblock_holder_names_it() {
    let server = Server::start();
    let sb = Sandbox::new("holder");
    let alice = sb.user("alice");
    let url = server.url("");
    let me = Command::new("id").arg("-un").output().expect("id -un");
    let me = String::from_utf8_lossy(&me.stdout).trim().to_string();

    let mut cmd = weblock(&url, &alice, &["grab", "db"]);
    cmd.env_remove("USER").env_remove("LOGNAME");
    sb.run(cmd).expect_ok();
    let holder = server.status("db")["holder"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(holder.starts_with(&format!("{me}@")), "{holder}");
    sb.run(weblock(&url, &alice, &["release", "db"]))
        .expect_ok();

    let mut cmd = weblock(&url, &alice, &["grab", "db"]);
    cmd.env("WEBLOCK_HOLDER", "ci job 7");
    sb.run(cmd).expect_ok();
    assert_eq!(server.status("db")["holder"], "ci job 7");
}

#[test]
fn a_negative_duration_is_refused_as_such() {
    let sb = Sandbox::new("negative");
    let alice = sb.user("alice");
    let silent = Silent::new();
    for args in [
        &["grab", "db", "--ttl", "-1s"][..],
        &["wait-grab", "db", "--timeout", "-5m", "--", "true"],
        &["wait", "db", "--timeout", "-1"],
    ] {
        let out = sb.run(weblock(&silent.url(), &alice, args));
        out.expect_code(2);
        assert!(
            out.stderr.contains("invalid duration") && out.stderr.contains("negative"),
            "{out}"
        );
        assert!(
            !out.stderr.contains("-- -"),
            "no tip to pass it after --: {out}"
        );
    }
    assert!(!silent.was_contacted());
}

#[test]
fn busy_and_timed_out_lines_say_for_how_long_and_count_only_the_others_waiting() {
    let server = Server::start();
    let sb = Sandbox::new("time-style");
    let url = server.url("");
    let mut grab = weblock(&url, &sb.user("alice"), &["grab", "db"]);
    grab.env("WEBLOCK_HOLDER", "alice");
    sb.run(grab).expect_ok();
    let bob = sb.user("bob");
    // Held for a while, said as status says it: for how long, never a timestamp.
    let line = sb
        .run(weblock(&url, &bob, &["grab", "db"]))
        .expect_error(1, &["db is held by alice for "]);
    assert!(!line.contains("since"), "{line}");
    // Bob alone in line times out: nobody else waits, though the server counted him while he did.
    let line = sb
        .run(weblock(&url, &bob, &["grab", "db", "--wait", "300ms"]))
        .expect_error(3, &["timed out", "held by alice for "]);
    assert!(!line.contains(" waiting)"), "only bob waited: {line}");
    // With carol waiting too, bob's timeout counts her alone.
    let carol = sb.spawn(weblock(
        &url,
        &sb.user("carol"),
        &["grab", "db", "--wait", "30s"],
    ));
    server.wait_for_waiting("db", 1);
    let line = sb
        .run(weblock(&url, &bob, &["grab", "db", "--wait", "300ms"]))
        .expect_error(3, &["timed out"]);
    assert!(line.contains("(1 other waiting)"), "{line}");
    drop(carol);
}

#[test]
fn serve_and_completions_do_not_offer_the_clients_options_in_their_help() {
    for command in ["serve", "completions"] {
        let out = std::process::Command::new(BIN)
            .args([command, "--help"])
            .output()
            .expect("weblock runs");
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        for option in ["--server", "--json", "--conflict-exit-code"] {
            assert!(
                !help.contains(option),
                "{command} --help offers {option}:\n{help}"
            );
        }
    }
    // A client command still does.
    let out = std::process::Command::new(BIN)
        .args(["status", "--help"])
        .output()
        .expect("weblock runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--server") && help.contains("--json"),
        "{help}"
    );
}
