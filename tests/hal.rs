//! Black-box tests of the HAL locks API (`/locks/…`, `/resources/…`) against the real `weblock serve`,
//! as the HAL locks document (shared/seeds/002_6afb4c021ad7da23.txt) and its issue describe it: every
//! status code the document lists, the shapes of its HAL documents, and its administrative requests
//! behind HTTP Basic authentication.

use crate::common;
use crate::hal_helpers;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use hal_helpers::*;
use serde_json::json;

/// The environment variable `serve` reads administrator credentials from.
const CREDENTIALS_ENV: &str = "WEBLOCK_ADMIN_CREDENTIALS";

/// Asserts a 4xx with a non-empty body (the document's "Body: error message").
fn assert_error(r: &Response, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {r}");
    assert!(
        !r.text().trim().is_empty(),
        "{what}: a {status} carries an error message: {r}"
    );
}

/// Asserts a status with an empty body (the document's "Body: empty").
fn assert_empty(r: &Response, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {r}");
    assert!(r.body.is_empty(), "{what}: the body should be empty: {r}");
}

/// Asserts a 401 with a `WWW-Authenticate: Basic …` challenge.
fn assert_challenge(r: &Response, what: &str) {
    assert_eq!(r.status, 401, "{what}: {r}");
    let challenge = r
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("{what}: a 401 carries WWW-Authenticate: {r}"));
    assert!(
        challenge.to_ascii_lowercase().starts_with("basic"),
        "{what}: the challenge should ask for HTTP Basic: {r}"
    );
}

fn is_empty_now(rx: &mpsc::Receiver<Result<Response, String>>) -> bool {
    matches!(rx.try_recv(), Err(TryRecvError::Empty))
}

/// The answer of a waiter that is due now: it must come within `ANSWER_DEADLINE`.
fn answer_of(rx: &mpsc::Receiver<Result<Response, String>>, what: &str) -> Response {
    recv_within(rx, ANSWER_DEADLINE, what).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// A `weblock serve` spawned by the test itself, to control its environment; killed on drop.
struct OwnServer {
    child: Child,
    addr: SocketAddr,
}

impl OwnServer {
    /// `weblock serve --listen 127.0.0.1:0` with `WEBLOCK_ADMIN_CREDENTIALS` set to `credentials`, or
    /// removed from its environment with `None`.
    fn start(credentials: Option<&str>) -> OwnServer {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_weblock"));
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        match credentials {
            Some(c) => cmd.env(CREDENTIALS_ENV, c),
            None => cmd.env_remove(CREDENTIALS_ENV),
        };
        let mut child = cmd.spawn().expect("spawn weblock serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining, so the server never blocks on a full pipe.
            let _ = reader.read_to_end(&mut Vec::new());
        });
        let line = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("weblock serve printed no first line: {e}");
            }
        };
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.trim_end_matches('/').parse().ok());
        match addr {
            Some(addr) => OwnServer { child, addr },
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the first line should be `listening on http://ADDR`: {line:?}");
            }
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------------
// Acquire: 201, 408, 409
// ---------------------------------------------------------------------------------------------------

#[test]
fn acquire_is_201_with_an_absolute_location_on_the_host_the_client_used() {
    let server = admin_server();
    let r = server.request(
        "POST",
        "/locks/foo",
        &[
            ("Host", "locks.example:8080"),
            ("Content-Type", "application/json"),
        ],
        br#"{"title": "client title", "wait": 5, "lifetime": 300}"#,
    );
    assert_empty(&r, 201, "acquire of a free resource");
    let path = location_path(&r, "locks.example:8080");
    assert!(path.starts_with("/locks/foo/"), "{path}");

    // The document's example sends the raw body with no content type; another resource, another Host.
    let r = server.request(
        "POST",
        "/locks/bar",
        &[("Host", "other.example")],
        br#"{"title": "raw body"}"#,
    );
    assert_empty(&r, 201, "acquire with a raw JSON body");
    let other = location_path(&r, "other.example");
    assert!(other.starts_with("/locks/bar/"), "{other}");

    // docs/api.md's own example is `curl -d '{…}'`, which says the body is a form: it is read as the
    // JSON it is. A real form is accepted too.
    let r = server.request(
        "POST",
        "/locks/curled",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        br#"{"title": "deploy", "wait": 30, "lifetime": 600}"#,
    );
    assert_empty(&r, 201, "the documented curl -d example");
    let doc = hal_json(
        &server.get(&location_path(&r, "weblock.test")),
        "the curl -d lock",
    );
    assert_eq!(doc["title"], "deploy", "{doc}");
    let since = hal_time_ms(&doc["active_since"], "active_since");
    let expires = hal_time_ms(&doc["active_expires"], "active_expires");
    assert_eq!(expires - since, 600_000, "{doc}");
    let r = server.request(
        "POST",
        "/locks/formed",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"title=a+form&wait=0&lifetime=60",
    );
    assert_empty(&r, 201, "a form body");
    let doc = hal_json(
        &server.get(&location_path(&r, "weblock.test")),
        "the form lock",
    );
    assert_eq!(doc["title"], "a form", "{doc}");

    // Each lock URL is unique, and names the lock.
    let again = hal_lock_ok(&server, "baz", "third");
    assert_ne!(uid_of_path(&path), uid_of_path(&other));
    assert_ne!(uid_of_path(&other), uid_of_path(&again));
    let doc = hal_json(&server.get(&path), "GET the lock URL");
    assert_eq!(doc["title"], "client title", "{doc}");
    assert_eq!(doc["active"], true, "{doc}");
}

