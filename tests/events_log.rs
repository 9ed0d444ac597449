//! The event log: one line on the server's stderr per state change, human by default and JSON with
//! `--log-format json`, none with `off`; never a token; and a stderr that is closed, or that nobody
//! reads, never stops or slows the server.

use crate::common;

use std::time::Duration;

use common::{Conn, Enc, Server, Stderr};
use serde_json::Value;

const JSON: (&str, &str) = ("Content-Type", "application/json");

/// A human line: an RFC 3339 time, then `rest`.
fn has_event(line: &str, rest: &str) -> bool {
    line.len() > 25 && line.as_bytes()[10] == b'T' && &line[23..25] == "Z " && line[25..] == *rest
}

fn starts_event(line: &str, rest: &str) -> bool {
    line.len() > 25 && line.as_bytes()[10] == b'T' && line[25..].starts_with(rest)
}

/// Waits for the line `TIME rest` on the server's stderr.
fn logged(server: &Server, rest: &str) -> String {
    server.wait_for_stderr_line(rest, |l| has_event(l, rest))
}

/// Waits for a line `TIME rest…` on the server's stderr.
fn logged_starting(server: &Server, rest: &str) -> String {
    server.wait_for_stderr_line(rest, |l| starts_event(l, rest))
}

/// The id of the ticket a gatekeeper answer carries.
fn ticket_id(answer: &Value) -> String {
    answer["ticket"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no ticket in {answer}"))
        .to_string()
}

#[test]
fn lock_changes_read_as_one_human_line_each() {
    let server = Server::start();
    let alice = server.grab_ok(
        Enc::Form,
        &[("id", "db"), ("holder", "alice@build3 pid 42")],
    );
    logged(&server, "grant db to \"alice@build3 pid 42\" fence 1");

    // A waiter handed the lock by the release says how long it waited.
    let waiter = common::spawn_grab(
        server.addr(),
        Enc::Form,
        &[("id", "db"), ("holder", "bob"), ("wait", "30")],
        Duration::from_secs(30),
    );
    server.wait_for_waiting("db", 1);
    let alice_token = alice["token"].as_str().expect("a token").to_string();
    server.release_ok(Enc::Form, "db", &alice_token);
    logged(&server, "release db fence 1");
    let granted = logged_starting(&server, "grant db to \"bob\" fence 2 (waited ");
    assert!(
        granted.ends_with("ms)") || granted.ends_with("s)"),
        "{granted}"
    );
    let bob = common::recv_within(&waiter, Duration::from_secs(10), "bob's grant")
        .unwrap_or_else(|e| panic!("{e}"));
    let bob_token = bob.json()["token"].as_str().expect("a token").to_string();

    // A wait that runs out; a waiter that hangs up; a lease that runs out; a HAL lock deleted by URL.
    let r = server.post(
        "/grab",
        Enc::Form,
        &[("id", "db"), ("holder", "carol"), ("wait", "0.1")],
    );
    assert_eq!(r.status, 409, "{r}");
    logged_starting(&server, "timeout db waiter \"carol\" (waited ");
    let mut erin = Conn::open(server.addr());
    let (ct, body) = Enc::Form.encode(&[("id", "db"), ("holder", "erin"), ("wait", "30")]);
    erin.send_request("POST", "/grab", &[("Content-Type", ct.as_str())], &body);
    server.wait_for_waiting("db", 1);
    drop(erin);
    logged_starting(&server, "cancel db waiter \"erin\" (waited ");
    server.grab_ok(
        Enc::Form,
        &[("id", "lease"), ("holder", "dave"), ("ttl", "0.1")],
    );
    logged_starting(&server, "expiry lease held by \"dave\" fence ");
    let hal = server.request(
        "POST",
        "/locks/build7",
        &[JSON],
        br#"{"title": "ci job 7"}"#,
    );
    assert_eq!(hal.status, 201, "{hal}");
    let url = hal.header("location").expect("a Location").to_string();
    let path = &url[url.find("/locks/").expect("a lock URL")..];
    assert_eq!(server.request("DELETE", path, &[], b"").status, 204);
    logged_starting(&server, "release build7 fence ");

    // Nothing secret was written.
    for line in server.stderr_lines() {
        for token in [&alice_token, &bob_token] {
            assert!(!line.contains(token.as_str()), "a token in the log: {line}");
        }
    }
}

#[test]
fn gate_and_ticket_changes_are_logged() {
    let server = Server::builder().args(&["--ticket-ttl", "300ms"]).start();
    let put = |path: &str, body: &str| {
        let r = server.request("PUT", path, &[JSON], body.as_bytes());
        assert_eq!(r.status, 200, "PUT {path}: {r}");
        r.json()
    };
    let r = server.request(
        "POST",
        "/api/services/shop",
        &[JSON],
        br#"{"group": "g", "environments": ["testing", "live"]}"#,
    );
    assert_eq!(r.status, 200, "{r}");
    logged(&server, "service_created shop gates live,testing");
    put(
        "/api/services/shop/live",
        r#"{"state": "closed", "message": "testing. -Jens"}"#,
    );
    logged(&server, "gate_closed shop:live message \"testing. -Jens\"");
    // Closing it again changes nothing: no second line.
    put("/api/services/shop/live", r#"{"state": "closed"}"#);

    let queued = put(
        "/api/services?queue=true",
        r#"{"services": {"shop": ["live"]}}"#,
    );
    let ticket = ticket_id(&queued);
    logged(&server, &format!("ticket_queued {ticket} gates shop:live"));
    put("/api/services/shop/live", r#"{"state": "open"}"#);
    logged(&server, "gate_opened shop:live message \"testing. -Jens\"");
    let granted = put(
        "/api/services?queue=true",
        &format!(r#"{{"services": {{"shop": ["live"]}}, "ticket": "{ticket}"}}"#),
    );
    assert_eq!(granted["status"], "ok", "{granted}");
    logged(&server, &format!("ticket_granted {ticket} gates shop:live"));
    let r = server.request("DELETE", &format!("/api/tickets/{ticket}"), &[], b"");
    assert_eq!(r.status, 200, "{r}");
    logged(&server, &format!("ticket_deleted {ticket}"));

    // A queued ticket nobody refreshes expires.
    put("/api/services/shop/testing", r#"{"state": "closed"}"#);
    let queued = put(
        "/api/services?queue=true",
        r#"{"services": {"shop": ["testing"]}}"#,
    );
    let stale = ticket_id(&queued);
    logged(&server, &format!("ticket_expired {stale}"));
    let closes = server
        .stderr_lines()
        .iter()
        .filter(|l| l.contains("gate_closed shop:live"))
        .count();
    assert_eq!(closes, 1, "{:#?}", server.stderr_lines());
}

#[test]
fn json_lines_are_one_object_each() {
    let server = Server::builder().args(&["--log-format", "json"]).start();
    let grant = server.grab_ok(
        Enc::Json,
        &[("id", "db"), ("holder", "alice \"the\" admin")],
    );
    server.release_ok(Enc::Json, "db", grant["token"].as_str().expect("a token"));
    server.wait_for_stderr_line("the release", |l| l.contains("\"release\""));
    let events: Vec<Value> = server
        .stderr_lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    let g = &events[0];
    assert_eq!(g["event"], "grant");
    assert_eq!(g["resource"], "db");
    assert_eq!(g["holder"], "alice \"the\" admin");
    assert_eq!(g["fence"], 1);
    common::assert_rfc3339_millis(&g["ts"], "ts");
    assert!(g.get("token").is_none(), "{g}");
    assert_eq!(events[1]["event"], "release");
    assert_eq!(events[1]["fence"], 1);
}

/// The server's threads, by name.
fn thread_names(server: &Server) -> Vec<String> {
    let dir = format!("/proc/{}/task", server.pid());
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn log_format_off_writes_nothing() {
    let logging = Server::start();
    // A thread names itself once it runs: poll.
    let deadline = std::time::Instant::now() + common::CONDITION_DEADLINE;
    while !thread_names(&logging).iter().any(|n| n == "event-log") {
        assert!(
            std::time::Instant::now() < deadline,
            "no event-log thread: {:?}",
            thread_names(&logging)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let quiet = Server::builder().args(&["--log-format", "off"]).start();
    // Threads exist once started, named or not: one fewer, and none of them the writer.
    let names = thread_names(&quiet);
    assert_eq!(names.len() + 1, thread_names(&logging).len(), "{names:?}");
    assert!(!names.iter().any(|n| n == "event-log"), "{names:?}");
    assert_eq!(server_grab_release(&quiet, 3), 3);
    assert!(
        quiet.stderr_lines().is_empty(),
        "{:?}",
        quiet.stderr_lines()
    );
}

/// `n` grab+release pairs on one keep-alive connection; returns how many were answered 200 twice.
fn server_grab_release(server: &Server, n: usize) -> usize {
    let mut conn = server.connect();
    let mut done = 0;
    for i in 0..n {
        let id = format!("lock{}", i % 8);
        let grab = conn.post("/grab", Enc::Form, &[("id", &id), ("holder", "loop")]);
        assert_eq!(grab.status, 200, "grab {i}: {grab}");
        let token = grab.json()["token"].as_str().expect("a token").to_string();
        let release = conn.post("/release", Enc::Form, &[("id", &id), ("token", &token)]);
        assert_eq!(release.status, 200, "release {i}: {release}");
        done += 1;
    }
    done
}

#[test]
fn a_closed_stderr_does_not_stop_the_server() {
    let mut server = Server::builder().stderr(Stderr::Closed).start();
    assert_eq!(server_grab_release(&server, 200), 200);
    assert!(server.is_running());
    assert_eq!(server.get("/metrics").status, 200);
}

#[test]
fn a_stderr_nobody_reads_does_not_hold_up_the_locks() {
    // About 2 lines of 50 bytes a pair: 3,000 pairs fill a 64 KiB pipe several times over. Each
    // answer must still come (within the client's read timeout), as lines wait for the writer, or
    // are dropped and counted, instead of holding the engine.
    let mut server = Server::builder().stderr(Stderr::Unread).start();
    assert_eq!(server_grab_release(&server, 3_000), 3_000);
    assert!(server.is_running());
    let metrics = server.get("/metrics").text();
    assert!(metrics.contains("weblock_grants_total 3000"), "{metrics}");
}
