//! The dashboard's HTTP side (issue 20), over the raw client: a cross-site request cannot change
//! anything, `GET /events` is in order and bounded, `GET /` says what the server is, and the per-lock
//! metrics name at most `--metrics-locks` locks. The page itself is driven in `tests/dashboard.rs`.

use crate::cli_helpers;
use crate::common;

use common::{Enc, Server};
use serde_json::Value;

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn create_service(server: &Server, name: &str) {
    let r = server.request(
        "POST",
        &format!("/api/services/{name}"),
        &[JSON],
        br#"{"group": "g", "environments": ["live", "testing"]}"#,
    );
    assert_eq!(r.status, 200, "{r}");
}

fn gate_state(server: &Server, gate: &str) -> Value {
    let r = server.get(&format!("/api/services/{gate}"));
    assert_eq!(r.status, 200, "{r}");
    r.json()["state"].clone()
}

#[test]
fn a_request_from_another_origin_changes_nothing() {
    let server = Server::start();
    create_service(&server, "shop");
    let close = br#"{"state": "closed", "message": "from elsewhere"}"#;
    // A form on another site (browsers send Origin with every POST/PUT/DELETE), an opaque origin,
    // and a fetch the browser marks cross-site: 403 in the API's words, and the gate stays open.
    // The test client says `Host: weblock.test`.
    let own = "http://weblock.test".to_string();
    let foreign = [
        vec![("Origin", "http://evil.example")],
        vec![("Origin", "null")],
        vec![("Origin", "http://127.0.0.1:1")],
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![("Origin", own.as_str()), ("Sec-Fetch-Site", "same-site")],
    ];
    for headers in &foreign {
        let mut h = vec![JSON];
        h.extend(headers.iter().copied());
        let r = server.request("PUT", "/api/services/shop/live", &h, close);
        assert_eq!(r.status, 403, "{headers:?}: {r}");
        assert_eq!(r.json()["status"], "error", "{r}");
        assert!(
            r.json()["reason"]
                .as_str()
                .is_some_and(|s| s.contains("cross-site")),
            "{r}"
        );
    }
    assert_eq!(gate_state(&server, "shop/live"), "open");
    // A cross-site form's POST to a WebMutex endpoint: refused in WebMutex's words.
    let (ct, body) = Enc::Form.encode(&[("id", "db")]);
    let r = server.request(
        "POST",
        "/grab",
        &[("Content-Type", &ct), ("Origin", "https://evil.example")],
        &body,
    );
    assert_eq!(r.status, 403, "{r}");
    r.assert_fail_json();
    assert_eq!(server.status("db")["in_use"], false);

    // Reads are not refused (a cross-site page cannot read the answer anyway).
    let r = server.request("GET", "/status", &[("Origin", "http://evil.example")], b"");
    assert_eq!(r.status, 200, "{r}");

    // Same origin (the dashboard) and no Origin at all (the CLI, curl): allowed.
    let origin = own.clone();
    let r = server.request(
        "PUT",
        "/api/services/shop/live",
        &[JSON, ("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
        close,
    );
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(gate_state(&server, "shop/live"), "closed");
    let r = server.request(
        "PUT",
        "/api/services/shop/live",
        &[JSON],
        br#"{"state": "open"}"#,
    );
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(gate_state(&server, "shop/live"), "open");
}

#[test]
fn events_come_in_order_from_where_the_caller_left_off_and_are_bounded() {
    let server = Server::builder().args(&["--log-format", "off"]).start();
    let first = server.get("/events");
    assert_eq!(first.status, 200, "{first}");
    assert_eq!(first.json()["events"].as_array().map(Vec::len), Some(0));
    let start = first.json()["next"].as_u64().expect("next");

    // 600 grants and releases: more than the ring keeps (500).
    for i in 0..300 {
        let grant = server.grab_ok(Enc::Form, &[("id", "db"), ("holder", &format!("job {i}"))]);
        let token = grant["token"].as_str().expect("a token").to_string();
        server.release_ok(Enc::Form, "db", &token);
    }
    let all = server.get("/events").json();
    let events = all["events"].as_array().expect("events").clone();
    assert_eq!(events.len(), 500, "bounded");
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] + 1 == w[1]),
        "in order, none missing"
    );
    assert_eq!(all["next"].as_u64(), Some(start + 600));
    let last = &events[499];
    assert_eq!(last["event"], "release");
    assert_eq!(events[498]["event"], "grant");
    assert_eq!(events[498]["holder"], "job 299");
    assert_eq!(events[498]["resource"], "db");

    // From where the caller left off; `missed` once what it asked for is gone.
    let tail = server.get(&format!("/events?since={}", start + 597)).json();
    let tail_seqs: Vec<u64> = tail["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert_eq!(tail_seqs, [start + 598, start + 599]);
    assert_eq!(tail["missed"], false);
    let old = server
        .get(&format!("/events?since={}&limit=3", start + 1))
        .json();
    assert_eq!(old["missed"], true);
    assert_eq!(old["events"].as_array().map(Vec::len), Some(3));
    assert_eq!(old["events"][0]["seq"].as_u64(), Some(seqs[0]));

    for bad in ["/events?since=x", "/events?since=-1", "/events?limit=0"] {
        let r = server.get(bad);
        assert_eq!(r.status, 400, "{bad}: {r}");
        r.assert_fail_json();
    }
    let r = server.request("POST", "/events", &[], b"");
    assert_eq!(r.status, 405, "{r}");
}

