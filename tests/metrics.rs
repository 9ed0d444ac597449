//! `GET /metrics`: the Prometheus text format, parsed as a scraper would, and counters that move with
//! what clients do through every API.

use crate::cli_helpers;
use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cli_helpers::Sandbox;
use common::{CONDITION_DEADLINE, Enc, Server};

/// Samples by `name{labels}` as written (labels in the server's order).
type Samples = BTreeMap<String, f64>;

/// Parses an exposition, checking its shape: every sample belongs to a family with `# HELP` and
/// `# TYPE` lines before it, and every value is a number.
fn parse(text: &str) -> Samples {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = std::collections::BTreeSet::new();
    let mut samples = Samples::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(!help.is_empty(), "empty help: {line}");
            helped.insert(name.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "type {kind}: {line}"
            );
            typed.insert(name.to_string(), kind.to_string());
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("name value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line}"));
        let name = series.split('{').next().unwrap_or(series);
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "no # TYPE for {family}: {line}");
        assert!(helped.contains(family), "no # HELP for {family}: {line}");
        if typed[family] == "counter" {
            assert!(
                name.ends_with("_total"),
                "a counter's name ends in _total: {line}"
            );
        }
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "{series} twice"
        );
    }
    samples
}

fn scrape(server: &Server) -> Samples {
    let r = server.get("/metrics");
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse(&r.text())
}

