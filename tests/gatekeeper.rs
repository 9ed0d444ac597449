//! Black-box tests of the gatekeeper API (`/api/services…`, `/api/tickets…`) and of `weblock gate …` /
//! `weblock wait SERVICE:ENV`, against the real `weblock serve`, as the gatekeeper document
//! (shared/seeds/001_07b08c5b732ecf1d.txt) and docs/api.md ("Gatekeeper API") describe them: every
//! request and status code, the test-and-set's atomicity, queued tickets in FIFO order, their expiry
//! (`serve --ticket-ttl 1s` instead of two minutes), the `wait` extensions, and the command line.
//!
//! Conditions are polled with deadlines; every socket has a read timeout; every child process is killed
//! and reaped on drop.

use crate::cli_helpers;
use crate::common;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cli_helpers::{FINISH, Outcome, Proc, Sandbox, free_port, wait_until, weblock_at};
use common::{Conn, Response, Server};
use serde_json::{Value, json};

/// The `Host` the raw client sends, so the `link` of a ticket is on it.
const HOST: &str = "weblock.test";
/// How long a test waits for something that should happen at once (only a broken server hits it).
const PROMPTLY: Duration = Duration::from_secs(5);
/// The read timeout of a client parked on the server: shorter than the 30 s it asks to wait, so an
/// answer that came only when the wait ran out fails the test.
const PARKED_READ: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------------

/// `METHOD target` with a JSON body (or none), on a fresh connection.
fn call(server: &Server, method: &str, target: &str, body: Option<&Value>) -> Response {
    match body {
        Some(b) => raw(server, method, target, &b.to_string()),
        None => server.request(method, target, &[], b""),
    }
}

/// `METHOD target` with `body` as `application/json`, whatever it holds.
fn raw(server: &Server, method: &str, target: &str, body: &str) -> Response {
    server.request(
        method,
        target,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// Asserts the status code and the `{"status": …}` word; returns the body.
fn expect(r: &Response, code: u16, status: &str, what: &str) -> Value {
    assert_eq!(r.status, code, "{what}: {r}");
    assert!(
        r.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{what}: answers are JSON: {r}"
    );
    let v = r.json();
    assert_eq!(v["status"], status, "{what}: {r}");
    v
}

/// Asserts `{"status": "error", "reason": "…phrase…"}` with `code`; returns the reason.
fn expect_error(r: &Response, code: u16, phrase: &str, what: &str) -> String {
    let v = expect(r, code, "error", what);
    let reason = v["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no string reason: {r}"));
    assert!(
        reason.to_lowercase().contains(&phrase.to_lowercase()),
        "{what}: the reason should say {phrase:?}: {r}"
    );
    reason.to_string()
}

fn create(server: &Server, service: &str, group: &str, envs: &[&str]) {
    let r = call(
        server,
        "POST",
        &format!("/api/services/{service}"),
        Some(&json!({"group": group, "environments": envs})),
    );
    expect(&r, 200, "ok", &format!("create {service}"));
}

/// `GET /api/services/{service}`, asserted 200.
fn service(server: &Server, name: &str) -> Value {
    let r = call(server, "GET", &format!("/api/services/{name}"), None);
    assert_eq!(r.status, 200, "GET service {name}: {r}");
    r.json()
}

/// One gate as the service document shows it.
fn gate(server: &Server, svc: &str, env: &str) -> Value {
    let doc = service(server, svc);
    let g = doc["environments"][env].clone();
    assert!(g.is_object(), "{svc} has no gate {env}: {doc}");
    g
}

/// A gate's queue as ticket ids. Each entry is a ticket object, as the original lists them:
/// `{"id", "expiration_date", "updated", "link"}`.
fn queue_of(g: &Value) -> Vec<String> {
    g["queue"]
        .as_array()
        .unwrap_or_else(|| panic!("queue is not a list: {g}"))
        .iter()
        .map(|t| {
            let id = t["id"]
                .as_str()
                .unwrap_or_else(|| panic!("a queue entry is a ticket object: {g}"));
            assert_eq!(
                t["link"],
                format!("http://{HOST}/api/tickets/{id}"),
                "a queued ticket's link: {g}"
            );
            assert!(t["expiration_date"].is_number(), "{g}");
            assert!(t["updated"].is_string(), "{g}");
            id.to_string()
        })
        .collect()
}

/// Asserts a gate's state and queue.
fn assert_gate(server: &Server, svc: &str, env: &str, state: &str, queue: &[&str]) -> Value {
    let g = gate(server, svc, env);
    assert_eq!(g["state"], state, "{svc}:{env} state: {g}");
    assert_eq!(queue_of(&g), queue, "{svc}:{env} queue: {g}");
    g
}

/// Asserts a gate is open with nobody in line (free for a newcomer).
fn assert_free(server: &Server, svc: &str, env: &str) {
    assert_gate(server, svc, env, "open", &[]);
}

/// Asserts a gate is held by `ticket`: it reads closed, and the ticket heads its queue.
fn assert_held(server: &Server, svc: &str, env: &str, ticket: &str) -> Value {
    let g = gate(server, svc, env);
    assert_eq!(g["state"], "closed", "a held gate reads closed: {g}");
    assert_eq!(
        queue_of(&g).first().map(String::as_str),
        Some(ticket),
        "{svc}:{env} should be held by {ticket}: {g}"
    );
    g
}

fn set_gate(server: &Server, svc: &str, env: &str, body: &Value) -> Response {
    call(
        server,
        "PUT",
        &format!("/api/services/{svc}/{env}"),
        Some(body),
    )
}

fn set_ok(server: &Server, svc: &str, env: &str, body: Value) {
    let r = set_gate(server, svc, env, &body);
    expect(&r, 200, "ok", &format!("PUT {svc}/{env} {body}"));
}

/// `PUT /api/services[?queue=true]` with `{"services": …, "ticket"?: …}` (plus `extra` fields).
fn tas(server: &Server, services: &Value, ticket: Option<&str>, queue: bool) -> Response {
    let target = if queue {
        "/api/services?queue=true"
    } else {
        "/api/services"
    };
    let mut body = json!({ "services": services });
    if let Some(t) = ticket {
        body["ticket"] = t.into();
    }
    call(server, "PUT", target, Some(&body))
}

/// The epoch now, in seconds.
fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Asserts a ticket answer (`ok` or `queue`) and returns the ticket's id.
fn expect_ticket(r: &Response, status: &str, what: &str) -> String {
    let before = epoch_now();
    let v = expect(r, 200, status, what);
    let t = &v["ticket"];
    let id = common::assert_uuid(&t["id"], &format!("{what}: ticket id"));
    assert_eq!(
        t["link"],
        format!("http://{HOST}/api/tickets/{id}"),
        "{what}: the link is the ticket's URL on this server: {v}"
    );
    assert_gatekeeper_time(&t["updated"], &format!("{what}: updated"));
    let exp = common::num(&t["expiration_date"], &format!("{what}: expiration_date"));
    match status {
        "ok" => assert_eq!(
            exp, 0.0,
            "{what}: a granted ticket's expiration_date is 0: {v}"
        ),
        _ => assert!(
            exp > before - 1.0 && exp < before + 3600.0,
            "{what}: a queued ticket's expiration_date is epoch seconds in the future: {v}"
        ),
    }
    id
}

/// Takes `services` now: the answer must be `ok`; the ticket's id.
fn take(server: &Server, services: &Value) -> String {
    expect_ticket(
        &tas(server, services, None, false),
        "ok",
        &format!("take {services}"),
    )
}

/// Queues for `services`: the answer must be `queue`; the ticket's id.
fn enqueue(server: &Server, services: &Value) -> String {
    expect_ticket(
        &tas(server, services, None, true),
        "queue",
        &format!("queue for {services}"),
    )
}

/// A refresh of `ticket` with `queue=true`; its status word, or `gone` for the original's 404
/// `Ticket does not exist` (expired, deleted, or never was).
fn refresh(server: &Server, services: &Value, ticket: &str) -> String {
    let r = tas(server, services, Some(ticket), true);
    if r.status == 404 {
        let reason = expect_error(&r, 404, "Ticket does not exist", "refresh of a gone ticket");
        assert_eq!(
            reason, "Ticket does not exist",
            "the document's exact phrase"
        );
        return "gone".into();
    }
    assert_eq!(r.status, 200, "refresh of {ticket}: {r}");
    let v = r.json();
    let status = v["status"].as_str().unwrap_or_default().to_string();
    if status != "denied" {
        assert_eq!(
            expect_ticket(&r, &status, "refresh"),
            ticket,
            "a refresh answers with the same ticket: {v}"
        );
    }
    status
}

fn delete_ticket(server: &Server, ticket: &str) -> Response {
    call(server, "DELETE", &format!("/api/tickets/{ticket}"), None)
}

fn delete_ticket_ok(server: &Server, ticket: &str) {
    expect(
        &delete_ticket(server, ticket),
        200,
        "ok",
        &format!("DELETE ticket {ticket}"),
    );
}

/// Polls `f` every few ms until it returns `Some`, for at most `within`.
fn poll<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Polls until the gate's queue has `n` tickets; returns the queue.
fn wait_for_queue_len(server: &Server, svc: &str, env: &str, n: usize) -> Vec<String> {
    poll(PROMPTLY, &format!("{n} ticket(s) in {svc}:{env}"), || {
        let q = queue_of(&gate(server, svc, env));
        (q.len() == n).then_some(q)
    })
}

/// Sends a request that the server will park, on a fresh connection with `PARKED_READ` as its read
/// timeout; the answer is read later from the returned connection.
fn send_parked(server: &Server, method: &str, target: &str, body: Option<&Value>) -> Conn {
    let mut c = server.connect();
    c.set_read_timeout(PARKED_READ);
    let bytes = body.map(Value::to_string).unwrap_or_default();
    c.send_request(
        method,
        target,
        &[
            ("Content-Type", "application/json"),
            ("Connection", "close"),
        ],
        bytes.as_bytes(),
    );
    c
}

/// Asserts no answer came on `c` within a short while (the request is waiting on the server).
fn assert_not_answered(c: &mut Conn, what: &str) {
    let closed = c.closed_by_peer_within(Duration::from_millis(200));
    assert!(
        !closed && c.unread().is_empty(),
        "{what}: answered (or closed) while it should wait: {:?}",
        String::from_utf8_lossy(c.unread())
    );
}

/// `2015-10-27 12:05:38+0000` for `unix_secs`, in UTC.
fn gatekeeper_time(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}+0000",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn now_gatekeeper() -> String {
    gatekeeper_time(epoch_now() as u64)
}