#[test]
fn gate_changes_are_recent_changes_too() {
    let server = Server::start();
    create_service(&server, "shop");
    let r = server.request(
        "PUT",
        "/api/services/shop/live",
        &[JSON],
        br#"{"state": "closed", "message": "release. -Jens"}"#,
    );
    assert_eq!(r.status, 200, "{r}");
    let events = server.get("/events").json();
    let kinds: Vec<(&str, &str)> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or(""),
                e["resource"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("service_created", "shop"), ("gate_closed", "shop:live")]
    );
    assert_eq!(events["events"][1]["message"], "release. -Jens");
    assert!(events["events"][1]["ts"].is_string());
}

#[test]
fn a_client_that_is_not_a_browser_learns_what_the_server_is() {
    let server = Server::builder()
        .args(&["--state", &state_path("identity")])
        .start();
    for accept in [None, Some("*/*"), Some("application/json")] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let r = server.request("GET", "/", &headers, b"");
        assert_eq!(r.status, 200, "Accept {accept:?}: {r}");
        let v = r.json();
        assert_eq!(v["service"], "weblock");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
        assert!(v["uptime"].is_u64(), "{v}");
        assert_eq!(v["store"], "file", "{v}");
        assert!(v["docs"].is_string(), "{v}");
    }
    let r = server.request("POST", "/", &[], b"");
    assert_eq!(r.status, 405, "{r}");
}

fn state_path(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("control-room-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a state directory");
    dir.join("state").to_string_lossy().into_owned()
}

/// `name{labels} value` lines of `family` (its samples only).
fn samples<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