#[test]
fn acquire_of_a_busy_resource_with_wait_0_is_408_at_once() {
    let server = admin_server();
    let held = hal_lock_ok(&server, "busy", "holder");
    for body in [
        r#"{"title": "impatient", "wait": 0}"#,
        r#"{"title": "no wait at all"}"#,
    ] {
        let r = hal_post(&server, "busy", body);
        assert_empty(&r, 408, body);
    }
    // Nothing was queued, and the holder still holds.
    let locks = hal_locks(&server, "busy");
    assert_eq!(titles(&locks), ["holder"], "{locks:?}");
    assert_eq!(server.get(&held).status, 200);
}

#[test]
fn acquire_times_out_with_408_after_a_short_wait() {
    let server = admin_server();
    hal_lock_ok(&server, "slow", "holder");
    let rx = spawn_hal(server.addr(), "slow", r#"{"title": "short", "wait": 0.3}"#);
    // While it waits (if the test sees it in time), it is listed as waiting until 0.3 s after it came.
    let deadline = Instant::now() + CONDITION_DEADLINE;
    let answer = loop {
        match rx.try_recv() {
            Ok(answer) => break answer,
            Err(TryRecvError::Disconnected) => panic!("the waiter's thread died"),
            Err(TryRecvError::Empty) => {}
        }
        let locks = hal_locks(&server, "slow");
        if let Some(w) = locks.iter().find(|l| l["title"] == "short") {
            assert_eq!(w["active"], false, "{w}");
            let since = hal_time_ms(&w["waiting_since"], "waiting_since");
            let until = hal_time_ms(&w["waiting_expires"], "waiting_expires");
            assert!(
                (200..=300).contains(&(until - since)),
                "it waits 0.3 s from when it came: {w}"
            );
        }
        assert!(Instant::now() < deadline, "no answer to a 0.3 s wait");
        thread::sleep(POLL_PAUSE);
    };
    let r = answer.unwrap_or_else(|e| panic!("{e}"));
    assert_empty(&r, 408, "a wait that ran out");
    assert_eq!(
        titles(&hal_locks(&server, "slow")),
        ["holder"],
        "a timed-out waiter leaves the queue"
    );
}

#[test]
fn a_waiter_is_answered_201_the_moment_the_holder_deletes_its_lock() {
    let server = admin_server();
    let held = hal_lock_ok(&server, "handover", "holder");
    // A Host of its own: its Location, made when the lock comes to it, is on that host.
    let rx = spawn_hal_with(
        server.addr(),
        "handover",
        r#"{"title": "patient", "wait": 30}"#,
        &[("Host", "waiter.example:9000")],
    );
    let locks = wait_for_hal_count(&server, "handover", 2);
    let waiter_uid = locks[1]["uid"].as_str().expect("uid").to_string();
    assert!(is_empty_now(&rx), "the waiter waits while the lock is held");

    let released = Instant::now();
    assert_empty(
        &server.request("DELETE", &held, &[], b""),
        204,
        "DELETE of the lock URL",
    );
    let r = answer_of(&rx, "the waiter, after the holder's DELETE");
    let took = released.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "the waiter should be answered at the release, well before its 30 s wait ends (took {took:?})"
    );
    assert_empty(&r, 201, "the waiter granted");
    let path = location_path(&r, "waiter.example:9000");
    assert_eq!(
        uid_of_path(&path),
        waiter_uid,
        "its lock URL is the request the listing showed"
    );
    let doc = hal_json(&server.get(&path), "the new holder's lock");
    assert_eq!(doc["active"], true, "{doc}");
    assert_eq!(doc["title"], "patient", "{doc}");
    assert_eq!(server.get(&held).status, 404, "the old lock is gone");
}