/// Asserts the document's time format, in UTC: `2015-10-27 12:05:38+0000`.
fn assert_gatekeeper_time(v: &Value, what: &str) -> String {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    let b = s.as_bytes();
    let ok = b.len() == 24
        && s.ends_with("+0000")
        && b.iter().take(19).enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    assert!(ok, "{what} {s:?} is not like `2015-10-27 12:05:38+0000`");
    s.to_string()
}

/// Asserts a timestamp in the document's format between two formatted times (inclusive).
fn assert_time_between(v: &Value, before: &str, after: &str, what: &str) {
    let s = assert_gatekeeper_time(v, what);
    assert!(
        before <= s.as_str() && s.as_str() <= after,
        "{what} {s:?} should be between {before} and {after} (UTC)"
    );
}

// ---------------------------------------------------------------------------------------------------
// POST/GET/DELETE /api/services/{service}, GET /api/services
// ---------------------------------------------------------------------------------------------------

#[test]
fn create_makes_open_gates_shown_in_the_documents_shape() {
    let server = Server::start();
    create(
        &server,
        "awesome_service",
        "team12",
        &["testing", "mylivegate"],
    );

    let doc = service(&server, "awesome_service");
    assert_eq!(doc["name"], "awesome_service", "{doc}");
    assert_eq!(doc["group"], "team12", "{doc}");
    let envs = doc["environments"]
        .as_object()
        .expect("environments object");
    let mut names: Vec<&str> = envs.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["mylivegate", "testing"], "{doc}");
    for (name, g) in envs {
        assert_eq!(g["state"], "open", "gates start open: {name}: {doc}");
        assert_eq!(g["message"], "", "{name}: {doc}");
        assert_eq!(
            g["message_timestamp"], "",
            "no message yet, no message time: {doc}"
        );
        assert_eq!(g["queue"], json!([]), "{name}: {doc}");
        let ts = &g["state_timestamp"];
        assert!(
            ts == "" || assert_gatekeeper_time(ts, "state_timestamp").len() == 24,
            "{name}: state_timestamp: {doc}"
        );
        for key in [
            "state",
            "state_timestamp",
            "message",
            "message_timestamp",
            "queue",
        ] {
            assert!(g.get(key).is_some(), "{name} lacks {key}: {doc}");
        }
    }

    // Unknown: 404 in the dialect's words.
    let r = call(&server, "GET", "/api/services/nosuch", None);
    expect_error(&r, 404, "not found", "GET of an unknown service");
}

