//! Several `weblock serve --store etcd://…` as one lock service, black-box: CLI workers spread over
//! three servers never overlap, FIFO order and fences hold across servers, a SIGKILLed server's
//! waiters leave while its holders keep their locks, a new server catches up, and an etcd that stops
//! answering gives 503s with a reason until it is back, with no help.
//!
//! Needs Debian's `etcd-server` (`/usr/bin/etcd`); without it each test prints one "skipped" line,
//! or fails when `WEBLOCK_REQUIRE_ETCD=1` (as CI sets it).
use crate::cli_helpers;
use crate::common;

use std::time::{Duration, Instant};

use cli_helpers::{Sandbox, assert_sections, section_workers, wait_until};
use common::etcd::{self, Etcd};
use common::*;
use serde_json::Value;

/// How long the others take to notice a dead server: its lease, a heartbeat, and slack for a busy
/// machine.
const DEAD_SERVER_NOTICED: Duration = Duration::from_secs(20);
/// How long servers may take to recover once etcd is back.
const RECOVERY: Duration = Duration::from_secs(30);

/// `n` servers sharing one fresh prefix on the test process's etcd.
fn cluster(n: usize) -> (String, Vec<Server>) {
    let store = etcd::fresh_store();
    let servers = (0..n)
        .map(|_| Server::builder().args(&["--store", &store]).start())
        .collect();
    (store, servers)
}

fn token(v: &Value) -> String {
    v["token"].as_str().unwrap_or_default().to_string()
}

fn fence(v: &Value) -> u64 {
    v["fence"]
        .as_u64()
        .unwrap_or_else(|| panic!("no fence in {v}"))
}

#[test]
fn cli_workers_on_three_servers_never_overlap_and_fences_grow() {
    if !etcd::available("cli_workers_on_three_servers_never_overlap_and_fences_grow") {
        return;
    }
    const WORKERS: usize = 6;
    const ROUNDS: usize = 5;
    let (_, servers) = cluster(3);
    let sb = Sandbox::new("etcd-workers");
    let log = sb.path("log");
    let urls: Vec<String> = servers.iter().map(|s| s.url("")).collect();
    let mut workers = section_workers(&sb, &urls, WORKERS, ROUNDS, "0.02", &log);
    for w in &mut workers {
        w.finish_within(Duration::from_secs(90)).expect_ok();
    }
    assert_sections(&log, WORKERS * ROUNDS);
    for s in &servers {
        assert_eq!(
            s.status("L")["in_use"],
            false,
            "released, seen from every server"
        );
    }
}

#[test]
fn waiters_queued_through_different_servers_are_granted_in_queue_order() {
    if !etcd::available("waiters_queued_through_different_servers_are_granted_in_queue_order") {
        return;
    }
    let (_, servers) = cluster(3);
    let first = servers[0].grab_ok(Enc::Form, &[("id", "q"), ("holder", "first")]);
    let mut waiters = Vec::new();
    for i in 0..5 {
        let via = &servers[(i + 1) % servers.len()];
        let holder = format!("w{i}");
        let rx = spawn_grab(
            via.addr(),
            Enc::Form,
            &[("id", "q"), ("holder", &holder), ("wait", "30")],
            Duration::from_secs(40),
        );
        // Queued before the next is sent: the queue's order is this one.
        servers[i % servers.len()].wait_for_waiting("q", i as u64 + 1);
        waiters.push((holder, via, rx));
    }
    let mut release_via = &servers[0];
    let mut last = fence(&first);
    let mut held = token(&first);
    for (holder, via, rx) in &waiters {
        release_via.release_ok(Enc::Form, "q", &held);
        let r = recv_within(rx, Duration::from_secs(30), holder).expect("an answer");
        assert_eq!(r.status, 200, "{holder} is granted next: {r}");
        let grant = r.json();
        assert!(fence(&grant) > last, "fences grow: {grant}");
        for s in &servers {
            let status = s.status("q");
            assert_eq!(
                status["holder"],
                holder.as_str(),
                "the same holder everywhere: {status}"
            );
        }
        last = fence(&grant);
        held = token(&grant);
        release_via = via;
    }
    release_via.release_ok(Enc::Form, "q", &held);
}