/// A sample's value; a series never counted yet (requests by code are listed once seen) reads 0.
fn value(samples: &Samples, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

/// Scrapes until `series` reads `want`, for at most `CONDITION_DEADLINE`; returns that scrape.
fn wait_for(server: &Server, series: &str, want: f64) -> Samples {
    let deadline = Instant::now() + CONDITION_DEADLINE;
    loop {
        let samples = scrape(server);
        if value(&samples, series) == want {
            return samples;
        }
        assert!(
            Instant::now() < deadline,
            "{series} never read {want}: {samples:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn lock_counters_and_the_hand_over_histogram_move_with_what_clients_do() {
    let server = Server::start();
    let start = scrape(&server);
    for series in [
        "weblock_grants_total",
        "weblock_releases_total",
        "weblock_locks_held",
        "weblock_handover_seconds_count",
    ] {
        assert_eq!(start.get(series), Some(&0.0), "{series} at start");
    }
    assert!(
        !start.contains_key("weblock_journal_syncs_total"),
        "no journal without --state"
    );

    let alice = server.grab_ok(Enc::Form, &[("id", "db"), ("holder", "alice")]);
    let busy = server.post("/grab", Enc::Form, &[("id", "db")]);
    assert_eq!(busy.status, 409, "{busy}");
    let s = scrape(&server);
    assert_eq!(value(&s, "weblock_grants_total"), 1.0);
    assert_eq!(value(&s, "weblock_locks_held"), 1.0);
    assert_eq!(value(&s, "weblock_lock_holders"), 1.0);
    assert_eq!(value(&s, "weblock_denials_total{namespace=\"locks\"}"), 1.0);
    assert_eq!(
        value(&s, "weblock_requests_total{api=\"webmutex\",code=\"200\"}"),
        1.0
    );
    assert_eq!(
        value(&s, "weblock_requests_total{api=\"webmutex\",code=\"409\"}"),
        1.0
    );

    // A parked waiter is handed the lock by the release: one hand-over timed.
    let waiter = common::spawn_grab(
        server.addr(),
        Enc::Form,
        &[("id", "db"), ("holder", "bob"), ("wait", "30")],
        Duration::from_secs(30),
    );
    wait_for(&server, "weblock_lock_waiters", 1.0);
    server.release_ok(Enc::Form, "db", alice["token"].as_str().expect("a token"));
    let granted = common::recv_within(&waiter, Duration::from_secs(10), "bob's grant")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(granted.status, 200, "{granted}");
    let s = wait_for(&server, "weblock_handover_seconds_count", 1.0);
    assert_eq!(value(&s, "weblock_releases_total"), 1.0);
    assert_eq!(value(&s, "weblock_grants_total"), 2.0);
    assert_eq!(value(&s, "weblock_lock_waiters"), 0.0);
    assert_eq!(
        value(&s, "weblock_handover_seconds_bucket{le=\"+Inf\"}"),
        1.0
    );
    assert!(value(&s, "weblock_handover_seconds_sum") > 0.0, "{s:#?}");
    // Buckets are cumulative.
    let buckets: Vec<f64> = s
        .iter()
        .filter(|(k, _)| k.starts_with("weblock_handover_seconds_bucket"))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(buckets.len(), 15, "{s:#?}");

    // A wait that runs out, and a lease that does.
    let timed_out = server.post(
        "/grab",
        Enc::Form,
        &[("id", "db"), ("holder", "carol"), ("wait", "0.1")],
    );
    assert_eq!(timed_out.status, 409, "{timed_out}");
    assert_eq!(value(&scrape(&server), "weblock_timeouts_total"), 1.0);
    server.grab_ok(Enc::Form, &[("id", "lease"), ("ttl", "0.1")]);
    let s = wait_for(&server, "weblock_expiries_total", 1.0);
    assert_eq!(value(&s, "weblock_grants_total"), 3.0);
}

#[test]
fn requests_are_counted_by_api_and_status_and_gates_by_state() {
    let server = Server::start();
    let hal = server.request(
        "POST",
        "/locks/build7",
        &[("Content-Type", "application/json")],
        br#"{"title": "ci job 7"}"#,
    );
    assert_eq!(hal.status, 201, "{hal}");
    assert_eq!(server.get("/v1/locks/nothing/").status, 404);
    assert_eq!(server.get("/no/such/path").status, 404);
    let json = [("Content-Type", "application/json")];
    let r = server.request(
        "POST",
        "/api/services/shop",
        &json,
        br#"{"group": "g", "environments": ["testing", "live"]}"#,
    );
    assert_eq!(r.status, 200, "{r}");
    let r = server.request(
        "PUT",
        "/api/services/shop/live",
        &json,
        br#"{"state": "closed", "message": "m"}"#,
    );
    assert_eq!(r.status, 200, "{r}");
    let body = br#"{"services": {"shop": ["live"]}}"#;
    let denied = server.request("PUT", "/api/services", &json, body);
    assert_eq!(denied.json()["status"], "denied", "{denied}");
    let queued = server.request("PUT", "/api/services?queue=true", &json, body);
    assert_eq!(queued.json()["status"], "queue", "{queued}");
    let granted = server.request(
        "PUT",
        "/api/services",
        &json,
        br#"{"services": {"shop": ["testing"]}}"#,
    );
    assert_eq!(granted.json()["status"], "ok", "{granted}");

    let s = scrape(&server);
    let requests = |api: &str, code: u16| {
        value(
            &s,
            &format!("weblock_requests_total{{api=\"{api}\",code=\"{code}\"}}"),
        )
    };
    assert_eq!(requests("hal", 201), 1.0);
    assert_eq!(requests("request_queue", 404), 1.0);
    assert_eq!(requests("other", 404), 1.0);
    assert_eq!(requests("gatekeeper", 200), 5.0);
    assert_eq!(value(&s, "weblock_locks_held"), 1.0, "the HAL lock");
    assert_eq!(
        value(&s, "weblock_gates_closed"),
        2.0,
        "live by hand, testing by its ticket"
    );
    assert_eq!(value(&s, "weblock_tickets{state=\"granted\"}"), 1.0);
    assert_eq!(value(&s, "weblock_tickets{state=\"queued\"}"), 1.0);
    assert_eq!(value(&s, "weblock_denials_total{namespace=\"gates\"}"), 1.0);
    assert_eq!(
        value(&s, "weblock_gate_changes_total{change=\"closed\"}"),
        1.0
    );
    assert_eq!(
        value(&s, "weblock_ticket_changes_total{change=\"queued\"}"),
        1.0
    );
    assert_eq!(
        value(&s, "weblock_ticket_changes_total{change=\"granted\"}"),
        1.0
    );
    // The scrape itself is a request of its own kind.
    assert_eq!(requests("other", 200), 0.0, "counted once answered");
    assert_eq!(
        value(
            &scrape(&server),
            "weblock_requests_total{api=\"other\",code=\"200\"}"
        ),
        1.0
    );

    let r = server.post_empty("/metrics");
    assert_eq!(r.status, 405, "{r}");
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

#[test]
fn metrics_need_the_secret_under_auth_file() {
    let sandbox = Sandbox::new("metrics-auth");
    let server = Server::builder()
        .secrets(&sandbox.path("secrets"), "scrape-secret\n")
        .start();
    let r = server.get("/metrics");
    assert_eq!(r.status, 401, "{r}");
    r.assert_fail_json();
    let r = server.request(
        "GET",
        "/metrics",
        &[("Authorization", "Bearer scrape-secret")],
        b"",
    );
    assert_eq!(r.status, 200, "{r}");
    let s = parse(&r.text());
    assert_eq!(
        value(&s, "weblock_requests_total{api=\"other\",code=\"401\"}"),
        1.0
    );
}

#[test]
fn with_state_the_journal_syncs_and_commands_are_counted() {
    let sandbox = Sandbox::new("metrics-state");
    let state = sandbox.path("state.journal");
    let server = Server::builder()
        .args(&["--state", state.to_str().expect("UTF-8 path")])
        .start();
    let before = scrape(&server);
    let grant = server.grab_ok(Enc::Form, &[("id", "db")]);
    server.release_ok(Enc::Form, "db", grant["token"].as_str().expect("a token"));
    let after = scrape(&server);
    let commands = "weblock_journal_commands_total";
    let syncs = "weblock_journal_syncs_total";
    // Restart's own command is journaled at start; then the grab and the release.
    assert_eq!(value(&after, commands) - value(&before, commands), 2.0);
    // Each answered change was synced before its answer: at least one sync each (no other client
    // shared them).
    assert!(
        value(&after, syncs) - value(&before, syncs) >= 2.0,
        "{before:#?} {after:#?}"
    );
}

/// Answers the connection layer gives by itself are requests too: the 408 to a client too slow to
/// send its request, and the 503 to one that finds every connection busy.
#[test]
fn the_connection_layers_own_408_and_503_are_counted() {
    let server = Server::builder()
        .args(&["--request-timeout", "300ms", "--max-connections", "2"])
        .start();
    // Two connections in the middle of a request: neither is idle, so neither can make room.
    let mut slow: Vec<common::Conn> = (0..2).map(|_| server.connect()).collect();
    for conn in &mut slow {
        conn.send(b"GET /status HTTP/1.1\r\nHost: t\r\n");
    }
    let mut third = server.connect();
    let refused = third.read_response();
    assert_eq!(refused.status, 503, "{refused}");
    for conn in &mut slow {
        let cut = conn.read_response();
        assert_eq!(cut.status, 408, "{cut}");
    }
    drop(slow);
    let samples = wait_for(
        &server,
        r#"weblock_requests_total{api="other",code="408"}"#,
        2.0,
    );
    assert_eq!(
        value(
            &samples,
            r#"weblock_requests_total{api="other",code="503"}"#
        ),
        1.0,
        "{samples:#?}"
    );
}