#[test]
fn waiters_are_granted_in_fifo_order() {
    let server = admin_server();
    let held = hal_lock_ok(&server, "fifo", "holder");
    let first = spawn_hal(server.addr(), "fifo", r#"{"title": "first", "wait": 30}"#);
    wait_for_hal_count(&server, "fifo", 2);
    let second = spawn_hal(server.addr(), "fifo", r#"{"title": "second", "wait": 30}"#);
    let locks = wait_for_hal_count(&server, "fifo", 3);
    assert_eq!(titles(&locks), ["holder", "first", "second"]);

    server.request("DELETE", &held, &[], b"");
    let r1 = answer_of(&first, "the first waiter");
    assert_empty(&r1, 201, "the first waiter");
    assert!(is_empty_now(&second), "the second waits for the first");
    let locks = hal_locks(&server, "fifo");
    assert_eq!(titles(&locks), ["first", "second"], "{locks:?}");
    assert_eq!(locks[0]["active"], true);
    assert_eq!(locks[1]["active"], false);

    let p1 = location_path(&r1, "weblock.test");
    server.request("DELETE", &p1, &[], b"");
    assert_empty(&answer_of(&second, "the second waiter"), 201, "second");
}

#[test]
fn a_waiter_is_answered_409_when_an_administrator_deletes_the_resource() {
    let (server, _dir) = server_with_admin();
    let held = hal_lock_ok(&server, "contended", "holder");
    let rx = spawn_hal(
        server.addr(),
        "contended",
        r#"{"title": "waiter", "wait": 30}"#,
    );
    wait_for_hal_count(&server, "contended", 2);

    let asked = Instant::now();
    assert_empty(
        &admin_delete(&server, "/resources/contended"),
        204,
        "DELETE /resources/contended",
    );
    let r = answer_of(&rx, "the waiter, after the administrator's DELETE");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "answered at the deletion, well before its 30 s wait ends"
    );
    assert_empty(&r, 409, "a waiting request deleted by an administrator");
    assert_eq!(server.get(&held).status, 404, "the active lock is gone too");
    assert!(hal_locks(&server, "contended").is_empty());
}

#[test]
fn a_waiting_request_deleted_at_its_url_is_answered_409() {
    let server = admin_server();
    let held = hal_lock_ok(&server, "cancel", "holder");
    let rx = spawn_hal(
        server.addr(),
        "cancel",
        r#"{"title": "waiter", "wait": 30}"#,
    );
    let locks = wait_for_hal_count(&server, "cancel", 2);
    let waiting = locks[1]["_links"]["self"]["href"]
        .as_str()
        .expect("a waiting lock's self link")
        .to_string();

    assert_empty(
        &server.request("DELETE", &waiting, &[], b""),
        204,
        "DELETE of a waiting request's URL",
    );
    assert_empty(
        &answer_of(&rx, "the deleted waiter"),
        409,
        "its deleted waiter",
    );
    assert_eq!(server.get(&waiting).status, 404);
    assert_eq!(titles(&hal_locks(&server, "cancel")), ["holder"]);
    assert_eq!(server.get(&held).status, 200, "the holder is untouched");
}

// ---------------------------------------------------------------------------------------------------
// Lifetime
// ---------------------------------------------------------------------------------------------------

#[test]
fn a_lock_is_gone_when_its_lifetime_runs_out() {
    let server = admin_server();
    let r = hal_post(
        &server,
        "lease",
        r#"{"title": "short lease", "lifetime": 1}"#,
    );
    assert_empty(&r, 201, "acquire with lifetime 1");
    let path = location_path(&r, "weblock.test");
    let doc = hal_json(&server.get(&path), "the lock before its lifetime ends");
    let since = hal_time_ms(&doc["active_since"], "active_since");
    let expires = hal_time_ms(&doc["active_expires"], "active_expires");
    assert_eq!(expires - since, 1000, "a lifetime of 1 s: {doc}");

    // The scenario: the lifetime runs out.
    thread::sleep(Duration::from_millis(1000));
    poll_until("the expired lock's URL to be 404", || {
        let r = server.get(&path);
        if r.status == 404 {
            Ok(())
        } else {
            Err(r.to_string())
        }
    });
    assert!(hal_locks(&server, "lease").is_empty());
    assert_empty(
        &hal_post(&server, "lease", r#"{"title": "next", "wait": 0}"#),
        201,
        "the resource is free again",
    );
}

#[test]
fn the_next_waiter_gets_the_lock_when_the_lifetime_runs_out() {
    let server = admin_server();
    let r = hal_post(&server, "expiry", r#"{"title": "leaser", "lifetime": 1}"#);
    assert_empty(&r, 201, "acquire with lifetime 1");
    let held = location_path(&r, "weblock.test");
    let rx = spawn_hal(server.addr(), "expiry", r#"{"title": "heir", "wait": 30}"#);
    wait_for_hal_count(&server, "expiry", 2);

    let r = answer_of(&rx, "the waiter, at the holder's expiry");
    assert_empty(&r, 201, "the waiter granted at the expiry");
    assert_eq!(server.get(&held).status, 404, "the expired lock is gone");
    let locks = hal_locks(&server, "expiry");
    assert_eq!(titles(&locks), ["heir"]);
    assert_eq!(locks[0]["active"], true);
}

// ---------------------------------------------------------------------------------------------------
// 400
// ---------------------------------------------------------------------------------------------------

#[test]
fn bad_bodies_are_400_with_a_message_and_take_no_lock() {
    let server = admin_server();
    let cases: &[(&str, &str)] = &[
        ("an empty body", ""),
        ("a blank body", "  \r\n"),
        ("truncated JSON", r#"{"title": "x", "wait": "#),
        ("truncated JSON object", r#"{"title": "x""#),
        ("an array", "[1]"),
        ("a string", r#""x""#),
        ("a number", "5"),
        ("no title", r#"{"wait": 5, "lifetime": 300}"#),
        ("a null title", r#"{"title": null}"#),
        ("a negative wait", r#"{"title": "x", "wait": -1}"#),
        ("a non-numeric wait", r#"{"title": "x", "wait": "soon"}"#),
        ("a boolean wait", r#"{"title": "x", "wait": true}"#),
        ("an object wait", r#"{"title": "x", "wait": {}}"#),
        ("a negative lifetime", r#"{"title": "x", "lifetime": -5}"#),
        (
            "a non-numeric lifetime",
            r#"{"title": "x", "lifetime": "forever"}"#,
        ),
        ("a list lifetime", r#"{"title": "x", "lifetime": [300]}"#),
    ];
    for (what, body) in cases {
        let r = server.request(
            "POST",
            "/locks/strict",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_error(&r, 400, what);
    }
    // The same with no content type at all (the document's raw body).
    for (what, body) in cases {
        let r = server.request("POST", "/locks/strict", &[], body.as_bytes());
        assert_error(&r, 400, &format!("{what}, without Content-Type"));
    }
    assert!(
        hal_locks(&server, "strict").is_empty(),
        "a refused request takes no lock"
    );
    hal_lock_ok(&server, "strict", "fine");
}

#[test]
fn resource_names_outside_letters_and_digits_are_400() {
    let (server, _dir) = server_with_admin();
    let body = br#"{"title": "x"}"#;
    for name in ["a-b", "a.b", "a_b", "a:b", "a%20b", "%C3%A9t%C3%A9"] {
        let r = server.request(
            "POST",
            &format!("/locks/{name}"),
            &[("Content-Type", "application/json")],
            body,
        );
        assert_error(&r, 400, &format!("POST /locks/{name}"));
        assert_error(
            &admin_get(&server, &format!("/resources/{name}")),
            400,
            &format!("GET /resources/{name}"),
        );
        assert_error(
            &admin_delete(&server, &format!("/resources/{name}")),
            400,
            &format!("DELETE /resources/{name}"),
        );
    }
    let r = admin_get(&server, "/resources");
    let v = hal_json(&r, "GET /resources");
    assert_eq!(v["_embedded"]["resources"], json!([]), "no lock taken: {v}");
}

#[test]
fn numeric_strings_for_wait_or_lifetime_are_refused_or_shown_as_numbers() {
    // The document's `wait` and `lifetime` are numbers. A JSON string is "not a number" (400); a
    // server that takes "300" anyway must show the lock's lifetime as the number it used.
    let server = admin_server();
    let json_body = br#"{"title": "strings", "wait": "2", "lifetime": "300"}"#;
    let form_body = b"title=form&wait=2&lifetime=300";
    for (resource, ct, body) in [
        ("json", "application/json", &json_body[..]),
        ("form", "application/x-www-form-urlencoded", &form_body[..]),
    ] {
        let r = server.request(
            "POST",
            &format!("/locks/{resource}"),
            &[("Content-Type", ct)],
            body,
        );
        if r.status == 400 {
            continue;
        }
        assert_eq!(r.status, 201, "{resource}: {r}");
        let doc = hal_json(&server.get(&location_path(&r, "weblock.test")), "the lock");
        assert_eq!(
            doc["lifetime"],
            json!(300),
            "{resource}: lifetime should be the number 300: {doc}"
        );
        assert_eq!(
            doc["wait"],
            json!(2),
            "{resource}: wait should be the number 2: {doc}"
        );
    }
}

#[test]
fn a_huge_lifetime_is_refused_or_shown_with_a_valid_expiry() {
    let server = admin_server();
    let r = hal_post(
        &server,
        "huge",
        r#"{"title": "forever", "lifetime": 1e300}"#,
    );
    if r.status == 400 {
        return;
    }
    assert_eq!(r.status, 201, "{r}");
    let doc = hal_json(&server.get(&location_path(&r, "weblock.test")), "the lock");
    hal_time_ms(&doc["active_since"], "active_since");
    hal_time_ms(&doc["active_expires"], "active_expires");
}

// ---------------------------------------------------------------------------------------------------
// GET and DELETE of a lock URL
// ---------------------------------------------------------------------------------------------------

#[test]
fn get_lock_is_a_hal_document_with_the_documented_fields() {
    let server = admin_server();
    let r = hal_post(
        &server,
        "foo",
        r#"{"title": "lock title", "wait": 5, "lifetime": 300}"#,
    );
    assert_empty(&r, 201, "acquire");
    let path = location_path(&r, "weblock.test");
    let uid = uid_of_path(&path);

    let r = server.get(&path);
    assert_eq!(r.status, 200, "{r}");
    let doc = hal_json(&r, "GET the lock URL");
    assert_eq!(doc["uid"], uid.as_str(), "{doc}");
    assert_eq!(doc["title"], "lock title", "{doc}");
    assert_eq!(doc["active"], true, "{doc}");
    assert_eq!(doc["lifetime"], json!(300), "{doc}");
    assert_eq!(doc["wait"], json!(5), "{doc}");
    let since = hal_time_ms(&doc["active_since"], "active_since");
    let expires = hal_time_ms(&doc["active_expires"], "active_expires");
    assert_eq!(expires - since, 300_000, "expires a lifetime after: {doc}");
    assert_eq!(doc["_links"]["self"]["href"], path.as_str(), "{doc}");
    assert_eq!(doc["_links"]["resource"]["href"], "/resources/foo", "{doc}");

    // Without a lifetime the lock has no end.
    let r = hal_post(&server, "nolease", r#"{"title": "no lease"}"#);
    let doc = hal_json(
        &server.get(&location_path(&r, "weblock.test")),
        "a lock without lifetime",
    );
    assert_eq!(doc["active"], true, "{doc}");
    assert_eq!(doc["lifetime"], json!(0), "{doc}");
    assert!(doc["active_expires"].is_null(), "{doc}");
}

#[test]
fn get_of_a_waiting_request_shows_it_inactive_with_its_waiting_times() {
    let server = admin_server();
    hal_lock_ok(&server, "queue", "holder");
    let rx = spawn_hal(
        server.addr(),
        "queue",
        r#"{"title": "in line", "wait": 30, "lifetime": 60}"#,
    );
    let locks = wait_for_hal_count(&server, "queue", 2);
    let listed = &locks[1];
    let uid = listed["uid"].as_str().expect("uid");
    let path = format!("/locks/queue/{uid}");
    assert_eq!(listed["_links"]["self"]["href"], path.as_str(), "{listed}");

    let r = server.get(&path);
    assert_eq!(r.status, 200, "GET of a waiting request's URL: {r}");
    let doc = hal_json(&r, "a waiting request");
    assert_eq!(doc["uid"], uid, "{doc}");
    assert_eq!(doc["title"], "in line", "{doc}");
    assert_eq!(doc["active"], false, "{doc}");
    assert!(doc["active_since"].is_null(), "not active yet: {doc}");
    assert!(doc["active_expires"].is_null(), "not active yet: {doc}");
    assert_eq!(doc["wait"], json!(30), "{doc}");
    assert_eq!(doc["lifetime"], json!(60), "{doc}");
    let since = hal_time_ms(&doc["waiting_since"], "waiting_since");
    let until = hal_time_ms(&doc["waiting_expires"], "waiting_expires");
    // The wait is counted from when the server read the request, a moment before it queued it.
    assert!(
        (29_000..=30_000).contains(&(until - since)),
        "it stops waiting 30 s after: {doc}"
    );
    assert_eq!(
        doc["_links"]["resource"]["href"], "/resources/queue",
        "{doc}"
    );
    // The original server's names for the same two times (rdlm-py reads these).
    assert_eq!(doc["wait_since"], doc["waiting_since"], "{doc}");
    assert_eq!(doc["wait_expires"], doc["waiting_expires"], "{doc}");
    for key in [
        "wait_since",
        "wait_expires",
        "waiting_since",
        "waiting_expires",
        "active",
        "title",
        "uid",
    ] {
        assert_eq!(listed[key], doc[key], "the listing agrees on {key}");
    }
    assert!(is_empty_now(&rx), "still waiting");
}

#[test]
fn delete_lock_is_204_then_404_and_frees_the_resource() {
    let server = admin_server();
    let path = hal_lock_ok(&server, "once", "holder");
    assert_empty(
        &server.request("DELETE", &path, &[], b""),
        204,
        "first DELETE",
    );
    assert_error(
        &server.request("DELETE", &path, &[], b""),
        404,
        "second DELETE",
    );
    assert_error(&server.get(&path), 404, "GET of a deleted lock");
    assert!(hal_locks(&server, "once").is_empty());
    hal_lock_ok(&server, "once", "next");
}

#[test]
fn unknown_lock_urls_are_404() {
    let server = admin_server();
    let path = hal_lock_ok(&server, "real", "holder");
    let uid = uid_of_path(&path);
    let targets = [
        "/locks/real/ffffffffffffffffffffffffffffffff".to_string(),
        "/locks/real/not-a-uid".to_string(),
        "/locks/real/zz".to_string(),
        // The right uid under another resource is not that lock.
        format!("/locks/other/{uid}"),
    ];
    for target in &targets {
        assert_error(&server.get(target), 404, &format!("GET {target}"));
        assert_error(
            &server.request("DELETE", target, &[], b""),
            404,
            &format!("DELETE {target}"),
        );
    }
    assert_eq!(server.get(&path).status, 200, "the real lock is untouched");
}

#[test]
fn wrong_methods_are_405_with_an_allow_header() {
    let server = admin_server();
    let path = hal_lock_ok(&server, "methods", "holder");
    for (method, target) in [
        ("GET", "/locks/methods"),
        ("PUT", "/locks/methods"),
        ("POST", path.as_str()),
        ("PUT", path.as_str()),
        ("POST", "/resources"),
        ("PUT", "/resources/methods"),
    ] {
        let r = server.request(method, target, &[], b"");
        assert_eq!(r.status, 405, "{method} {target}: {r}");
        assert!(r.header("allow").is_some(), "{method} {target}: {r}");
    }
}

// ---------------------------------------------------------------------------------------------------
// Listings
// ---------------------------------------------------------------------------------------------------

#[test]
fn get_resources_lists_the_resources_with_locks() {
    let server = admin_server();
    let r = admin_get(&server, "/resources");
    assert_eq!(r.status, 200, "{r}");
    let v = hal_json(&r, "GET /resources with no locks");
    assert_eq!(v["_embedded"]["resources"], json!([]), "{v}");
    assert_eq!(v["_links"]["self"]["href"], "/resources", "{v}");

    let foo = hal_lock_ok(&server, "foo", "a");
    hal_lock_ok(&server, "bar", "b");
    let v = hal_json(&admin_get(&server, "/resources"), "GET /resources");
    assert_eq!(v["_links"]["self"]["href"], "/resources", "{v}");
    let list = v["_embedded"]["resources"].as_array().expect("a list");
    let mut names: Vec<&str> = list
        .iter()
        .map(|r| {
            let name = r["name"].as_str().expect("name");
            assert_eq!(r["_links"]["self"]["href"], format!("/resources/{name}"));
            name
        })
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["bar", "foo"], "{v}");

    server.request("DELETE", &foo, &[], b"");
    let v = hal_json(&admin_get(&server, "/resources"), "GET /resources");
    assert_eq!(
        v["_embedded"]["resources"],
        json!([{"_links": {"self": {"href": "/resources/bar"}}, "name": "bar"}]),
        "a resource without locks is not listed"
    );
}

#[test]
fn get_resource_lists_active_and_waiting_locks_and_is_empty_without_locks() {
    let server = admin_server();
    let r = admin_get(&server, "/resources/nothing");
    assert_eq!(r.status, 200, "a resource with no locks: {r}");
    let v = hal_json(&r, "GET /resources/nothing");
    assert_eq!(v["_embedded"]["locks"], json!([]), "{v}");
    assert_eq!(v["name"], "nothing", "{v}");
    assert_eq!(v["_links"]["self"]["href"], "/resources/nothing", "{v}");

    let held = hal_post(
        &server,
        "foo",
        r#"{"title": "lock title", "wait": 10, "lifetime": 300}"#,
    );
    let held = location_path(&held, "weblock.test");
    let _waiter = spawn_hal(server.addr(), "foo", r#"{"title": "waiter", "wait": 30}"#);
    let locks = wait_for_hal_count(&server, "foo", 2);
    assert_eq!(titles(&locks), ["lock title", "waiter"]);

    let active = &locks[0];
    assert_eq!(active["uid"], uid_of_path(&held).as_str(), "{active}");
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["lifetime"], json!(300), "{active}");
    assert_eq!(active["wait"], json!(10), "{active}");
    assert_eq!(active["_links"]["self"]["href"], held.as_str(), "{active}");
    let since = hal_time_ms(&active["active_since"], "active_since");
    let expires = hal_time_ms(&active["active_expires"], "active_expires");
    assert_eq!(expires - since, 300_000, "{active}");

    let waiting = &locks[1];
    assert_eq!(waiting["active"], false, "{waiting}");
    let uid = waiting["uid"].as_str().expect("uid");
    assert_eq!(
        waiting["_links"]["self"]["href"],
        format!("/locks/foo/{uid}"),
        "{waiting}"
    );
    let since = hal_time_ms(&waiting["waiting_since"], "waiting_since");
    let until = hal_time_ms(&waiting["waiting_expires"], "waiting_expires");
    assert!((29_000..=30_000).contains(&(until - since)), "{waiting}");
}

// ---------------------------------------------------------------------------------------------------
// Administrators
// ---------------------------------------------------------------------------------------------------

#[test]
fn admin_requests_without_the_right_credentials_are_401_with_www_authenticate() {
    let (server, _dir) = server_with_admin();
    let held = hal_lock_ok(&server, "guarded", "holder");
    let wrong_password = basic("admin:wrong");
    let wrong_user = basic("root:s3cret-pa55");
    let longer = basic(&format!("{ADMIN_USER_PASSWORD}x"));
    let bearer = format!("Bearer {}", base64(ADMIN_USER_PASSWORD.as_bytes()));
    let headers: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no Authorization", vec![]),
        ("a wrong password", vec![("Authorization", &wrong_password)]),
        ("a wrong user", vec![("Authorization", &wrong_user)]),
        ("a longer password", vec![("Authorization", &longer)]),
        ("not Basic", vec![("Authorization", &bearer)]),
        (
            "bad base64",
            vec![("Authorization", "Basic !!!not-base64!!!")],
        ),
        (
            "plain text",
            vec![("Authorization", "Basic admin:s3cret-pa55")],
        ),
    ];
    for (what, h) in &headers {
        for target in ["/resources/guarded", "/resources"] {
            let r = server.request("DELETE", target, h, b"");
            assert_challenge(&r, &format!("DELETE {target} with {what}"));
        }
    }
    assert_eq!(server.get(&held).status, 200, "the lock survived");
    assert_eq!(titles(&hal_locks(&server, "guarded")), ["holder"]);
}

#[test]
fn the_basic_auth_scheme_name_is_case_insensitive() {
    // RFC 7235 §2.1: "It uses a case-insensitive token as a means to identify the authentication
    // scheme". `Basic`, `basic` and `BASIC` are the same scheme.
    let (server, _dir) = server_with_admin();
    let encoded = base64(ADMIN_USER_PASSWORD.as_bytes());
    for scheme in ["Basic", "basic", "BASIC", "bAsIc"] {
        hal_lock_ok(&server, "schemes", "holder");
        let auth = format!("{scheme} {encoded}");
        let r = server.request(
            "DELETE",
            "/resources/schemes",
            &[("Authorization", auth.as_str())],
            b"",
        );
        assert_empty(&r, 204, &format!("Authorization: {scheme} …"));
    }
}

#[test]
fn every_line_of_the_administrators_file_is_an_administrator() {
    let dir = TempDir::new();
    let file = dir.write(
        "admins",
        "# the build team\nalice:first-pa55\n\nbob:second-pa55\n",
    );
    let file = file.to_str().expect("a UTF-8 temporary path").to_string();
    let server = Server::builder()
        .args(&["--admin-credentials", &file])
        .start();
    for pair in ["alice:first-pa55", "bob:second-pa55"] {
        hal_lock_ok(&server, "shared", "holder");
        let auth = basic(pair);
        let r = server.request(
            "DELETE",
            "/resources/shared",
            &[("Authorization", auth.as_str())],
            b"",
        );
        assert_empty(&r, 204, &format!("DELETE as {pair}"));
    }
    for wrong in ["alice:second-pa55", "bob:first-pa55", "# the build team"] {
        let auth = basic(wrong);
        let r = server.request(
            "GET",
            "/resources",
            &[("Authorization", auth.as_str())],
            b"",
        );
        assert_challenge(&r, &format!("GET /resources as {wrong}"));
    }
}

#[test]
fn admin_requests_are_403_when_no_credentials_are_configured() {
    let server = OwnServer::start(None);
    let r = request_at(
        server.addr,
        "POST",
        "/locks/open",
        &[("Content-Type", "application/json")],
        br#"{"title": "holder"}"#,
    );
    assert_eq!(r.status, 201, "{r}");
    let lock = location_path(&r, "weblock.test");
    let looks_right = basic(ADMIN_USER_PASSWORD);
    let empty_pair = basic(":");
    // Nobody is the administrator: no credentials could do, so there is no challenge either (the
    // original server answers 403 when no admin file is configured).
    for auth in [None, Some(looks_right.as_str()), Some(empty_pair.as_str())] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        for (method, target) in [
            ("DELETE", "/resources/open"),
            ("DELETE", "/resources"),
            ("GET", "/resources/open"),
            ("GET", "/resources"),
        ] {
            let r = request_at(server.addr, method, target, &headers, b"");
            let what = format!("{method} {target} with {auth:?}, no admin");
            assert_error(&r, 403, &what);
            assert!(r.header("www-authenticate").is_none(), "{what}: {r}");
            assert!(!r.text().contains(&uid_of_path(&lock)), "{what}: {r}");
        }
    }
    let r = request_at(server.addr, "GET", &lock, &[], b"");
    assert_eq!(
        r.status, 200,
        "the lock is still there, for its holder: {r}"
    );
}

#[test]
fn admin_delete_of_a_resource_is_204_and_ends_its_active_and_waiting_locks() {
    let (server, _dir) = server_with_admin();
    let held = hal_lock_ok(&server, "doomed", "holder");
    let kept = hal_lock_ok(&server, "kept", "other");
    let rx = spawn_hal(
        server.addr(),
        "doomed",
        r#"{"title": "waiter", "wait": 30}"#,
    );
    wait_for_hal_count(&server, "doomed", 2);

    assert_empty(
        &admin_delete(&server, "/resources/doomed"),
        204,
        "DELETE /resources/doomed",
    );
    assert_empty(&answer_of(&rx, "the doomed waiter"), 409, "its waiter");
    assert_eq!(server.get(&held).status, 404);
    assert!(hal_locks(&server, "doomed").is_empty());
    assert_eq!(
        server.get(&kept).status,
        200,
        "another resource is untouched"
    );
    assert_error(
        &admin_delete(&server, "/resources/doomed"),
        404,
        "DELETE again",
    );
    hal_lock_ok(&server, "doomed", "reborn");
}

#[test]
fn admin_delete_of_a_resource_without_locks_is_404() {
    let (server, _dir) = server_with_admin();
    assert_error(
        &admin_delete(&server, "/resources/neverused"),
        404,
        "a resource never used",
    );
    let path = hal_lock_ok(&server, "used", "holder");
    server.request("DELETE", &path, &[], b"");
    assert_error(
        &admin_delete(&server, "/resources/used"),
        404,
        "a resource whose lock was released",
    );
}

#[test]
fn admin_delete_of_all_resources_is_204_and_everything_is_gone() {
    let (server, _dir) = server_with_admin();
    assert_empty(
        &admin_delete(&server, "/resources"),
        204,
        "DELETE /resources with no locks",
    );
    let a = hal_lock_ok(&server, "alpha", "a");
    let b = hal_lock_ok(&server, "beta", "b");
    let rx = spawn_hal(server.addr(), "alpha", r#"{"title": "waiter", "wait": 30}"#);
    wait_for_hal_count(&server, "alpha", 2);

    assert_empty(
        &admin_delete(&server, "/resources"),
        204,
        "DELETE /resources",
    );
    assert_empty(&answer_of(&rx, "the waiter on alpha"), 409, "the waiter");
    assert_eq!(server.get(&a).status, 404);
    assert_eq!(server.get(&b).status, 404);
    let v = hal_json(&admin_get(&server, "/resources"), "GET /resources");
    assert_eq!(v["_embedded"]["resources"], json!([]), "{v}");
    hal_lock_ok(&server, "alpha", "again");
}

#[test]
fn admin_credentials_may_come_from_the_environment() {
    let server = OwnServer::start(Some(ADMIN_USER_PASSWORD));
    let post = |resource: &str| {
        request_at(
            server.addr,
            "POST",
            &format!("/locks/{resource}"),
            &[("Content-Type", "application/json")],
            br#"{"title": "holder"}"#,
        )
    };
    assert_eq!(post("envone").status, 201);
    assert_eq!(post("envtwo").status, 201);
    let wrong = basic("admin:nope");
    assert_challenge(
        &request_at(
            server.addr,
            "DELETE",
            "/resources/envone",
            &[("Authorization", &wrong)],
            b"",
        ),
        "wrong password",
    );
    let right = basic(ADMIN_USER_PASSWORD);
    let auth = [("Authorization", right.as_str())];
    assert_empty(
        &request_at(server.addr, "DELETE", "/resources/envone", &auth, b""),
        204,
        "DELETE /resources/envone",
    );
    assert_empty(
        &request_at(server.addr, "DELETE", "/resources", &auth, b""),
        204,
        "DELETE /resources",
    );
    let r = request_at(server.addr, "GET", "/resources", &auth, b"");
    let v = hal_json(&r, "GET /resources");
    assert_eq!(v["_embedded"]["resources"], json!([]), "{v}");
}

#[test]
fn admin_credentials_are_never_taken_from_a_command_line_argument() {
    // `--admin-credentials` names a file; given `user:password` itself, the server must not start
    // with it as credentials.
    let odd = format!("admin:{}", new_uuid());
    let mut child = Command::new(env!("CARGO_BIN_EXE_weblock"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-credentials",
            &odd,
        ])
        .env_remove(CREDENTIALS_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weblock serve");
    let deadline = Instant::now() + CONDITION_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        thread::sleep(POLL_PAUSE);
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("serve --admin-credentials {odd} kept running: it must be a file");
    };
    let mut out = String::new();
    let mut err = String::new();
    let _ = child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out);
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    assert!(!status.success(), "it should fail: {status}");
    assert!(!out.contains("listening on"), "it must not serve: {out}");
    assert!(!err.trim().is_empty(), "it says why");
}

// ---------------------------------------------------------------------------------------------------
// A waiter that hangs up
// ---------------------------------------------------------------------------------------------------

#[test]
fn a_waiter_that_hangs_up_leaves_the_queue() {
    let server = admin_server();
    let held = hal_lock_ok(&server, "hangup", "holder");
    let mut gone = server.connect();
    gone.set_read_timeout(WAITER_READ_TIMEOUT);
    gone.send_request(
        "POST",
        "/locks/hangup",
        &[("Content-Type", "application/json")],
        br#"{"title": "quitter", "wait": 30}"#,
    );
    wait_for_hal_count(&server, "hangup", 2);
    let stays = spawn_hal(
        server.addr(),
        "hangup",
        r#"{"title": "stayer", "wait": 30}"#,
    );
    let locks = wait_for_hal_count(&server, "hangup", 3);
    assert_eq!(titles(&locks), ["holder", "quitter", "stayer"]);

    drop(gone);
    let locks = wait_for_hal_count(&server, "hangup", 2);
    assert_eq!(titles(&locks), ["holder", "stayer"], "the quitter left");
    let status = server.status("hangup");
    assert_eq!(status["waiting"], 1, "{status}");

    server.request("DELETE", &held, &[], b"");
    assert_empty(
        &answer_of(&stays, "the one who stayed"),
        201,
        "next in line",
    );
    assert_eq!(titles(&hal_locks(&server, "hangup")), ["stayer"]);
}