#[test]
fn a_killed_servers_waiters_leave_the_queue_and_its_holders_keep_their_locks() {
    if !etcd::available("a_killed_servers_waiters_leave_the_queue_and_its_holders_keep_their_locks")
    {
        return;
    }
    let (_, mut servers) = cluster(2);
    let alive = servers.remove(1);
    let mut doomed = servers.remove(0);
    let a = alive.grab_ok(Enc::Form, &[("id", "L"), ("holder", "alice")]);
    let c = doomed.grab_ok(Enc::Form, &[("id", "M"), ("holder", "carol")]);
    let bob = spawn_grab(
        doomed.addr(),
        Enc::Form,
        &[("id", "L"), ("holder", "bob"), ("wait", "60")],
        Duration::from_secs(70),
    );
    alive.wait_for_waiting("L", 1);

    doomed.kill9();
    let answer = recv_within(&bob, Duration::from_secs(10), "bob's connection ends");
    assert!(
        answer.is_err(),
        "bob's wait ends with its server: {answer:?}"
    );
    let deadline = Instant::now() + DEAD_SERVER_NOTICED;
    let s = loop {
        let s = alive.status("L");
        if s["waiting"] == 0 || Instant::now() >= deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        s["waiting"], 0,
        "the dead server's waiter left the queue: {s}"
    );
    assert_eq!(s["holder"], "alice", "alice still holds L: {s}");
    let m = alive.status("M");
    assert_eq!(
        m["holder"], "carol",
        "the dead server's holder keeps M: {m}"
    );
    assert_eq!(fence(&m), fence(&c));

    alive.release_ok(Enc::Form, "L", &token(&a));
    let s = alive.status("L");
    assert_eq!(s["in_use"], false, "bob never became a phantom holder: {s}");
}

#[test]
fn a_new_server_catches_up_with_the_shared_state_and_serves() {
    if !etcd::available("a_new_server_catches_up_with_the_shared_state_and_serves") {
        return;
    }
    let (store, mut servers) = cluster(2);
    let x = servers[0].grab_ok(Enc::Form, &[("id", "x"), ("holder", "one")]);
    servers[0].kill9();
    let y = servers[1].grab_ok(Enc::Form, &[("id", "y"), ("holder", "two")]);
    let again = Server::builder().args(&["--store", &store]).start();
    assert_eq!(
        again.status("x")["holder"],
        "one",
        "what was done before it started"
    );
    assert_eq!(
        again.status("y")["fence"],
        fence(&y),
        "and through the other server"
    );
    let z = again.grab_ok(Enc::Form, &[("id", "z"), ("holder", "three")]);
    assert!(
        fence(&z) > fence(&y) && fence(&y) > fence(&x),
        "fences go on: {z}"
    );
    assert_eq!(
        servers[1].status("z")["holder"],
        "three",
        "seen by the others"
    );
    again.release_ok(Enc::Form, "x", &token(&x));
    assert_eq!(servers[1].status("x")["in_use"], false);
}

#[test]
fn when_etcd_stops_answering_changes_get_503_and_the_servers_recover_by_themselves() {
    if !etcd::available(
        "when_etcd_stops_answering_changes_get_503_and_the_servers_recover_by_themselves",
    ) {
        return;
    }
    let mut own = Etcd::start();
    let store = own.store_url("outage");
    let servers = [
        Server::builder().args(&["--store", &store]).start(),
        Server::builder().args(&["--store", &store]).start(),
    ];
    let a = servers[0].grab_ok(Enc::Form, &[("id", "a"), ("holder", "before")]);

    own.signal(libc::SIGSTOP);
    let r = servers[1].post("/grab", Enc::Form, &[("id", "b")]);
    assert_eq!(r.status, 503, "a change while etcd is frozen: {r}");
    let body = r.json();
    assert_eq!(body["status"], "fail", "{body}");
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("etcd"), "the reason names etcd: {reason}");
    let r = servers[0].get("/status?id=a");
    assert_eq!(r.status, 503, "no answer from possibly stale state: {r}");

    own.signal(libc::SIGCONT);
    wait_until(
        RECOVERY,
        "a change succeeds once etcd answers again",
        || servers[1].post("/grab", Enc::Form, &[("id", "c")]).status == 200,
    );

    own.restart();
    wait_until(
        RECOVERY,
        "both servers serve again after etcd restarts",
        || servers.iter().all(|s| s.get("/status?id=a").status == 200),
    );
    assert_eq!(
        servers[1].status("a")["fence"],
        fence(&a),
        "nothing was lost"
    );
    let d = servers[1].grab_ok(Enc::Form, &[("id", "d")]);
    assert!(fence(&d) > fence(&a), "fences go on after the outage: {d}");
}

/// etcd's answer to a range request (`/v3/kv/range` on its JSON gateway) with `body`; `None` when it
/// cannot be asked.
fn etcd_range(etcd: &Etcd, body: &str) -> Option<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let url = format!("http://127.0.0.1:{}/v3/kv/range", etcd.client_port);
    let mut r = agent.post(&url).send(body.as_bytes()).ok()?;
    r.body_mut().read_to_string().ok()
}