#[test]
fn per_lock_metrics_name_the_busiest_locks_and_sum_the_rest() {
    let server = Server::builder()
        .args(&["--metrics-locks", "3", "--log-format", "off"])
        .start();
    // Ten locks held; lock0 and lock1 with waiters (parked grabs).
    let mut waiters = Vec::new();
    for i in 0..10 {
        server.grab_ok(Enc::Form, &[("id", &format!("lock{i}")), ("holder", "h")]);
    }
    for (lock, n) in [("lock0", 2u64), ("lock1", 1)] {
        for _ in 0..n {
            waiters.push(common::spawn_grab(
                server.addr(),
                Enc::Form,
                &[("id", lock), ("wait", "30")],
                std::time::Duration::from_secs(40),
            ));
        }
        server.wait_for_waiting(lock, n);
    }
    let text = server.get("/metrics").text();
    let waiting = samples(&text, "weblock_lock_waiting");
    assert_eq!(waiting.len(), 4, "3 named and other: {waiting:#?}");
    assert!(
        waiting.contains(&"weblock_lock_waiting{lock=\"lock0\"} 2"),
        "{waiting:#?}"
    );
    assert!(
        waiting.contains(&"weblock_lock_waiting{lock=\"lock1\"} 1"),
        "{waiting:#?}"
    );
    assert!(
        waiting.contains(&"weblock_lock_waiting{lock=\"other\"} 0"),
        "{waiting:#?}"
    );
    assert_eq!(samples(&text, "weblock_lock_held_seconds").len(), 4);
    // Every grant's wait (10 at once): 3 locks by name, the rest under other.
    let counts = samples(&text, "weblock_lock_wait_seconds_count");
    assert_eq!(counts.len(), 4, "{counts:#?}");
    assert!(
        counts.contains(&"weblock_lock_wait_seconds_count{lock=\"other\"} 7"),
        "{counts:#?}"
    );
    assert_eq!(
        samples(&text, "weblock_lock_wait_seconds_bucket").len(),
        4 * 12
    );
    assert!(text.contains(&format!(
        "weblock_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    let start = samples(&text, "weblock_start_time_seconds");
    assert_eq!(start.len(), 1, "{start:?}");

    // Many more locks: the series stay 3 + other.
    for i in 10..200 {
        server.grab_ok(Enc::Form, &[("id", &format!("lock{i}")), ("holder", "h")]);
    }
    let text = server.get("/metrics").text();
    assert_eq!(samples(&text, "weblock_lock_waiting").len(), 4);
    assert_eq!(samples(&text, "weblock_lock_wait_seconds_count").len(), 4);
    let total: f64 = samples(&text, "weblock_lock_wait_seconds_count")
        .iter()
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum();
    assert_eq!(total, 200.0, "every grant counted once");
    drop(waiters);
}

/// The dashboard asks for the administrator's credentials itself: its requests (`X-Requested-With`)
/// get their 401 without a Basic challenge, which would make a browser put up its own prompt.
#[test]
fn a_page_script_gets_no_basic_challenge_from_an_administrative_request() {
    let dir = std::path::PathBuf::from(state_path("admin")).with_file_name("admin");
    std::fs::write(&dir, "root:pw\n").expect("write credentials");
    let server = Server::builder()
        .args(&["--admin-credentials", dir.to_str().expect("UTF-8")])
        .start();
    server.grab_ok(Enc::Form, &[("id", "db")]);
    let (ct, body) = Enc::Form.encode(&[("id", "db")]);
    let plain = server.request("POST", "/break", &[("Content-Type", &ct)], &body);
    assert_eq!(plain.status, 401, "{plain}");
    assert!(plain.header("www-authenticate").is_some(), "{plain}");
    let page = server.request(
        "POST",
        "/break",
        &[
            ("Content-Type", &ct),
            ("X-Requested-With", "weblock-dashboard"),
        ],
        &body,
    );
    assert_eq!(page.status, 401, "{page}");
    assert!(page.header("www-authenticate").is_none(), "{page}");
    assert_eq!(server.status("db")["in_use"], true);
}

/// A gate ticket carries who asked for it: the gatekeeper API's `holder` (checked as a lock's is), its
/// place in each gate's `queue_holders`, and what `weblock gate enter` sends (`user@host pid`, or
/// `WEBLOCK_HOLDER`), which `weblock status` shows.
#[test]
fn a_ticket_says_who_asked_for_it() {
    let server = Server::start();
    create_service(&server, "shop");
    let r = server.request(
        "PUT",
        "/api/services",
        &[JSON],
        br#"{"services": {"shop": ["live"]}, "holder": "alice@build3 pid 42"}"#,
    );
    assert_eq!(r.json()["status"], "ok", "{r}");
    assert_eq!(r.json()["ticket"]["holder"], "alice@build3 pid 42", "{r}");
    for bad in [
        r#""holder": 7"#.to_string(),
        r#""holder": "two\nlines""#.to_string(),
        format!(r#""holder": "{}""#, "x".repeat(257)),
    ] {
        let body = format!(r#"{{"services": {{"shop": ["testing"]}}, {bad}}}"#);
        let r = server.request("PUT", "/api/services", &[JSON], body.as_bytes());
        assert_eq!(r.status, 400, "{bad}: {r}");
        assert_eq!(r.json()["status"], "error", "{r}");
    }

    // The CLI waits in line behind alice, and says who it is.
    let sandbox = cli_helpers::Sandbox::new("ticket-holder");
    let url = format!("http://{}", server.addr());
    let mut cmd = cli_helpers::weblock_at(&url, &sandbox.path("state"));
    cmd.env("WEBLOCK_HOLDER", "bob@ci7 pid 77").args([
        "gate",
        "enter",
        "--queue",
        "--timeout",
        "30s",
        "shop:live",
        "--",
        "true",
    ]);
    let mut waiter = sandbox.spawn(cmd);
    let mut holders = Value::Null;
    cli_helpers::wait_until(
        std::time::Duration::from_secs(10),
        "bob in shop:live's queue",
        || {
            holders = gate_doc(&server, "shop/live")["queue_holders"].clone();
            holders == serde_json::json!(["alice@build3 pid 42", "bob@ci7 pid 77"])
        },
    );
    let mut status = cli_helpers::weblock_at(&url, &sandbox.path("state"));
    status.arg("status");
    let out = sandbox.run(status);
    out.expect_ok();
    assert!(
        out.stdout.contains("(alice@build3 pid 42)") && out.stdout.contains("(bob@ci7 pid 77)"),
        "{out}"
    );
    // Alice's ticket ends: bob goes through and leaves.
    let alice = r.json()["ticket"]["id"].as_str().map(str::to_string);
    let first = gate_doc(&server, "shop/live")["queue"][0]["id"]
        .as_str()
        .map(str::to_string);
    assert!(alice.is_none() || alice == first);
    let first = first.expect("alice's ticket");
    let r = server.request("DELETE", &format!("/api/tickets/{first}"), &[], b"");
    assert_eq!(r.status, 200, "{r}");
    waiter
        .finish_within(std::time::Duration::from_secs(20))
        .expect_ok();
}

fn gate_doc(server: &Server, gate: &str) -> Value {
    let r = server.get(&format!("/api/services/{gate}"));
    assert_eq!(r.status, 200, "{r}");
    r.json()
}

/// `GET /history`: per lock, a minute at a time, the longest line and the grants with their waits.
#[test]
fn the_last_hour_of_a_lock_is_kept_by_the_minute() {
    let server = Server::builder().args(&["--log-format", "off"]).start();
    let grant = server.grab_ok(Enc::Form, &[("id", "db"), ("holder", "alice")]);
    let token = grant["token"].as_str().expect("a token").to_string();
    // Two waiters, in a known order.
    let waiters: Vec<_> = (1..=2)
        .map(|n| {
            let waiter = common::spawn_grab(
                server.addr(),
                Enc::Form,
                &[("id", "db"), ("wait", "30")],
                std::time::Duration::from_secs(40),
            );
            server.wait_for_waiting("db", n);
            waiter
        })
        .collect();
    server.release_ok(Enc::Form, "db", &token);
    // The next in line is granted only once the one before has released.
    let mut granted = 0;
    for waiter in &waiters {
        let answer = common::recv_within(waiter, std::time::Duration::from_secs(10), "a grant")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(answer.status, 200, "{answer}");
        granted += 1;
        let token = answer.json()["token"].as_str().expect("token").to_string();
        server.release_ok(Enc::Form, "db", &token);
    }
    assert_eq!(granted, 2);
    let h = server.get("/history");
    assert_eq!(h.status, 200, "{h}");
    let minutes = h.json()["locks"]["db"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!minutes.is_empty() && minutes.len() <= 2, "{h}");
    let waiting: u64 = minutes
        .iter()
        .filter_map(|m| m["waiting"].as_u64())
        .max()
        .unwrap_or(0);
    let grants: u64 = minutes.iter().filter_map(|m| m["grants"].as_u64()).sum();
    assert_eq!((waiting, grants), (2, 3), "{h}");
    assert!(
        minutes
            .iter()
            .all(|m| m["minute"].is_string() && m["waited_max"].is_number())
    );
    let r = server.request("DELETE", "/history", &[], b"");
    assert_eq!(r.status, 405, "{r}");
}