#[test]
fn create_refuses_invalid_json_invalid_fields_dotted_names_and_an_existing_service() {
    let server = Server::start();
    let cases: &[(&str, &str)] = &[
        (
            "invalid JSON",
            "{\"group\": \"g\", \"environments\": [\"a\"",
        ),
        ("not JSON at all", "{group: g}"),
        ("a JSON list", "[\"a\"]"),
        ("no body", ""),
        ("group missing", r#"{"environments": ["a"]}"#),
        ("group a number", r#"{"group": 12, "environments": ["a"]}"#),
        ("group a list", r#"{"group": ["g"], "environments": ["a"]}"#),
        ("environments missing", r#"{"group": "g"}"#),
        (
            "environments a string",
            r#"{"group": "g", "environments": "a"}"#,
        ),
        (
            "environments an object",
            r#"{"group": "g", "environments": {"a": 1}}"#,
        ),
        (
            "environments empty",
            r#"{"group": "g", "environments": []}"#,
        ),
        (
            "a number among environments",
            r#"{"group": "g", "environments": ["a", 1]}"#,
        ),
        (
            "a null among environments",
            r#"{"group": "g", "environments": [null]}"#,
        ),
        (
            "a gate name with a dot",
            r#"{"group": "g", "environments": ["a", "live.eu"]}"#,
        ),
        (
            "an empty gate name",
            r#"{"group": "g", "environments": [""]}"#,
        ),
        (
            "a gate named twice",
            r#"{"group": "g", "environments": ["a", "a"]}"#,
        ),
    ];
    for (what, body) in cases {
        let r = raw(&server, "POST", "/api/services/svc", body);
        let reason = expect_error(&r, 400, "", &format!("create with {what}"));
        assert!(
            reason.starts_with("Json was not valid")
                || reason.starts_with("Your json contains invalid information"),
            "create with {what}: the reason uses the document's words: {r}"
        );
        let r = call(&server, "GET", "/api/services/svc", None);
        assert_eq!(
            r.status, 404,
            "a refused create creates nothing ({what}): {r}"
        );
    }
    let r = raw(&server, "POST", "/api/services/svc", "{\"group\": ");
    expect_error(&r, 400, "Json was not valid", "truncated JSON");
    let r = raw(
        &server,
        "POST",
        "/api/services/svc",
        r#"{"group": "g", "environments": ["live.eu"]}"#,
    );
    expect_error(&r, 400, "dot", "a dotted gate name");

    create(&server, "svc", "g", &["a"]);
    let r = call(
        &server,
        "POST",
        "/api/services/svc",
        Some(&json!({"group": "other", "environments": ["b"]})),
    );
    expect_error(&r, 400, "already exist", "creating a service that exists");
    let doc = service(&server, "svc");
    assert_eq!(
        doc["group"], "g",
        "the existing service is untouched: {doc}"
    );
    assert!(doc["environments"].get("b").is_none(), "{doc}");
}

#[test]
fn get_services_lists_every_service() {
    let server = Server::start();
    let r = call(&server, "GET", "/api/services", None);
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json(), json!({"services": []}), "no services yet: {r}");

    create(&server, "shop", "team12", &["testing", "live"]);
    create(&server, "pipeline", "ops", &["meta"]);
    let r = call(&server, "GET", "/api/services", None);
    assert_eq!(r.status, 200, "{r}");
    let v = r.json();
    let list = v["services"].as_array().expect("services list");
    let mut names: Vec<&str> = list.iter().filter_map(|s| s["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["pipeline", "shop"], "{v}");
    for s in list {
        assert_eq!(
            *s,
            service(&server, s["name"].as_str().unwrap()),
            "each is its service document"
        );
    }
}

#[test]
fn delete_service_answers_200_then_404_and_drops_only_its_part_of_each_ticket() {
    let server = Server::start();
    create(&server, "shop", "team12", &["live", "testing"]);
    create(&server, "pipeline", "ops", &["meta"]);

    // A granted ticket over both services, one queued behind it, and one of shop alone.
    let both = json!({"shop": ["live"], "pipeline": ["meta"]});
    let holder = take(&server, &both);
    let queued = enqueue(&server, &both);
    let only_shop = take(&server, &json!({"shop": ["testing"]}));
    assert_held(&server, "pipeline", "meta", &holder);

    let r = call(&server, "DELETE", "/api/services/shop", None);
    expect(&r, 200, "ok", "DELETE shop");
    let r = call(&server, "GET", "/api/services/shop", None);
    expect_error(&r, 404, "not found", "GET of a deleted service");
    let r = call(&server, "DELETE", "/api/services/shop", None);
    expect_error(&r, 404, "not found", "DELETE again");
    let r = call(&server, "DELETE", "/api/services/nosuch", None);
    expect_error(&r, 404, "not found", "DELETE of an unknown service");

    // The pipeline still holds its other gate: nobody else gets in.
    assert_held(&server, "pipeline", "meta", &holder);
    let r = tas(&server, &json!({"pipeline": ["meta"]}), None, false);
    expect(&r, 200, "denied", "a newcomer while the survivor holds");
    let again = tas(
        &server,
        &json!({"pipeline": ["meta"]}),
        Some(&holder),
        false,
    );
    assert_eq!(
        expect_ticket(&again, "ok", "the survivor presented"),
        holder
    );
    // The ticket of shop alone is gone.
    let r = delete_ticket(&server, &only_shop);
    expect_error(&r, 404, "does not exist", "DELETE of an ended ticket");
    // The holder leaves: the queued one (now waiting for pipeline:meta only) is next.
    delete_ticket_ok(&server, &holder);
    assert_eq!(
        refresh(&server, &json!({"pipeline": ["meta"]}), &queued),
        "ok"
    );
    assert_held(&server, "pipeline", "meta", &queued);
    delete_ticket_ok(&server, &queued);
    assert_free(&server, "pipeline", "meta");
    // And the name can be used again.
    create(&server, "shop", "team13", &["live"]);
    assert_free(&server, "shop", "live");
}

// ---------------------------------------------------------------------------------------------------
// PUT /api/services/{service}/{environment}, GET /api/services/{service}/{environment}
// ---------------------------------------------------------------------------------------------------

#[test]
fn put_gate_sets_state_and_message_with_timestamps() {
    let server = Server::start();
    create(&server, "shop", "team12", &["live", "testing"]);

    let before = now_gatekeeper();
    set_ok(
        &server,
        "shop",
        "live",
        json!({"state": "closed", "message": "I want to do some testing. -Jens"}),
    );
    let after = now_gatekeeper();
    let g = gate(&server, "shop", "live");
    assert_eq!(g["state"], "closed", "{g}");
    assert_eq!(g["message"], "I want to do some testing. -Jens", "{g}");
    assert_time_between(&g["state_timestamp"], &before, &after, "state_timestamp");
    assert_time_between(
        &g["message_timestamp"],
        &before,
        &after,
        "message_timestamp",
    );
    assert_free(&server, "shop", "testing");

    // open, then the document's `close` spelling.
    set_ok(&server, "shop", "live", json!({"state": "open"}));
    assert_eq!(gate(&server, "shop", "live")["state"], "open");
    set_ok(&server, "shop", "live", json!({"state": "close"}));
    let g = gate(&server, "shop", "live");
    assert_eq!(g["state"], "closed", "`close` closes: {g}");
    assert_eq!(
        g["message"], "I want to do some testing. -Jens",
        "a state alone leaves the message: {g}"
    );

    // A message alone leaves the state.
    set_ok(&server, "shop", "live", json!({"message": "back at 3"}));
    let g = gate(&server, "shop", "live");
    assert_eq!(
        g["state"], "closed",
        "a message alone leaves the state: {g}"
    );
    assert_eq!(g["message"], "back at 3", "{g}");
    set_ok(&server, "shop", "testing", json!({"message": "note"}));
    assert_eq!(gate(&server, "shop", "testing")["state"], "open");

    // "" clears it.
    set_ok(&server, "shop", "live", json!({"message": ""}));
    let g = gate(&server, "shop", "live");
    assert_eq!(g["message"], "", "an empty message clears it: {g}");
    assert_eq!(g["state"], "closed", "{g}");
    assert_gatekeeper_time(&g["message_timestamp"], "message_timestamp after clearing");

    // Refusals: a bad state is 400, an unknown gate or service 404; nothing changes.
    for bad in [
        json!({"state": "opened"}),
        json!({"state": "OPEN"}),
        json!({"state": ""}),
        json!({"state": 1}),
        json!({"state": true}),
        json!({}),
    ] {
        let r = set_gate(&server, "shop", "live", &bad);
        expect_error(&r, 400, "state must be open or closed", &format!("{bad}"));
    }
    let r = raw(&server, "PUT", "/api/services/shop/live", "{\"state\": ");
    expect_error(&r, 400, "Json was not valid", "invalid JSON");
    let r = set_gate(&server, "shop", "nogate", &json!({"state": "open"}));
    let reason = expect_error(&r, 404, "Environment not found", "an unknown gate");
    assert_eq!(
        reason, "Environment not found",
        "the original's exact phrase"
    );
    let r = set_gate(&server, "nosuch", "live", &json!({"state": "open"}));
    let reason = expect_error(&r, 404, "Gate not found", "an unknown service");
    assert_eq!(reason, "Gate not found", "the document's exact phrase");
    assert_gate(&server, "shop", "live", "closed", &[]);

    // A form is accepted when its content type says so.
    let r = server.request(
        "PUT",
        "/api/services/shop/testing",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"state=closed&message=by+form",
    );
    expect(&r, 200, "ok", "a form");
    let g = gate(&server, "shop", "testing");
    assert_eq!(
        (g["state"].as_str(), g["message"].as_str()),
        (Some("closed"), Some("by form")),
        "{g}"
    );
}

#[test]
fn get_gate_answers_with_that_gate_and_waits_for_it_to_open() {
    let server = Server::start();
    create(&server, "shop", "team12", &["live"]);
    set_ok(
        &server,
        "shop",
        "live",
        json!({"state": "closed", "message": "testing"}),
    );

    let r = call(&server, "GET", "/api/services/shop/live", None);
    assert_eq!(r.status, 200, "{r}");
    let g = r.json();
    assert_eq!(g["name"], "live", "{g}");
    assert_eq!(g["state"], "closed", "{g}");
    assert_eq!(g["message"], "testing", "{g}");
    let r = call(&server, "GET", "/api/services/shop/nogate", None);
    let reason = expect_error(&r, 404, "Environment not found", "an unknown gate");
    assert_eq!(
        reason, "Environment not found",
        "the original's exact phrase"
    );
    let r = call(&server, "GET", "/api/services/nosuch/live", None);
    expect_error(&r, 404, "Gate not found", "an unknown service");

    // ?wait=N on a closed gate: answered when it is opened, well before N.
    let mut watcher = send_parked(&server, "GET", "/api/services/shop/live?wait=30", None);
    assert_not_answered(&mut watcher, "a watcher of a closed gate");
    set_ok(&server, "shop", "live", json!({"state": "open"}));
    let r = watcher.read_response();
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["state"], "open", "{r}");

    // Held by a ticket it reads closed: a watcher waits for the ticket to go.
    let t = take(&server, &json!({"shop": ["live"]}));
    let mut watcher = send_parked(&server, "GET", "/api/services/shop/live?wait=30", None);
    assert_not_answered(&mut watcher, "a watcher of a held gate");
    delete_ticket_ok(&server, &t);
    let r = watcher.read_response();
    assert_eq!(r.json()["state"], "open", "{r}");

    // A wait that runs out: the gate as it is, closed.
    set_ok(&server, "shop", "live", json!({"state": "closed"}));
    let r = call(&server, "GET", "/api/services/shop/live?wait=0.3", None);
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["state"], "closed", "{r}");
    // An open gate: at once.
    set_ok(&server, "shop", "live", json!({"state": "open"}));
    let r = call(&server, "GET", "/api/services/shop/live?wait=30", None);
    assert_eq!(r.json()["state"], "open", "{r}");
    let r = call(&server, "GET", "/api/services/shop/live?wait=abc", None);
    assert_eq!(r.status, 400, "a bad wait: {r}");

    // A watcher of a service deleted under it is answered: 404.
    set_ok(&server, "shop", "live", json!({"state": "closed"}));
    let mut watcher = send_parked(&server, "GET", "/api/services/shop/live?wait=30", None);
    assert_not_answered(&mut watcher, "a watcher");
    expect(
        &call(&server, "DELETE", "/api/services/shop", None),
        200,
        "ok",
        "DELETE",
    );
    let r = watcher.read_response();
    assert_eq!(r.status, 404, "the gate is gone: {r}");
}

// ---------------------------------------------------------------------------------------------------
// PUT /api/services: the test-and-set
// ---------------------------------------------------------------------------------------------------

#[test]
fn test_and_set_grants_a_ticket_that_holds_every_gate() {
    let server = Server::start();
    create(&server, "service12", "team12", &["myservicename", "other"]);
    create(&server, "pipeline", "ops", &["meta"]);

    let before = now_gatekeeper();
    let r = tas(
        &server,
        &json!({"service12": ["myservicename"], "pipeline": ["meta"]}),
        None,
        false,
    );
    let t = expect_ticket(&r, "ok", "the document's example");
    let after = now_gatekeeper();
    assert_time_between(&r.json()["ticket"]["updated"], &before, &after, "updated");

    // Held: they read closed, and the ticket heads (and is alone in) their queues.
    assert_gate(&server, "service12", "myservicename", "closed", &[&t]);
    assert_gate(&server, "pipeline", "meta", "closed", &[&t]);
    assert_free(&server, "service12", "other");

    // Another caller wanting any of them is denied, and takes nothing.
    for services in [
        json!({"pipeline": ["meta"]}),
        json!({"service12": ["other", "myservicename"]}),
    ] {
        let r = tas(&server, &services, None, false);
        let v = expect(&r, 200, "denied", &format!("{services}"));
        assert_eq!(
            v,
            json!({"status": "denied"}),
            "the document's denied answer"
        );
    }
    assert_free(&server, "service12", "other");

    // The holder presenting its ticket again is ok (the same ticket).
    let r = tas(
        &server,
        &json!({"service12": ["myservicename"], "pipeline": ["meta"]}),
        Some(&t),
        false,
    );
    assert_eq!(expect_ticket(&r, "ok", "a holder's repeat"), t);

    // queue=true on free gates is ok at once, like without it.
    let t2 = expect_ticket(
        &tas(&server, &json!({"service12": ["other"]}), None, true),
        "ok",
        "queue=true on a free gate",
    );
    assert_held(&server, "service12", "other", &t2);

    // Deleted: the gates are free again, and the ticket is gone.
    delete_ticket_ok(&server, &t);
    assert_free(&server, "service12", "myservicename");
    assert_free(&server, "pipeline", "meta");
    let r = delete_ticket(&server, &t);
    expect_error(&r, 404, "Ticket does not exist", "DELETE again");
    let r = tas(&server, &json!({"pipeline": ["meta"]}), Some(&t), true);
    expect_error(
        &r,
        404,
        "Ticket does not exist",
        "a deleted ticket presented",
    );
    let r = delete_ticket(&server, "not-a-uuid");
    expect_error(&r, 404, "Ticket does not exist", "DELETE of a malformed id");
    let r = delete_ticket(&server, &common::new_uuid());
    expect_error(&r, 404, "Ticket does not exist", "DELETE of an unknown id");
}

#[test]
fn test_and_set_denied_or_refused_takes_nothing() {
    let server = Server::start();
    create(&server, "shop", "team12", &["testing", "live"]);
    create(&server, "pipeline", "ops", &["meta"]);
    set_ok(
        &server,
        "shop",
        "live",
        json!({"state": "closed", "message": "no deploys"}),
    );

    // A closed gate among them: denied; the other gates stay free.
    let r = tas(
        &server,
        &json!({"shop": ["testing", "live"], "pipeline": ["meta"]}),
        None,
        false,
    );
    expect(&r, 200, "denied", "a closed gate among them");
    assert_free(&server, "shop", "testing");
    assert_free(&server, "pipeline", "meta");
    assert_gate(&server, "shop", "live", "closed", &[]);

    // An unknown gate of a known service: denied, nothing taken.
    let r = tas(
        &server,
        &json!({"shop": ["testing", "nogate"], "pipeline": ["meta"]}),
        None,
        false,
    );
    expect(&r, 200, "denied", "an unknown gate of a known service");
    let r = tas(&server, &json!({"shop": ["nogate"]}), None, true);
    expect(&r, 200, "denied", "an unknown gate, queue=true");
    assert_free(&server, "shop", "testing");
    assert_free(&server, "pipeline", "meta");

    // An unknown service: 404, nothing taken.
    let r = tas(
        &server,
        &json!({"shop": ["testing"], "nosuch": ["live"]}),
        None,
        false,
    );
    expect_error(&r, 404, "not found", "an unknown service");
    let r = tas(&server, &json!({"nosuch": ["live"]}), None, true);
    expect_error(&r, 404, "not found", "an unknown service, queue=true");
    assert_free(&server, "shop", "testing");

    // Bodies that are not what the document shows: 400, nothing taken.
    for (what, body) in [
        ("invalid JSON", r#"{"services": {"shop": ["testing"]"#),
        ("no services", r#"{"ticket": null}"#),
        ("services a list", r#"{"services": ["shop"]}"#),
        (
            "gates neither a list nor a name",
            r#"{"services": {"shop": 7}}"#,
        ),
        ("a gate not a string", r#"{"services": {"shop": [1]}}"#),
        (
            "a ticket not a string",
            r#"{"services": {"shop": ["testing"]}, "ticket": 5}"#,
        ),
    ] {
        let r = raw(&server, "PUT", "/api/services", body);
        expect_error(&r, 400, "", what);
    }
    let r = raw(&server, "PUT", "/api/services", "{\"services\": ");
    expect_error(&r, 400, "Json was not valid", "truncated JSON");
    let r = call(
        &server,
        "PUT",
        "/api/services?queue=maybe",
        Some(&json!({"services": {"shop": ["testing"]}})),
    );
    assert_eq!(r.status, 400, "a bad queue flag: {r}");
    assert_free(&server, "shop", "testing");

    // Nothing at all to take is no ticket.
    let r = tas(&server, &json!({}), None, false);
    expect(&r, 200, "denied", "no gates named");
}

#[test]
fn a_queued_ticket_waits_its_turn_and_is_ok_when_it_comes() {
    let server = Server::start();
    create(&server, "shop", "team12", &["live", "testing"]);
    let live = json!({"shop": ["live"]});

    // Closed by hand: queue=true gives a queued ticket, expiring in the future.
    set_ok(&server, "shop", "live", json!({"state": "closed"}));
    let before = epoch_now();
    let r = tas(&server, &live, None, true);
    let t = expect_ticket(&r, "queue", "queue=true on a closed gate");
    let exp = common::num(&r.json()["ticket"]["expiration_date"], "expiration_date");
    assert!(
        exp >= before + 60.0 && exp <= epoch_now() + 121.0,
        "a queued ticket lives two minutes: expiration {exp}, now {before}"
    );
    assert_gate(&server, "shop", "live", "closed", &[&t]);
    // Without queue=true: denied, and no ticket.
    expect(&tas(&server, &live, None, false), 200, "denied", "no queue");
    assert_gate(&server, "shop", "live", "closed", &[&t]);

    // Not its turn: still queue (refreshed), and it is the same ticket.
    assert_eq!(refresh(&server, &live, &t), "queue");
    // Its turn: the gate is opened by hand. Opened, it reads open until the ticket calls.
    set_ok(&server, "shop", "live", json!({"state": "open"}));
    assert_gate(&server, "shop", "live", "open", &[&t]);
    let r = tas(&server, &live, Some(&t), true);
    assert_eq!(expect_ticket(&r, "ok", "its turn"), t);
    assert_held(&server, "shop", "live", &t);

    // Behind a ticket: queued until the holder's ticket is deleted.
    let t2 = enqueue(&server, &live);
    assert_gate(&server, "shop", "live", "closed", &[&t, &t2]);
    assert_eq!(refresh(&server, &live, &t2), "queue");
    delete_ticket_ok(&server, &t);
    assert_eq!(refresh(&server, &live, &t2), "ok");
    assert_held(&server, "shop", "live", &t2);

    // A queued ticket deleted leaves the queue; presented again it is denied.
    let t3 = enqueue(&server, &live);
    delete_ticket_ok(&server, &t3);
    assert_gate(&server, "shop", "live", "closed", &[&t2]);
    assert_eq!(refresh(&server, &live, &t3), "gone");
    // A ticket id that is not a UUID is no ticket.
    let r = tas(&server, &live, Some("not-a-ticket"), true);
    expect_error(&r, 404, "Ticket does not exist", "a malformed ticket id");
    assert_gate(&server, "shop", "live", "closed", &[&t2]);
}

#[test]
fn a_ticket_presented_without_queue_while_not_its_turn_is_denied_and_keeps_its_place() {
    let server = Server::start();
    create(&server, "shop", "team12", &["live"]);
    let live = json!({"shop": ["live"]});
    let holder = take(&server, &live);
    let first = enqueue(&server, &live);
    let second = enqueue(&server, &live);

    let r = tas(&server, &live, Some(&first), false);
    expect(
        &r,
        200,
        "denied",
        "presented without queue=true, not its turn",
    );
    assert_gate(
        &server,
        "shop",
        "live",
        "closed",
        &[&holder, &first, &second],
    );

    delete_ticket_ok(&server, &holder);
    assert_eq!(
        refresh(&server, &live, &second),
        "queue",
        "the second stays behind the first"
    );
    assert_eq!(
        refresh(&server, &live, &first),
        "ok",
        "the first kept its place"
    );
    assert_gate(&server, "shop", "live", "closed", &[&first, &second]);
}

#[test]
fn three_queued_tickets_on_overlapping_gates_are_granted_in_arrival_order() {
    let server = Server::start();
    create(&server, "shop", "team12", &["x", "y"]);
    let x = json!({"shop": ["x"]});
    let xy = json!({"shop": ["x", "y"]});
    let y = json!({"shop": ["y"]});

    let holder = take(&server, &xy);
    let t1 = enqueue(&server, &x);
    let t2 = enqueue(&server, &xy);
    let t3 = enqueue(&server, &y);
    assert_gate(&server, "shop", "x", "closed", &[&holder, &t1, &t2]);
    assert_gate(&server, "shop", "y", "closed", &[&holder, &t2, &t3]);

    // Each time, the later ones ask first: none jumps its turn.
    delete_ticket_ok(&server, &holder);
    assert_eq!(refresh(&server, &y, &t3), "queue", "t3 is behind t2 in y");
    assert_eq!(refresh(&server, &xy, &t2), "queue", "t2 is behind t1 in x");
    assert_eq!(refresh(&server, &x, &t1), "ok", "t1 came first");
    assert_held(&server, "shop", "x", &t1);
    assert_gate(&server, "shop", "y", "open", &[&t2, &t3]);

    delete_ticket_ok(&server, &t1);
    assert_eq!(refresh(&server, &y, &t3), "queue", "t3 is still behind t2");
    assert_eq!(refresh(&server, &xy, &t2), "ok", "t2 is next");
    assert_held(&server, "shop", "x", &t2);
    assert_held(&server, "shop", "y", &t2);

    delete_ticket_ok(&server, &t2);
    assert_eq!(refresh(&server, &y, &t3), "ok", "t3 last");
    assert_gate(&server, "shop", "y", "closed", &[&t3]);
    assert_free(&server, "shop", "x");
}

#[test]
fn a_newcomer_never_jumps_a_queue() {
    let server = Server::start();
    create(&server, "shop", "team12", &["live"]);
    let live = json!({"shop": ["live"]});
    let holder = take(&server, &live);
    let queued = enqueue(&server, &live);
    delete_ticket_ok(&server, &holder);

    // Held by nobody, it reads open, but a ticket waits for it: a newcomer is denied, or queued
    // behind it.
    assert_gate(&server, "shop", "live", "open", &[&queued]);
    expect(
        &tas(&server, &live, None, false),
        200,
        "denied",
        "a newcomer",
    );
    let newcomer = enqueue(&server, &live);
    assert_gate(&server, "shop", "live", "open", &[&queued, &newcomer]);
    assert_eq!(refresh(&server, &live, &newcomer), "queue");
    assert_eq!(refresh(&server, &live, &queued), "ok");
}

#[test]
fn gates_closed_by_hand_around_tickets_follow_docs_api() {
    let server = Server::start();
    create(&server, "shop", "team12", &["live"]);
    let live = json!({"shop": ["live"]});

    // Closing a held gate by hand leaves the ticket holding it; deleted, the gate stays closed.
    let t = take(&server, &live);
    set_ok(&server, "shop", "live", json!({"state": "closed"}));
    assert_held(&server, "shop", "live", &t);
    assert_eq!(refresh(&server, &live, &t), "ok", "still the holder");
    delete_ticket_ok(&server, &t);
    assert_gate(&server, "shop", "live", "closed", &[]);

    // A queued ticket whose turn it would be waits while the gate is closed by hand.
    let q = enqueue(&server, &live);
    assert_eq!(refresh(&server, &live, &q), "queue");
    set_ok(&server, "shop", "live", json!({"state": "open"}));
    set_ok(&server, "shop", "live", json!({"state": "closed"}));
    assert_eq!(refresh(&server, &live, &q), "queue", "closed by hand again");
    set_ok(&server, "shop", "live", json!({"state": "open"}));
    assert_eq!(refresh(&server, &live, &q), "ok");
}

// ---------------------------------------------------------------------------------------------------
// Expiry, with `serve --ticket-ttl 1s`
// ---------------------------------------------------------------------------------------------------

#[test]
fn a_queued_ticket_not_refreshed_expires_and_leaves_every_queue() {
    let server = Server::builder().args(&["--ticket-ttl", "1s"]).start();
    create(&server, "shop", "team12", &["x", "y"]);
    let x = json!({"shop": ["x"]});
    let xy = json!({"shop": ["x", "y"]});

    let holder = take(&server, &x);
    let before = epoch_now();
    let r = tas(&server, &xy, None, true);
    let stale = expect_ticket(&r, "queue", "the ticket left alone");
    let exp = common::num(&r.json()["ticket"]["expiration_date"], "expiration_date");
    assert!(
        exp >= before + 0.5 && exp <= epoch_now() + 1.5,
        "with --ticket-ttl 1s a queued ticket expires a second after its last use: {exp} (now {before})"
    );
    let kept = enqueue(&server, &xy);
    assert_gate(&server, "shop", "x", "closed", &[&holder, &stale, &kept]);
    assert_gate(&server, "shop", "y", "open", &[&stale, &kept]);

    // The stale one's life runs out; the kept one is refreshed meanwhile.
    let gone_at = poll(PROMPTLY, "the stale ticket to leave every queue", || {
        assert_eq!(refresh(&server, &xy, &kept), "queue", "kept is refreshed");
        let (gx, gy) = (gate(&server, "shop", "x"), gate(&server, "shop", "y"));
        let gone = !queue_of(&gx).contains(&stale) && !queue_of(&gy).contains(&stale);
        gone.then(Instant::now)
    });
    assert_gate(&server, "shop", "x", "closed", &[&holder, &kept]);
    assert_gate(&server, "shop", "y", "open", &[&kept]);
    assert_eq!(refresh(&server, &xy, &stale), "gone", "an expired ticket");

    // Refreshed every ~100 ms for well over its 1 s life, the kept one stays in line.
    while gone_at.elapsed() < Duration::from_millis(1300) {
        assert_eq!(refresh(&server, &xy, &kept), "queue");
        thread::sleep(Duration::from_millis(100));
    }
    assert_gate(&server, "shop", "y", "open", &[&kept]);

    // The next one gets through.
    delete_ticket_ok(&server, &holder);
    assert_eq!(refresh(&server, &xy, &kept), "ok");
    assert_held(&server, "shop", "x", &kept);
    assert_held(&server, "shop", "y", &kept);

    // A granted ticket does not expire.
    thread::sleep(Duration::from_millis(1300));
    assert_held(&server, "shop", "x", &kept);
    assert_eq!(refresh(&server, &xy, &kept), "ok");
}

#[test]
fn an_expired_ticket_ahead_lets_a_waiting_client_through_at_once() {
    let server = Server::builder().args(&["--ticket-ttl", "1s"]).start();
    create(&server, "shop", "team12", &["live"]);
    let live = json!({"shop": ["live"]});
    let holder = take(&server, &live);
    let stale = enqueue(&server, &live);
    let mut waiter = send_parked(
        &server,
        "PUT",
        "/api/services?queue=true",
        Some(&json!({"services": live, "wait": 30})),
    );
    let q = wait_for_queue_len(&server, "shop", "live", 3);
    let waiting = q[2].clone();
    delete_ticket_ok(&server, &holder);
    // The stale ticket is first, never calls, and expires after a second: the waiter is answered.
    let r = waiter.read_response();
    assert_eq!(expect_ticket(&r, "ok", "the waiter"), waiting);
    assert_held(&server, "shop", "live", &waiting);
    assert_eq!(refresh(&server, &live, &stale), "gone");
}

// ---------------------------------------------------------------------------------------------------
// The `wait` extension and hang-ups
// ---------------------------------------------------------------------------------------------------

#[test]
fn a_waiting_queued_call_is_answered_ok_the_moment_the_holder_leaves() {
    let server = Server::start();
    create(&server, "shop", "team12", &["live"]);
    create(&server, "pipeline", "ops", &["meta"]);
    let both = json!({"shop": ["live"], "pipeline": ["meta"]});
    let holder = take(&server, &json!({"pipeline": ["meta"]}));

    let mut waiter = send_parked(
        &server,
        "PUT",
        "/api/services?queue=true",
        Some(&json!({"services": both, "wait": 30})),
    );
    let q = wait_for_queue_len(&server, "pipeline", "meta", 2);
    let waiting = q[1].clone();
    assert_gate(&server, "shop", "live", "open", &[&waiting]);
    assert_not_answered(&mut waiter, "a waiter behind a holder");

    delete_ticket_ok(&server, &holder);
    let r = waiter.read_response();
    assert_eq!(expect_ticket(&r, "ok", "the waiter"), waiting);
    // Granted by the server: it holds both gates, with nobody having called again.
    assert_held(&server, "shop", "live", &waiting);
    assert_held(&server, "pipeline", "meta", &waiting);

    // A wait that runs out answers queue with the ticket, which stays in line.
    let r = call(
        &server,
        "PUT",
        "/api/services?queue=true&wait=0.3",
        Some(&json!({"services": both})),
    );
    let late = expect_ticket(&r, "queue", "a wait that ran out");
    assert_gate(&server, "pipeline", "meta", "closed", &[&waiting, &late]);
    // Presented with a wait, it is answered when its turn comes.
    let mut again = send_parked(
        &server,
        "PUT",
        "/api/services?queue=true",
        Some(&json!({"services": both, "ticket": late, "wait": 30})),
    );
    assert_not_answered(&mut again, "a presented ticket waiting");
    delete_ticket_ok(&server, &waiting);
    let r = again.read_response();
    assert_eq!(expect_ticket(&r, "ok", "the presented waiter"), late);

    // A waiting client whose ticket is deleted is told: denied.
    let mut doomed = send_parked(
        &server,
        "PUT",
        "/api/services?queue=true",
        Some(&json!({"services": both, "wait": 30})),
    );
    let q = wait_for_queue_len(&server, "shop", "live", 2);
    delete_ticket_ok(&server, &q[1]);
    let r = doomed.read_response();
    expect(&r, 200, "denied", "a waiter whose ticket was deleted");
    assert_gate(&server, "shop", "live", "closed", &[&late]);
}

#[test]
fn waiting_clients_are_granted_one_by_one_in_arrival_order() {
    let server = Server::start();
    create(&server, "shop", "team12", &["live"]);
    let live = json!({"shop": ["live"]});
    let holder = take(&server, &live);
    let mut waiters = Vec::new();
    for n in 1..=3 {
        let c = send_parked(
            &server,
            "PUT",
            "/api/services?queue=true",
            Some(&json!({"services": live, "wait": 30})),
        );
        let q = wait_for_queue_len(&server, "shop", "live", n + 1);
        waiters.push((c, q[n].clone()));
    }
    let mut leaving = holder;
    for (i, (conn, ticket)) in waiters.iter_mut().enumerate() {
        delete_ticket_ok(&server, &leaving);
        let r = conn.read_response();
        assert_eq!(expect_ticket(&r, "ok", "waiter"), *ticket, "waiter {i}");
        assert_held(&server, "shop", "live", ticket);
        leaving = ticket.clone();
    }
}

#[test]
fn a_waiting_client_that_hung_up_never_ends_up_holding_the_gates() {
    let server = Server::start();
    create(&server, "shop", "team12", &["live"]);
    let live = json!({"shop": ["live"]});
    for round in 0..5 {
        let holder = take(&server, &live);
        let waiter = send_parked(
            &server,
            "PUT",
            "/api/services?queue=true",
            Some(&json!({"services": live, "wait": 30})),
        );
        let q = wait_for_queue_len(&server, "shop", "live", 2);
        let gone = q[1].clone();
        let _ = waiter.stream.shutdown(Shutdown::Both);
        drop(waiter);
        if round % 2 == 1 {
            // Sometimes give the server a moment to notice, sometimes not: both must be right.
            thread::sleep(Duration::from_millis(50));
        }
        delete_ticket_ok(&server, &holder);

        // Nobody holds it: it reads open, and the hung-up ticket is not its holder.
        let g = gate(&server, "shop", "live");
        assert_eq!(
            g["state"], "open",
            "round {round}: a hung-up waiter's ticket holds the gate: {g}"
        );
        let q = queue_of(&g);
        assert!(q.is_empty() || q == [gone.clone()], "round {round}: {g}");
        // Clean up for the next round (the ticket may be gone already).
        let _ = delete_ticket(&server, &gone);
        assert_free(&server, "shop", "live");
    }
}

#[test]
fn a_hung_up_waiters_ticket_expires_like_a_queued_one() {
    let server = Server::builder().args(&["--ticket-ttl", "1s"]).start();
    create(&server, "shop", "team12", &["live"]);
    let live = json!({"shop": ["live"]});
    let holder = take(&server, &live);
    let waiter = send_parked(
        &server,
        "PUT",
        "/api/services?queue=true",
        Some(&json!({"services": live, "wait": 30})),
    );
    let q = wait_for_queue_len(&server, "shop", "live", 2);
    let gone = q[1].clone();
    drop(waiter);
    // Its poll ends with the hang-up: it leaves the line a second later, not after 30 s.
    wait_for_queue_len(&server, "shop", "live", 1);
    assert_held(&server, "shop", "live", &holder);
    delete_ticket_ok(&server, &holder);
    assert_free(&server, "shop", "live");
    assert_eq!(refresh(&server, &live, &gone), "gone");
    take(&server, &live);
}

// ---------------------------------------------------------------------------------------------------
// Atomicity
// ---------------------------------------------------------------------------------------------------

const RACERS: usize = 8;

/// One round: `RACERS` threads send `PUT /api/services` for their gate sets at once (each connected
/// before a barrier); the ticket id of each (or `None` when denied).
fn race(server: &Server, sets: &[Value], queue: bool) -> Vec<(Option<String>, String)> {
    let barrier = Arc::new(Barrier::new(sets.len()));
    let handles: Vec<JoinHandle<(Option<String>, String)>> = sets
        .iter()
        .map(|services| {
            let mut conn = server.connect();
            let barrier = barrier.clone();
            let body = json!({ "services": services }).to_string();
            let target = if queue {
                "/api/services?queue=true"
            } else {
                "/api/services"
            };
            thread::spawn(move || {
                barrier.wait();
                let r = conn.request(
                    "PUT",
                    target,
                    &[
                        ("Content-Type", "application/json"),
                        ("Connection", "close"),
                    ],
                    body.as_bytes(),
                );
                assert_eq!(r.status, 200, "{r}");
                let v = r.json();
                let status = v["status"].as_str().unwrap_or_default().to_string();
                let id = v["ticket"]["id"].as_str().map(str::to_string);
                (id, status)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a racer panicked"))
        .collect()
}

fn gate_names(services: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (svc, envs) in services.as_object().expect("services object") {
        for env in envs.as_array().expect("gate list") {
            out.push((svc.clone(), env.as_str().unwrap().to_string()));
        }
    }
    out
}

#[test]
fn racing_callers_for_overlapping_gates_exactly_one_wins_each_round() {
    let server = Server::start();
    let envs: Vec<String> = (0..RACERS).map(|i| format!("g{i}")).collect();
    let env_refs: Vec<&str> = envs.iter().map(String::as_str).collect();
    create(&server, "race", "team", &env_refs);
    create(&server, "hub", "team", &["h"]);
    // Every set shares hub:h (in another service), and has a gate of its own.
    let sets: Vec<Value> = envs
        .iter()
        .map(|e| json!({"race": [e], "hub": ["h"]}))
        .collect();

    for round in 0..30 {
        let results = race(&server, &sets, false);
        let winners: Vec<(usize, String)> = results
            .iter()
            .enumerate()
            .filter_map(|(i, (id, status))| match status.as_str() {
                "ok" => Some((i, id.clone().expect("an ok has a ticket"))),
                "denied" => None,
                other => panic!("round {round}: unexpected status {other}"),
            })
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one of overlapping sets wins: {results:?}"
        );
        let (w, ticket) = &winners[0];
        assert_gate(&server, "hub", "h", "closed", &[ticket]);
        let doc = service(&server, "race");
        for (i, e) in envs.iter().enumerate() {
            let g = &doc["environments"][e];
            if i == *w {
                assert_eq!(g["state"], "closed", "round {round}: {doc}");
                assert_eq!(queue_of(g), [ticket.as_str()], "round {round}: {doc}");
            } else {
                assert_eq!(g["state"], "open", "round {round}: a loser took {e}: {doc}");
                assert_eq!(queue_of(g), Vec::<String>::new(), "round {round}: {doc}");
            }
        }
        delete_ticket_ok(&server, ticket);
    }
}

#[test]
fn racing_callers_for_a_ring_of_gates_never_hold_overlapping_sets() {
    let server = Server::start();
    let envs: Vec<String> = (0..RACERS).map(|i| format!("r{i}")).collect();
    let env_refs: Vec<&str> = envs.iter().map(String::as_str).collect();
    create(&server, "ring", "team", &env_refs);
    // Racer i wants r_i and r_{i+1}: neighbours overlap, others do not.
    let sets: Vec<Value> = (0..RACERS)
        .map(|i| json!({"ring": [envs[i], envs[(i + 1) % RACERS]]}))
        .collect();

    for round in 0..30 {
        let results = race(&server, &sets, false);
        let mut held: Vec<(String, String)> = Vec::new();
        let mut tickets = Vec::new();
        for (i, (id, status)) in results.iter().enumerate() {
            if status == "ok" {
                let names = gate_names(&sets[i]);
                for n in &names {
                    assert!(
                        !held.contains(n),
                        "round {round}: two winners hold {n:?}: {results:?}"
                    );
                }
                held.extend(names);
                tickets.push((i, id.clone().expect("an ok has a ticket")));
            } else {
                assert_eq!(status, "denied", "round {round}: {results:?}");
            }
        }
        assert!(
            !tickets.is_empty(),
            "round {round}: someone wins: {results:?}"
        );
        // A loser was denied only because a winner took one of its gates.
        for (i, (_, status)) in results.iter().enumerate() {
            if status == "denied" {
                assert!(
                    gate_names(&sets[i]).iter().any(|n| held.contains(n)),
                    "round {round}: racer {i} was denied free gates: {results:?}"
                );
            }
        }
        // The gates read as the winners hold them, and losers took nothing.
        let doc = service(&server, "ring");
        for (i, e) in envs.iter().enumerate() {
            let g = &doc["environments"][e];
            let holder = tickets
                .iter()
                .find(|(w, _)| *w == i || (*w + 1) % RACERS == i)
                .map(|(_, t)| t.clone());
            match holder {
                Some(t) => {
                    assert_eq!(g["state"], "closed", "round {round}: {doc}");
                    assert_eq!(queue_of(g), [t], "round {round}: {doc}");
                }
                None => {
                    assert_eq!(g["state"], "open", "round {round}: {doc}");
                    assert!(queue_of(g).is_empty(), "round {round}: {doc}");
                }
            }
        }
        for (_, t) in &tickets {
            delete_ticket_ok(&server, t);
        }
    }
}

#[test]
fn racing_queued_callers_get_one_winner_and_a_fifo_line() {
    let server = Server::start();
    create(&server, "hub", "team", &["h"]);
    let sets: Vec<Value> = (0..RACERS).map(|_| json!({"hub": ["h"]})).collect();
    let results = race(&server, &sets, true);
    let oks = results.iter().filter(|(_, s)| s == "ok").count();
    let queued = results.iter().filter(|(_, s)| s == "queue").count();
    assert_eq!((oks, queued), (1, RACERS - 1), "{results:?}");

    // The line is as the server saw them arrive; they are granted in that order.
    let line = queue_of(&gate(&server, "hub", "h"));
    assert_eq!(line.len(), RACERS, "{line:?}");
    let winner = results
        .iter()
        .find(|(_, s)| s == "ok")
        .and_then(|(id, _)| id.clone())
        .unwrap();
    assert_eq!(line[0], winner, "the winner heads the line");
    let set = json!({"hub": ["h"]});
    for k in 1..RACERS {
        delete_ticket_ok(&server, &line[k - 1]);
        for later in line[k + 1..].iter().rev() {
            assert_eq!(
                refresh(&server, &set, later),
                "queue",
                "{later} is not next"
            );
        }
        assert_eq!(
            refresh(&server, &set, &line[k]),
            "ok",
            "{} is next",
            line[k]
        );
        assert_held(&server, "hub", "h", &line[k]);
    }
}

// ---------------------------------------------------------------------------------------------------
// Methods and paths
// ---------------------------------------------------------------------------------------------------

#[test]
fn wrong_methods_are_405_and_unknown_paths_404() {
    let server = Server::start();
    create(&server, "shop", "team12", &["live"]);
    for (method, target) in [
        ("DELETE", "/api/services"),
        ("POST", "/api/services"),
        ("POST", "/api/services/shop/live"),
        ("GET", "/api/tickets/x"),
    ] {
        let r = call(&server, method, target, Some(&json!({})));
        assert_eq!(r.status, 405, "{method} {target}: {r}");
        assert!(r.header("allow").is_some(), "{method} {target}: {r}");
    }
    for target in [
        "/api/nothing",
        "/api/services/shop/live/more",
        "/api/tickets",
    ] {
        let r = call(&server, "GET", target, None);
        assert_eq!(r.status, 404, "{target}: {r}");
    }
}

// ---------------------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------------------

/// `weblock ARGS...` aimed at `server` (`WEBLOCK_URL`), as a user of the sandbox, not yet started.
fn wb(sb: &Sandbox, server: &Server, args: &[&str]) -> Command {
    let mut cmd = weblock_at(&server.url(""), &sb.user("user"));
    cmd.args(args);
    cmd
}

/// `weblock ARGS...` run to its end.
fn run(sb: &Sandbox, server: &Server, args: &[&str]) -> Outcome {
    sb.run(wb(sb, server, args))
}

fn spawn(sb: &Sandbox, server: &Server, args: &[&str]) -> Proc {
    sb.spawn(wb(sb, server, args))
}

#[test]
fn cli_create_show_open_close_delete() {
    let server = Server::start();
    let sb = Sandbox::new("gate-admin");

    let out = run(&sb, &server, &["gate", "show"]);
    out.expect_ok();
    assert_eq!(out.stdout, "no services\n", "{out}");

    let out = run(
        &sb,
        &server,
        &[
            "gate", "create", "shop", "--group", "team12", "--env", "testing", "--env", "live",
        ],
    );
    out.expect_ok();
    assert_eq!(out.stdout, "", "create says nothing: {out}");
    let doc = service(&server, "shop");
    assert_eq!(doc["group"], "team12", "{doc}");
    assert_free(&server, "shop", "testing");
    assert_free(&server, "shop", "live");

    let out = run(
        &sb,
        &server,
        &[
            "gate",
            "close",
            "shop",
            "live",
            "--message",
            "testing the release. -Jens",
        ],
    );
    out.expect_ok();
    let g = gate(&server, "shop", "live");
    assert_eq!(g["state"], "closed", "{g}");
    assert_eq!(g["message"], "testing the release. -Jens", "{g}");

    let out = run(&sb, &server, &["gate", "show", "shop"]);
    out.expect_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a title and a line per gate: {out}");
    assert!(
        lines[0].contains("shop") && lines[0].contains("team12"),
        "{out}"
    );
    let live = lines
        .iter()
        .find(|l| l.contains("live"))
        .expect("a live line");
    assert!(
        live.contains("closed") && live.contains("testing the release. -Jens"),
        "{out}"
    );
    let testing = lines
        .iter()
        .find(|l| l.contains("testing") && !l.contains("release"))
        .expect("a testing line");
    assert!(testing.contains("open"), "{out}");

    // --json: the server's document.
    let out = run(&sb, &server, &["--json", "gate", "show", "shop"]);
    out.expect_ok();
    let mut shown = out.json();
    // Every --json object says how the command went.
    assert_eq!(shown["status"], "ok", "{out}");
    shown.as_object_mut().map(|o| o.remove("status"));
    assert_eq!(shown, service(&server, "shop"), "{out}");
    let out = run(&sb, &server, &["gate", "show"]);
    out.expect_ok();
    assert!(out.stdout.starts_with("shop (group team12)"), "{out}");

    // Open; and an empty --message clears it.
    run(&sb, &server, &["gate", "open", "shop", "live"]).expect_ok();
    let g = gate(&server, "shop", "live");
    assert_eq!(g["state"], "open", "{g}");
    assert_eq!(
        g["message"], "testing the release. -Jens",
        "open without --message leaves it: {g}"
    );
    run(
        &sb,
        &server,
        &["gate", "open", "shop", "live", "--message", ""],
    )
    .expect_ok();
    assert_eq!(gate(&server, "shop", "live")["message"], "");

    // A held gate shows its ticket.
    let t = take(&server, &json!({"shop": ["live"]}));
    let out = run(&sb, &server, &["gate", "show", "shop"]);
    out.expect_ok();
    assert!(out.stdout.contains(&t), "show lists the ticket: {out}");

    // Creating it again, or with a dotted gate: exit 2 with the server's reason.
    run(
        &sb,
        &server,
        &["gate", "create", "shop", "--group", "g", "--env", "x"],
    )
    .expect_error(2, &["already exist"]);
    run(
        &sb,
        &server,
        &["gate", "create", "other", "--group", "g", "--env", "a.b"],
    )
    .expect_error(2, &["dot"]);

    run(&sb, &server, &["gate", "delete", "shop"]).expect_ok();
    assert_eq!(call(&server, "GET", "/api/services/shop", None).status, 404);
    run(&sb, &server, &["gate", "delete", "shop"]).expect_error(2, &["shop"]);
    run(&sb, &server, &["gate", "show", "shop"]).expect_error(2, &["shop"]);
}

#[test]
fn cli_enter_prints_a_ticket_that_holds_the_gates_until_leave() {
    let server = Server::start();
    let sb = Sandbox::new("gate-enter");
    create(&server, "shop", "team12", &["testing", "live"]);
    create(&server, "pipeline", "ops", &["meta"]);

    let out = run(
        &sb,
        &server,
        &["gate", "enter", "shop:testing,live", "pipeline:meta"],
    );
    out.expect_ok();
    let ticket = out.token();
    assert_held(&server, "shop", "testing", &ticket);
    assert_held(&server, "shop", "live", &ticket);
    assert_held(&server, "pipeline", "meta", &ticket);

    // Held by it, the gate is closed to the next one.
    let out = run(&sb, &server, &["gate", "enter", "pipeline:meta"]);
    out.expect_error(1, &["pipeline:meta"]);
    assert_gate(&server, "pipeline", "meta", "closed", &[&ticket]);

    run(&sb, &server, &["gate", "leave", &ticket]).expect_ok();
    assert_free(&server, "shop", "live");
    assert_free(&server, "pipeline", "meta");
    run(&sb, &server, &["gate", "leave", &ticket]).expect_error(1, &[&ticket]);

    // --json prints the server's answer, with the ticket.
    let out = run(&sb, &server, &["--json", "gate", "enter", "shop:live"]);
    out.expect_ok();
    let v = out.json();
    assert_eq!(v["status"], "ok", "{out}");
    let id = v["ticket"]["id"].as_str().expect("ticket id").to_string();
    assert_held(&server, "shop", "live", &id);
}

#[test]
fn cli_enter_on_a_closed_gate_exits_1_naming_it_and_its_message() {
    let server = Server::start();
    let sb = Sandbox::new("gate-denied");
    create(&server, "shop", "team12", &["testing", "live"]);
    set_ok(
        &server,
        "shop",
        "live",
        json!({"state": "closed", "message": "testing the release. -Jens"}),
    );
    let flag = sb.path("ran");
    let out = run(
        &sb,
        &server,
        &[
            "gate",
            "enter",
            "shop:testing,live",
            "--",
            "touch",
            flag.to_str().unwrap(),
        ],
    );
    out.expect_error(1, &["shop:live", "testing the release. -Jens"]);
    assert!(!flag.exists(), "a denied enter runs nothing");
    assert_free(&server, "shop", "testing");
    assert_gate(&server, "shop", "live", "closed", &[]);

    // An unknown gate of a known service is a no too, naming it.
    let out = run(&sb, &server, &["gate", "enter", "shop:nogate"]);
    out.expect_error(1, &["nogate"]);
}

#[test]
fn cli_enter_queue_that_times_out_exits_3_and_leaves_no_ticket() {
    let server = Server::start();
    let sb = Sandbox::new("gate-timeout");
    create(&server, "shop", "team12", &["live"]);
    set_ok(
        &server,
        "shop",
        "live",
        json!({"state": "closed", "message": "frozen"}),
    );
    let flag = sb.path("ran");
    let out = run(
        &sb,
        &server,
        &[
            "gate",
            "enter",
            "shop:live",
            "--queue",
            "--timeout",
            "300ms",
            "--",
            "touch",
            flag.to_str().unwrap(),
        ],
    );
    out.expect_error(3, &["timed out", "shop:live"]);
    assert!(!flag.exists(), "a timed-out enter runs nothing");
    assert_gate(&server, "shop", "live", "closed", &[]);
}

#[test]
fn cli_enter_queue_keeps_its_ticket_while_waiting_runs_the_command_and_leaves() {
    let server = Server::builder().args(&["--ticket-ttl", "1s"]).start();
    let sb = Sandbox::new("gate-queue-cmd");
    create(&server, "shop", "team12", &["live"]);
    set_ok(&server, "shop", "live", json!({"state": "closed"}));
    let file = sb.path("ticket");
    let mut proc = spawn(
        &sb,
        &server,
        &[
            "gate",
            "enter",
            "shop:live",
            "--queue",
            "--",
            "sh",
            "-c",
            "printf %s \"$WEBLOCK_TICKET\" > \"$1\"; exit 7",
            "sh",
            file.to_str().unwrap(),
        ],
    );
    let line = wait_for_queue_len(&server, "shop", "live", 1);
    let ticket = line[0].clone();
    // Longer than a queued ticket's life (1 s): the waiting client keeps it.
    thread::sleep(Duration::from_millis(1500));
    assert!(proc.is_running(), "it waits while the gate is closed");
    assert_gate(&server, "shop", "live", "closed", &[&ticket]);
    assert!(!file.exists(), "the command waits for the gate");

    set_ok(&server, "shop", "live", json!({"state": "open"}));
    let out = proc.finish_within(FINISH);
    out.expect_code(7);
    let seen = std::fs::read_to_string(&file).expect("the command ran");
    assert_eq!(
        seen, ticket,
        "WEBLOCK_TICKET is the ticket that waited: {out}"
    );
    // The ticket was deleted when the command ended.
    assert_free(&server, "shop", "live");
    let r = delete_ticket(&server, &ticket);
    assert_eq!(r.status, 404, "the ticket is gone: {r}");
}

#[test]
fn cli_enter_holds_the_gates_while_the_command_runs() {
    let server = Server::builder().args(&["--ticket-ttl", "1s"]).start();
    let sb = Sandbox::new("gate-cmd");
    create(&server, "shop", "team12", &["live"]);
    create(&server, "pipeline", "ops", &["meta"]);
    let (started, release) = (sb.path("started"), sb.path("release"));
    let mut proc = spawn(
        &sb,
        &server,
        &[
            "gate",
            "enter",
            "shop:live",
            "pipeline:meta",
            "--",
            "sh",
            "-c",
            "printf %s \"$WEBLOCK_TICKET\" > \"$1\"; while [ ! -e \"$2\" ]; do sleep 0.02; done",
            "sh",
            started.to_str().unwrap(),
            release.to_str().unwrap(),
        ],
    );
    wait_until(PROMPTLY, "the command to start", || {
        std::fs::read_to_string(&started).is_ok_and(|s| !s.is_empty())
    });
    let ticket = std::fs::read_to_string(&started).unwrap();
    // Longer than a queued ticket's life: a granted ticket holds.
    thread::sleep(Duration::from_millis(1500));
    assert_gate(&server, "shop", "live", "closed", &[&ticket]);
    assert_gate(&server, "pipeline", "meta", "closed", &[&ticket]);
    assert!(proc.is_running());

    std::fs::write(&release, "").unwrap();
    let out = proc.finish_within(FINISH);
    out.expect_ok();
    assert_free(&server, "shop", "live");
    assert_free(&server, "pipeline", "meta");

    // A command that cannot be found: 127, and the gates are given back.
    let out = run(
        &sb,
        &server,
        &[
            "gate",
            "enter",
            "shop:live",
            "--",
            "/nonexistent/weblock-test-cmd",
        ],
    );
    assert_eq!(out.code(), 127, "{out}");
    assert_free(&server, "shop", "live");
}

/// A signal during the first long poll (up to 25 s): the client does not know its ticket's id yet (the
/// server mints it, and tells it only in the answer), so it has nothing to withdraw.
#[test]
fn cli_enter_queue_stopped_by_sigterm_leaves_the_line() {
    let server = Server::start();
    let sb = Sandbox::new("gate-sigterm");
    create(&server, "shop", "team12", &["live"]);
    set_ok(&server, "shop", "live", json!({"state": "closed"}));
    let mut proc = spawn(&sb, &server, &["gate", "enter", "shop:live", "--queue"]);
    wait_for_queue_len(&server, "shop", "live", 1);
    proc.signal(libc::SIGTERM);
    let out = proc.finish_within(FINISH);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{out}");
    // "A signal that comes while weblock still waits in line takes it out of the line" (run.rs). A
    // ticket left behind would stay first in line for its whole life (two minutes by default): not
    // granted to anyone, and every newcomer denied, even once the gate is opened.
    let g = gate(&server, "shop", "live");
    assert_eq!(
        queue_of(&g),
        Vec::<String>::new(),
        "the stopped enter left its ticket in the line: {g}; {out}"
    );
    set_ok(&server, "shop", "live", json!({"state": "open"}));
    take(&server, &json!({"shop": ["live"]}));
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "inspects processes through /proc (Linux only)"
)]
fn cli_wait_for_a_gate_and_for_a_lock() {
    let server = Server::start();
    let sb = Sandbox::new("gate-wait");
    create(&server, "shop", "team12", &["live"]);

    // Open: at once.
    run(&sb, &server, &["wait", "shop:live"]).expect_ok();

    // Closed: it blocks until opened.
    set_ok(
        &server,
        "shop",
        "live",
        json!({"state": "closed", "message": "frozen"}),
    );
    let mut waiter = spawn(&sb, &server, &["wait", "shop:live"]);
    wait_until(PROMPTLY, "the waiter to connect", || waiter.has_socket());
    assert!(waiter.is_running(), "wait blocks while the gate is closed");
    set_ok(&server, "shop", "live", json!({"state": "open"}));
    waiter.finish_within(FINISH).expect_ok();

    // Held by a ticket: it blocks until the ticket leaves.
    let t = take(&server, &json!({"shop": ["live"]}));
    let mut waiter = spawn(&sb, &server, &["wait", "shop:live"]);
    wait_until(PROMPTLY, "the waiter to connect", || waiter.has_socket());
    assert!(waiter.is_running(), "wait blocks while a ticket holds it");
    delete_ticket_ok(&server, &t);
    waiter.finish_within(FINISH).expect_ok();
    assert_free(&server, "shop", "live");

    // --timeout: exit 3, naming the gate and its message.
    set_ok(&server, "shop", "live", json!({"state": "closed"}));
    run(&sb, &server, &["wait", "shop:live", "--timeout", "300ms"])
        .expect_error(3, &["timed out", "shop:live", "frozen"]);

    // A plain NAME is a lock: held, it times out; free, at once. Gates and locks are apart.
    let grant = server.grab_ok(common::Enc::Form, &[("id", "deploy")]);
    run(&sb, &server, &["wait", "deploy", "--timeout", "300ms"]).expect_code(3);
    server.release_ok(
        common::Enc::Form,
        "deploy",
        grant["token"].as_str().unwrap(),
    );
    run(&sb, &server, &["wait", "deploy"]).expect_ok();
    run(&sb, &server, &["wait", "shop:live", "--lock"]).expect_ok();
}

#[test]
fn cli_unknown_services_and_bad_input_exit_2() {
    let server = Server::start();
    let sb = Sandbox::new("gate-usage");
    create(&server, "shop", "team12", &["live"]);
    for args in [
        &["gate", "show", "nosuch"][..],
        &["gate", "open", "nosuch", "live"],
        &["gate", "close", "nosuch", "live", "--message", "x"],
        &["gate", "open", "shop", "nogate"],
        &["gate", "delete", "nosuch"],
        &["wait", "nosuch:live", "--timeout", "2s"],
        &["wait", "shop:nogate", "--timeout", "2s"],
    ] {
        let out = run(&sb, &server, args);
        let line = out.expect_error(2, &[]);
        assert!(
            line.contains("nosuch") || line.contains("nogate"),
            "the error names what is unknown: {out}"
        );
    }
    // The server's 404 for a test-and-set does not say which service it did not know.
    for args in [
        &["gate", "enter", "nosuch:live"][..],
        &["gate", "enter", "nosuch:live", "--queue", "--timeout", "2s"],
    ] {
        run(&sb, &server, args).expect_error(2, &["not found"]);
    }
    for args in [
        &["gate", "enter", "shop"][..],
        &["gate", "enter", "shop:"],
        &["gate", "enter", ":live"],
        &["wait", "shop:"],
        &["gate", "create", "x", "--group", "g"],
        &["gate", "enter"],
        &["gate", "enter", "shop:live", "--timeout", "soon"],
    ] {
        let out = run(&sb, &server, args);
        assert_eq!(out.code(), 2, "{out}");
    }
    assert_free(&server, "shop", "live");
}

#[test]
fn cli_unreachable_server_exits_4() {
    let sb = Sandbox::new("gate-unreachable");
    let url = format!("http://127.0.0.1:{}", free_port());
    let mut procs: Vec<Proc> = [
        &["gate", "show"][..],
        &["gate", "create", "shop", "--group", "g", "--env", "live"],
        &["gate", "enter", "shop:live"],
        &["gate", "leave", "4ca72ee9-82b9-48c5-bf66-994ac907386b"],
        &["wait", "shop:live", "--timeout", "1s"],
    ]
    .iter()
    .map(|args| {
        let mut cmd = weblock_at(&url, &sb.user("user"));
        cmd.args(*args);
        sb.spawn(cmd)
    })
    .collect();
    for p in &mut procs {
        let out = p.finish_within(FINISH);
        out.expect_error(4, &["cannot reach", &url]);
    }
}

// ---------------------------------------------------------------------------------------------------
// A lost answer: the client retries a test-and-set whose answer never came
// ---------------------------------------------------------------------------------------------------

/// A loopback proxy to `upstream`. Its first connection gets the client's request through, waits for
/// the server's whole answer, and hangs up on the client without it (an answer lost on the way back);
/// later connections are relayed both ways.
struct LossyProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LossyProxy {
    fn start(upstream: SocketAddr) -> LossyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("proxy address");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = AtomicUsize::new(0);
        let thread = {
            let stop = stop.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let first = accepted.fetch_add(1, Ordering::SeqCst) == 0;
                            thread::spawn(move || {
                                let _ = relay(client, upstream, first);
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        LossyProxy {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one HTTP message (head and `Content-Length` body) from `from`.
fn read_message(from: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Ok(buf);
            }
        }
        let n = from.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn relay(mut client: TcpStream, upstream: SocketAddr, lose_answer: bool) -> io::Result<()> {
    let timeout = Some(Duration::from_secs(30));
    client.set_read_timeout(timeout)?;
    let mut server = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    server.set_read_timeout(timeout)?;
    if lose_answer {
        let request = read_message(&mut client)?;
        server.write_all(&request)?;
        read_message(&mut server)?;
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }
    let (mut c2, mut s2) = (client.try_clone()?, server.try_clone()?);
    let up = thread::spawn(move || {
        let _ = io::copy(&mut c2, &mut s2);
        let _ = s2.shutdown(Shutdown::Write);
    });
    let _ = io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}

/// The client retries a test-and-set whose answer was lost (src/cli/client.rs retries dropped
/// connections); the first call carried no ticket, so its retry is a new caller, while the ticket the
/// server granted to the first holds the gate and never expires.
#[test]
fn cli_enter_whose_answer_was_lost_leaves_no_ticket_nobody_knows() {
    let server = Server::start();
    let sb = Sandbox::new("gate-lost-answer");
    create(&server, "shop", "team12", &["live"]);
    let proxy = LossyProxy::start(server.addr());

    let mut cmd = weblock_at(&proxy.url(), &sb.user("user"));
    cmd.args(["gate", "enter", "shop:live"]);
    let out = sb.run(cmd);

    // The server granted the first call, whose answer was lost; the client called again. Whatever it
    // then says, the gate must be held by the ticket it printed, or by nobody: a granted ticket never
    // expires, so one its client never heard of would hold the gate for ever.
    let g = gate(&server, "shop", "live");
    if out.code() == 0 {
        let ticket = out.token();
        assert_eq!(
            queue_of(&g),
            [ticket],
            "the gate is held by the ticket enter printed, and only it: {g}; {out}"
        );
    } else {
        assert_eq!(
            (g["state"].as_str(), queue_of(&g)),
            (Some("open"), Vec::new()),
            "enter failed, yet the gate is held by a ticket nobody knows: {g}; {out}"
        );
    }
}