/// How many servers have their liveness key under `frozen/servers/` on `etcd`.
fn registered(etcd: &Etcd) -> usize {
    // The range from "frozen/servers/" to the end of its prefix, "frozen/servers0".
    let key = weblock::base64::encode(b"frozen/servers/");
    let end = weblock::base64::encode(b"frozen/servers0");
    let body = format!(r#"{{"key":"{key}","range_end":"{end}","count_only":true}}"#);
    let text = etcd_range(etcd, &body).unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or_default();
    v["count"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn waiters_parked_on_a_live_server_keep_their_place_when_etcd_freezes_past_the_leases() {
    if !etcd::available(
        "waiters_parked_on_a_live_server_keep_their_place_when_etcd_freezes_past_the_leases",
    ) {
        return;
    }
    let own = Etcd::start();
    let store = own.store_url("frozen");
    let servers = [
        Server::builder().args(&["--store", &store]).start(),
        Server::builder().args(&["--store", &store]).start(),
    ];
    let a = servers[0].grab_ok(Enc::Form, &[("id", "L"), ("holder", "alice")]);
    let bob = spawn_grab(
        servers[1].addr(),
        Enc::Form,
        &[("id", "L"), ("holder", "bob"), ("wait", "120")],
        Duration::from_secs(130),
    );
    // Both servers have applied bob's entry (a read catches up with the log first); otherwise its
    // own server could apply it only after the freeze, too late for bob's request, which would
    // rightly end with a 503 ("may or may not have taken effect").
    for server in &servers {
        server.wait_for_waiting("L", 1);
    }

    // Frozen longer than the servers' liveness leases (5s): etcd expires them all when it thaws,
    // and each server registers again. Neither died; neither's waiters may be ended.
    own.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_secs(7));
    own.signal(libc::SIGCONT);
    wait_until(RECOVERY, "both servers to register again", || {
        registered(&own) == 2
    });
    wait_until(RECOVERY, "both servers to serve again", || {
        servers.iter().all(|s| s.get("/status?id=L").status == 200)
    });
    // Whatever the servers concluded meanwhile has been applied by the time a change is.
    servers[0].release_ok(Enc::Form, "L", &token(&a));
    let r = recv_within(&bob, Duration::from_secs(30), "bob's answer").expect("an answer");
    assert_eq!(r.status, 200, "bob, still waiting, is granted L: {r}");
}

/// Whether etcd refuses to read `PREFIX/log` as it was at revision 2: its history there is compacted.
fn log_compacted(etcd: &Etcd, prefix: &str) -> bool {
    let key = weblock::base64::encode(format!("{prefix}/log").as_bytes());
    let body = format!(r#"{{"key":"{key}","revision":"2"}}"#);
    etcd_range(etcd, &body).is_some_and(|text| text.contains("compacted"))
}

/// The log stays bounded: each time it passes a snapshot interval (here 25 revisions, through the
/// test knob `WEBLOCK_SNAPSHOT_EVERY`) a snapshot is stored and etcd compacted below it. A server
/// started after that, which can no longer read the log from its start, catches up from the
/// snapshot: the lock held across the compactions is there with its fence, and fences go on.
#[test]
fn snapshots_and_compaction_keep_the_log_bounded_and_a_new_server_catches_up() {
    if !etcd::available("snapshots_and_compaction_keep_the_log_bounded_and_a_new_server_catches_up")
    {
        return;
    }
    let own = Etcd::start();
    let store = own.store_url("bounded");
    let env = [("WEBLOCK_SNAPSHOT_EVERY", "25")];
    let first = Server::builder()
        .args(&["--store", &store])
        .stderr(Stderr::Drained)
        .envs(&env)
        .start();
    let kept = first.grab_ok(Enc::Form, &[("id", "kept"), ("holder", "alice")]);
    let mut last_fence = fence(&kept);
    for _ in 0..40 {
        let churn = first.grab_ok(Enc::Form, &[("id", "churn")]);
        last_fence = fence(&churn);
        first.release_ok(Enc::Form, "churn", &token(&churn));
    }
    wait_until(RECOVERY, "etcd compacted below a stored snapshot", || {
        log_compacted(&own, "bounded")
    });

    let second = Server::builder()
        .args(&["--store", &store])
        .stderr(Stderr::Drained)
        .envs(&env)
        .start();
    let status = second.status("kept");
    assert_eq!(status["holder"], "alice", "{status}");
    assert_eq!(status["fence"].as_u64(), Some(fence(&kept)), "{status}");
    let next = second.grab_ok(Enc::Form, &[("id", "after")]);
    assert!(fence(&next) > last_fence, "{next} after fence {last_fence}");
    // And the first server, which applied the log live, agrees with it.
    assert_eq!(first.status("after")["fence"], next["fence"]);
}

#[test]
fn each_server_says_it_shares_etcd_and_with_how_many_and_lists_every_change() {
    if !etcd::available("each_server_says_it_shares_etcd_and_with_how_many_and_lists_every_change")
    {
        return;
    }
    let (_, servers) = cluster(2);
    for s in &servers {
        let mut last = Value::Null;
        wait_until(DEAD_SERVER_NOTICED, "GET / to count both servers", || {
            last = s.get("/").json();
            last["store"] == "etcd" && last["servers"] == 2
        });
    }
    // A change made through one server is in the other's recent changes too.
    servers[0].grab_ok(Enc::Form, &[("id", "shared"), ("holder", "alice")]);
    wait_until(RECOVERY, "the grant listed by the other server", || {
        let events = servers[1].get("/events").json();
        events["events"].as_array().is_some_and(|list| {
            list.iter()
                .any(|e| e["event"] == "grant" && e["resource"] == "shared")
        })
    });
}
