//! Black-box tests of the request-queue locking API (`/v1/locks/…`) against the real `weblock serve`,
//! as specified by its document (shared/seeds/003_c3078c3ce007411c.txt), the issue that asked for it and
//! the choices stated in src/api/request_queue.rs: a request is made once (201 granted, 202 queued),
//! then polled at its URL; it becomes active on its own when its turn comes; `timeout` is the owner's
//! time to live, kept with PATCH/PUT heartbeats; DELETE releases or abandons it.
//!
//! Ended requests stay readable for 10 minutes (at most 10,000 of them). Waiting that long has no place
//! here: these tests only check that a request ended just now is still readable; the forgetting itself
//! is unit-tested in the engine (src/engine/tests/retention.rs).
//!
//! Every wait is a bounded poll; the only sleeps are the scenario itself (a lease running out, or
//! heartbeats spaced over more than the lease).

use crate::common;

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::{Value, json};

/// The `Host` the fixture sends unless told otherwise: the URLs in answers are built from it.
const HOST: &str = "weblock.test";
/// A custom `Host`, as a client behind a name and port of its own would send it.
const CUSTOM_HOST: &str = "queue.example:9000";
/// Pause between two polls of a condition.
const POLL_PAUSE: Duration = Duration::from_millis(20);
/// The fields of a request, as the document shows them.
const REQUEST_FIELDS: [&str; 9] = [
    "creation_time",
    "current_status",
    "duration_active",
    "duration_waiting",
    "requester_data",
    "resource",
    "statuses",
    "timeout",
    "url",
];

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

/// A request made through the API.
struct Req {
    id: u64,
    /// `/v1/locks/R/requests/ID/`
    path: String,
    /// The absolute URL the server gave for it (`Location`).
    url: String,
}

fn requests_path(resource: &str) -> String {
    format!("/v1/locks/{resource}/requests/")
}

fn request_path(resource: &str, id: u64) -> String {
    format!("/v1/locks/{resource}/requests/{id}/")
}

/// The absolute URL of `path` as a client that sent `Host: host` should see it.
fn url_on(host: &str, path: &str) -> String {
    format!("http://{host}{path}")
}

fn send_json(server: &Server, method: &str, path: &str, body: &Value) -> Response {
    send_raw(
        server,
        method,
        path,
        "application/json",
        body.to_string().as_bytes(),
    )
}

fn send_raw(
    server: &Server,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Response {
    server.request(method, path, &[("Content-Type", content_type)], body)
}

/// `POST /v1/locks/R/requests/` with a JSON body, sent with `Host: host`; asserts the status (201 or
/// 202), that `Location` is the request's absolute URL on `host`, and that the body is the request with
/// that `url`. Returns the request and the body.
fn create_on(server: &Server, host: &str, resource: &str, body: &Value, want: u16) -> (Req, Value) {
    let path = requests_path(resource);
    let r = server.request(
        "POST",
        &path,
        &[("Host", host), ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, want, "POST {path} {body}: {r}");
    let location = r
        .header("location")
        .unwrap_or_else(|| panic!("POST {path} answered {} without Location: {r}", r.status))
        .to_string();
    let prefix = url_on(host, &path);
    let id: u64 = location
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix('/'))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| {
            panic!("Location {location:?} is not {prefix}ID/ (absolute, from the Host sent)")
        });
    let doc = r.json();
    assert_eq!(
        doc["url"],
        location.as_str(),
        "the body's url is the Location: {r}"
    );
    assert_request_shape(&doc, resource, "the answer to POST");
    let req = Req {
        id,
        path: request_path(resource, id),
        url: location,
    };
    (req, doc)
}

fn create(server: &Server, resource: &str, body: &Value, want: u16) -> (Req, Value) {
    create_on(server, HOST, resource, body, want)
}

/// `GET path`, asserted 200, as JSON.
fn get_json(server: &Server, path: &str) -> Value {
    let r = server.get(path);
    assert_eq!(r.status, 200, "GET {path}: {r}");
    r.json()
}

/// `GET` a request, asserted 200 and shaped as the document says.
fn get_request(server: &Server, resource: &str, req: &Req) -> Value {
    let doc = get_json(server, &req.path);
    assert_request_shape(&doc, resource, &format!("GET {}", req.path));
    assert_eq!(
        doc["url"],
        url_on(HOST, &req.path),
        "GET {} (with the fixture's Host): {doc}",
        req.path
    );
    doc
}

fn status_of(doc: &Value) -> &str {
    doc["current_status"]
        .as_str()
        .unwrap_or_else(|| panic!("`current_status` is not a string: {doc}"))
}

/// Polls a request until its `current_status` is `want` (for at most `CONDITION_DEADLINE`).
fn wait_for_status(server: &Server, resource: &str, req: &Req, want: &str) -> Value {
    let deadline = Instant::now() + CONDITION_DEADLINE;
    loop {
        let doc = get_request(server, resource, req);
        if status_of(&doc) == want {
            return doc;
        }
        if Instant::now() >= deadline {
            panic!(
                "{} did not become {want} within {CONDITION_DEADLINE:?}; last: {doc}",
                req.path
            );
        }
        thread::sleep(POLL_PAUSE);
    }
}

/// The `type`s of a request's `statuses`, after checking each entry's shape and that the timestamps
/// do not go back.
fn status_types(doc: &Value) -> Vec<String> {
    let statuses = doc["statuses"]
        .as_array()
        .unwrap_or_else(|| panic!("`statuses` is not an array: {doc}"));
    let mut last = i64::MIN;
    let mut types = Vec::new();
    for s in statuses {
        let t = rq_time(&s["timestamp"], &format!("a status timestamp in {doc}"));
        assert!(t >= last, "status timestamps go back: {doc}");
        last = t;
        let ty = s["type"]
            .as_str()
            .unwrap_or_else(|| panic!("a status without a string `type`: {doc}"));
        types.push(ty.to_string());
    }
    types
}

fn status_types_are(doc: &Value, want: &[&str]) {
    assert_eq!(status_types(doc), want, "statuses of {doc}");
}

/// A request as the document shows it: exactly its fields, each of the right type.
fn assert_request_shape(doc: &Value, resource: &str, what: &str) {
    let obj = doc
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not a JSON object: {doc}"));
    let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = REQUEST_FIELDS.into_iter().collect();
    assert_eq!(keys, want, "{what}: the document's fields: {doc}");
    rq_time(&doc["creation_time"], &format!("{what}: creation_time"));
    let status = status_of(doc);
    assert!(
        ["waiting", "active", "released", "abandoned", "expired"].contains(&status),
        "{what}: current_status {status:?} is not one of the document's: {doc}"
    );
    for key in ["duration_active", "duration_waiting"] {
        assert!(
            doc[key].is_u64(),
            "{what}: {key} is not a whole number of seconds: {doc}"
        );
    }
    assert_eq!(doc["resource"], resource, "{what}: {doc}");
    assert!(
        doc["timeout"].is_number(),
        "{what}: timeout is not a number: {doc}"
    );
    let types = status_types(doc);
    assert_eq!(
        types.last().map(String::as_str),
        Some(status),
        "{what}: the last status is the current one: {doc}"
    );
}

/// `2014-01-15 12:41:00 PM` (UTC, 12-hour clock) → seconds since the epoch. Panics on any other shape,
/// and when the time is far from now (a wrong AM/PM or time zone is hours off).
fn rq_time(v: &Value, what: &str) -> i64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    let b = s.as_bytes();
    let shape_ok = b.len() == 22
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b' '
        && (&s[20..] == "AM" || &s[20..] == "PM")
        && b[..19]
            .iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16) || c.is_ascii_digit());
    assert!(
        shape_ok,
        "{what} {s:?} is not in the document's format (2014-01-15 12:41:00 PM)"
    );
    let n = |range: std::ops::Range<usize>| -> i64 { s[range].parse().expect("digits") };
    let (year, month, day) = (n(0..4), n(5..7), n(8..10));
    let (hour, minute, second) = (n(11..13), n(14..16), n(17..19));
    assert!(
        (1..=12).contains(&month) && (1..=31).contains(&day),
        "{what} {s:?}: no such date"
    );
    assert!(
        (1..=12).contains(&hour) && minute < 60 && second < 60,
        "{what} {s:?}: not a 12-hour time (hours 01 to 12)"
    );
    let hour24 = match (hour, &s[20..]) {
        (12, "AM") => 0,
        (h, "AM") => h,
        (12, _) => 12,
        (h, _) => h + 12,
    };
    let t = days_from_civil(year, month, day) * 86_400 + hour24 * 3_600 + minute * 60 + second;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    assert!(
        (t - now).abs() <= 900,
        "{what} {s:?} is not about now in UTC (off by {} s)",
        t - now
    );
    t
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An error answer: the status, and a JSON body with a non-empty `reason`.
fn assert_error(r: &Response, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {r}");
    let v = r.json();
    assert!(
        v["reason"].as_str().is_some_and(|s| !s.trim().is_empty()),
        "{what}: an error names its reason: {r}"
    );
}

/// The `owner` view of a resource, asserted 200 and shaped as the document says.
fn owner_view(server: &Server, resource: &str) -> Value {
    let v = get_json(server, &format!("/v1/locks/{resource}/owner/"));
    let keys: BTreeSet<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("owner view is not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    let want: BTreeSet<&str> = [
        "duration_active",
        "time_since_last_heartbeat",
        "ttl",
        "request",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, want, "the owner view's fields: {v}");
    assert!(v["duration_active"].is_u64(), "{v}");
    assert!(v["time_since_last_heartbeat"].is_u64(), "{v}");
    assert!(v["ttl"].is_u64() || v["ttl"].is_null(), "{v}");
    v
}

/// Every absolute URL in a JSON array.
fn urls(v: &Value, what: &str) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is not an array: {v}"))
        .iter()
        .map(|u| {
            u.as_str()
                .unwrap_or_else(|| panic!("{what} holds a non-string: {v}"))
                .to_string()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------
// POST: 201 / 202, Location, the request's document
// ---------------------------------------------------------------------------------------------------

#[test]
fn post_is_201_when_free_and_202_when_queued_with_an_absolute_location_from_the_host_sent() {
    let server = Server::start();
    let (a, a_doc) = create_on(&server, CUSTOM_HOST, "build", &json!({"timeout": 600}), 201);
    assert_eq!(a.url, url_on(CUSTOM_HOST, &a.path));
    assert_eq!(status_of(&a_doc), "active", "{a_doc}");
    status_types_are(&a_doc, &["active"]);
    assert_eq!(a_doc["timeout"], 600, "timeout shown as given: {a_doc}");
    assert_eq!(a_doc["duration_waiting"], 0, "{a_doc}");

    let (b, b_doc) = create_on(&server, CUSTOM_HOST, "build", &json!({"timeout": 600}), 202);
    assert_ne!(a.id, b.id);
    assert_eq!(b.url, url_on(CUSTOM_HOST, &b.path));
    assert_eq!(status_of(&b_doc), "waiting", "{b_doc}");
    status_types_are(&b_doc, &["waiting"]);
    assert_eq!(b_doc["duration_active"], 0, "{b_doc}");

    // The URL follows the Host of whoever asks.
    let r = server.request("GET", &b.path, &[("Host", "other.example")], b"");
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["url"], url_on("other.example", &b.path));
    // And the fixture's default Host gives its own.
    assert_eq!(
        get_request(&server, "build", &b)["url"],
        url_on(HOST, &b.path)
    );
}

#[test]
fn a_host_header_unfit_for_a_url_falls_back_to_the_servers_address() {
    let server = Server::start();
    let r = server.request(
        "POST",
        &requests_path("h"),
        &[
            ("Host", "evil.example/x?y"),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    );
    assert_eq!(r.status, 201, "{r}");
    let location = r.header("location").expect("Location").to_string();
    let want = format!("http://{}/v1/locks/h/requests/", server.addr());
    assert!(
        location.starts_with(&want),
        "{location:?} should start with {want:?}"
    );
    assert_eq!(r.json()["url"], location.as_str());
}

#[test]
fn a_post_without_a_body_is_granted_without_a_lease() {
    let server = Server::start();
    let r = server.post_empty(&requests_path("bare"));
    assert_eq!(r.status, 201, "{r}");
    let doc = r.json();
    assert_request_shape(&doc, "bare", "POST without a body");
    assert_eq!(doc["timeout"], 0, "no timeout = 0 = no lease: {doc}");
    assert!(doc["requester_data"].is_null(), "{doc}");
    let owner = owner_view(&server, "bare");
    assert!(owner["ttl"].is_null(), "no lease, so no ttl: {owner}");
}

#[test]
fn resource_names_of_the_allowed_characters_up_to_64_are_accepted() {
    let server = Server::start();
    let long = "x".repeat(64);
    for name in ["ns:job_1-X", "a", long.as_str()] {
        create(&server, name, &json!({}), 201);
        get_json(&server, &format!("/v1/locks/{name}/"));
    }
}

#[test]
fn requester_data_is_returned_as_given() {
    let server = Server::start();
    let nested = json!({
        "user": {"name": "alice", "ids": [1, 2, 3], "home": {"host": "build3", "pid": 4242}},
        "tags": ["ci", "nightly", {"deep": [null, true, false]}],
        "note": "héllo \"quoted\"\nnext line\ttab ✓",
        "ratio": 1.5,
        "big": 12_345_678_901_234_567_u64,
        "empty": {},
        "none": null
    });
    let (a, a_doc) = create(
        &server,
        "data",
        &json!({"requester_data": nested, "timeout": 60}),
        201,
    );
    assert_eq!(a_doc["requester_data"], nested, "in the POST answer");
    assert_eq!(get_request(&server, "data", &a)["requester_data"], nested);

    // Other shapes, on a waiting request, and kept through waiting → active → released.
    let array = json!([1, "two", {"three": [3]}]);
    let text = json!("just a string");
    let (b, b_doc) = create(&server, "data", &json!({"requester_data": array}), 202);
    assert_eq!(b_doc["requester_data"], array);
    let (c, c_doc) = create(&server, "data", &json!({"requester_data": text}), 202);
    assert_eq!(c_doc["requester_data"], text);

    assert_eq!(server.request("DELETE", &a.path, &[], b"").status, 204);
    let b_doc = wait_for_status(&server, "data", &b, "active");
    assert_eq!(b_doc["requester_data"], array);
    assert_eq!(server.request("DELETE", &b.path, &[], b"").status, 204);
    assert_eq!(get_request(&server, "data", &b)["requester_data"], array);
    assert_eq!(
        get_request(&server, "data", &a)["requester_data"],
        nested,
        "ended"
    );
    assert_eq!(get_request(&server, "data", &c)["requester_data"], text);
}

// ---------------------------------------------------------------------------------------------------
// FIFO and the history of statuses
// ---------------------------------------------------------------------------------------------------

#[test]
fn fifo_the_next_request_becomes_active_on_its_own_and_statuses_record_the_history() {
    let server = Server::start();
    let (a, _) = create(&server, "fifo", &json!({"timeout": 600}), 201);
    let (b, _) = create(&server, "fifo", &json!({"timeout": 600}), 202);
    let (c, _) = create(&server, "fifo", &json!({"timeout": 600}), 202);

    let view = get_json(&server, "/v1/locks/fifo/");
    assert_eq!(view["owner"], a.url.as_str(), "{view}");
    assert_eq!(
        urls(&view["requests"], "requests"),
        [a.url.as_str(), b.url.as_str(), c.url.as_str()]
    );

    // The owner goes: the first in line becomes active by itself (nobody asks for it).
    let r = server.request("DELETE", &a.path, &[], b"");
    assert_eq!(r.status, 204, "{r}");
    assert!(r.body.is_empty(), "204 has no body: {r}");
    let b_doc = wait_for_status(&server, "fifo", &b, "active");
    status_types_are(&b_doc, &["waiting", "active"]);
    let c_doc = get_request(&server, "fifo", &c);
    assert_eq!(status_of(&c_doc), "waiting", "C is still behind B: {c_doc}");
    assert_eq!(
        get_json(&server, "/v1/locks/fifo/")["owner"],
        b.url.as_str()
    );
    assert_eq!(owner_view(&server, "fifo")["request"], b.url.as_str());

    let a_doc = get_request(&server, "fifo", &a);
    assert_eq!(status_of(&a_doc), "released", "{a_doc}");
    status_types_are(&a_doc, &["active", "released"]);

    // B goes: C's turn; B's whole history is there, with timestamps in the document's format.
    assert_eq!(server.request("DELETE", &b.path, &[], b"").status, 204);
    let b_doc = get_request(&server, "fifo", &b);
    assert_eq!(status_of(&b_doc), "released", "{b_doc}");
    status_types_are(&b_doc, &["waiting", "active", "released"]);
    assert_eq!(
        b_doc["statuses"][0]["timestamp"], b_doc["creation_time"],
        "the waiting status starts at creation: {b_doc}"
    );
    let c_doc = wait_for_status(&server, "fifo", &c, "active");
    status_types_are(&c_doc, &["waiting", "active"]);
}

// ---------------------------------------------------------------------------------------------------
// timeout: expiry and heartbeats
// ---------------------------------------------------------------------------------------------------

#[test]
fn an_active_request_not_renewed_within_its_timeout_expires_and_the_next_gets_the_lock() {
    let server = Server::start();
    let (a, _) = create(&server, "lease", &json!({"timeout": 1}), 201);
    let (b, _) = create(&server, "lease", &json!({"timeout": 0}), 202);
    let owner = owner_view(&server, "lease");
    assert_eq!(owner["request"], a.url.as_str());
    let ttl = owner["ttl"].as_u64().expect("a lease shows its ttl");
    assert!(ttl <= 1, "at most the timeout is left: {owner}");

    // No heartbeat: B becomes active when A's second is up, without anyone touching A.
    let b_doc = wait_for_status(&server, "lease", &b, "active");
    status_types_are(&b_doc, &["waiting", "active"]);
    let a_doc = get_request(&server, "lease", &a);
    assert_eq!(status_of(&a_doc), "expired", "{a_doc}");
    status_types_are(&a_doc, &["active", "expired"]);
    assert_eq!(a_doc["timeout"], 1, "{a_doc}");
    assert_eq!(owner_view(&server, "lease")["request"], b.url.as_str());
    assert!(
        owner_view(&server, "lease")["ttl"].is_null(),
        "B has no lease"
    );

    // An expired request can be neither renewed nor deleted.
    for method in ["PATCH", "PUT", "DELETE"] {
        let r = server.request(method, &a.path, &[], b"");
        assert_error(&r, 412, &format!("{method} of an expired request"));
    }
}

#[test]
fn heartbeats_by_patch_and_put_keep_an_active_request_past_its_timeout() {
    let server = Server::start();
    let (a, _) = create(&server, "beat", &json!({"timeout": 1}), 201);
    let (b, _) = create(&server, "beat", &json!({}), 202);

    // Beat for more than twice the timeout (the sleeps are the scenario).
    let until = Instant::now() + Duration::from_millis(2_300);
    let mut beats = 0;
    while Instant::now() < until {
        let method = if beats % 2 == 0 { "PATCH" } else { "PUT" };
        let r = server.request(method, &a.path, &[], b"");
        assert_eq!(r.status, 204, "{method} heartbeat #{beats}: {r}");
        assert!(r.body.is_empty(), "204 has no body: {r}");
        beats += 1;
        thread::sleep(Duration::from_millis(200));
    }
    let a_doc = get_request(&server, "beat", &a);
    assert_eq!(
        status_of(&a_doc),
        "active",
        "kept alive by heartbeats: {a_doc}"
    );
    status_types_are(&a_doc, &["active"]);
    assert_eq!(status_of(&get_request(&server, "beat", &b)), "waiting");
    let owner = owner_view(&server, "beat");
    assert_eq!(owner["request"], a.url.as_str());
    assert!(
        owner["time_since_last_heartbeat"].as_u64() <= owner["duration_active"].as_u64(),
        "{owner}"
    );

    // The heartbeats stop: it expires, and B gets the lock.
    wait_for_status(&server, "beat", &b, "active");
    assert_eq!(status_of(&get_request(&server, "beat", &a)), "expired");
}

#[test]
fn patch_with_a_new_timeout_extends_the_lease() {
    let server = Server::start();
    let (a, _) = create(&server, "longer", &json!({"timeout": 1}), 201);
    let (b, _) = create(&server, "longer", &json!({}), 202);
    let r = send_json(&server, "PATCH", &a.path, &json!({"timeout": 30}));
    assert_eq!(r.status, 204, "{r}");
    let ttl = owner_view(&server, "longer")["ttl"]
        .as_u64()
        .expect("a lease");
    assert!(
        (2..=30).contains(&ttl),
        "the new lease is counted: ttl {ttl}"
    );

    // The old second runs out (the sleep is the scenario): A still holds, B still waits.
    thread::sleep(Duration::from_millis(1_500));
    assert_eq!(status_of(&get_request(&server, "longer", &a)), "active");
    assert_eq!(status_of(&get_request(&server, "longer", &b)), "waiting");

    // A form body works too (its content type says so).
    let r = send_raw(
        &server,
        "PUT",
        &a.path,
        "application/x-www-form-urlencoded",
        b"timeout=120",
    );
    assert_eq!(r.status, 204, "{r}");
    let ttl = owner_view(&server, "longer")["ttl"]
        .as_u64()
        .expect("lease");
    assert!(
        (31..=120).contains(&ttl),
        "the form's timeout is counted: ttl {ttl}"
    );

    // A bad new timeout is refused, and changes nothing.
    for bad in [json!({"timeout": -1}), json!({"timeout": "soon"})] {
        let r = send_json(&server, "PATCH", &a.path, &bad);
        assert_error(&r, 400, &format!("PATCH {bad}"));
    }
    assert_eq!(status_of(&get_request(&server, "longer", &a)), "active");
}

#[test]
fn a_request_read_after_patch_shows_the_new_timeout() {
    let server = Server::start();
    let (a, _) = create(&server, "shown", &json!({"timeout": 1}), 201);
    let r = send_json(&server, "PATCH", &a.path, &json!({"timeout": 30}));
    assert_eq!(r.status, 204, "{r}");
    let ttl = owner_view(&server, "shown")["ttl"].as_u64().expect("lease");
    assert!(ttl > 1, "the lease is now 30 s: ttl {ttl}");
    let doc = get_request(&server, "shown", &a);
    assert_eq!(
        doc["timeout"], 30,
        "the request's `timeout` is the one in force after PATCH (the owner view says ttl {ttl}): {doc}"
    );
}

/// `timeout` 0 means no lease (as on POST). A PATCH that asks for it must not be answered 204 and then
/// ignored: either the lease goes, or the PATCH is refused.
#[test]
fn patch_with_timeout_0_is_not_silently_ignored() {
    let server = Server::start();
    let (a, _) = create(&server, "zero", &json!({"timeout": 1}), 201);
    let r = send_json(&server, "PATCH", &a.path, &json!({"timeout": 0}));
    if r.status == 400 {
        return;
    }
    assert_eq!(r.status, 204, "{r}");
    // The old second runs out (the sleep is the scenario).
    thread::sleep(Duration::from_millis(1_500));
    let doc = get_request(&server, "zero", &a);
    assert_eq!(
        status_of(&doc),
        "active",
        "PATCH {{\"timeout\": 0}} was answered 204, yet the 1 s lease stayed and ran out: {doc}"
    );
}

#[test]
fn heartbeat_of_a_waiting_or_ended_request_is_412_and_of_an_unknown_one_404() {
    let server = Server::start();
    let (a, _) = create(&server, "hb", &json!({"timeout": 60}), 201);
    let (b, _) = create(&server, "hb", &json!({"timeout": 60}), 202);
    for method in ["PATCH", "PUT"] {
        let r = send_json(&server, method, &b.path, &json!({"timeout": 60}));
        assert_error(&r, 412, &format!("{method} of a waiting request"));
    }
    assert_eq!(status_of(&get_request(&server, "hb", &b)), "waiting");

    assert_eq!(server.request("DELETE", &a.path, &[], b"").status, 204);
    assert_eq!(server.request("DELETE", &b.path, &[], b"").status, 204);
    for req in [&a, &b] {
        for method in ["PATCH", "PUT"] {
            let r = server.request(method, &req.path, &[], b"");
            assert_error(&r, 412, &format!("{method} of ended {}", req.path));
        }
    }

    for method in ["PATCH", "PUT"] {
        let r = server.request(method, &request_path("hb", 9_999), &[], b"");
        assert_error(&r, 404, &format!("{method} of an unknown request"));
    }
}

// ---------------------------------------------------------------------------------------------------
// DELETE
// ---------------------------------------------------------------------------------------------------

#[test]
fn delete_releases_an_active_request_abandons_a_waiting_one_and_is_412_once_ended() {
    let server = Server::start();
    let (a, _) = create(&server, "del", &json!({"timeout": 60}), 201);
    let (b, _) = create(&server, "del", &json!({"timeout": 60}), 202);
    let (c, _) = create(&server, "del", &json!({"timeout": 60}), 202);

    // A waiting request leaves the queue: abandoned, and it never becomes active.
    let r = server.request("DELETE", &b.path, &[], b"");
    assert_eq!(r.status, 204, "{r}");
    let b_doc = get_request(&server, "del", &b);
    assert_eq!(status_of(&b_doc), "abandoned", "{b_doc}");
    status_types_are(&b_doc, &["waiting", "abandoned"]);
    assert_eq!(b_doc["duration_active"], 0, "{b_doc}");

    let r = server.request("DELETE", &a.path, &[], b"");
    assert_eq!(r.status, 204, "{r}");
    let a_doc = get_request(&server, "del", &a);
    assert_eq!(status_of(&a_doc), "released", "{a_doc}");
    status_types_are(&a_doc, &["active", "released"]);
    // B left, so C is next.
    wait_for_status(&server, "del", &c, "active");
    assert_eq!(status_of(&get_request(&server, "del", &b)), "abandoned");

    for req in [&a, &b] {
        let r = server.request("DELETE", &req.path, &[], b"");
        assert_error(&r, 412, &format!("DELETE again of {}", req.path));
    }
    assert_eq!(status_of(&get_request(&server, "del", &c)), "active");

    let r = server.request("DELETE", &request_path("del", 9_999), &[], b"");
    assert_error(&r, 404, "DELETE of an unknown request");
}

#[test]
fn unknown_request_ids_are_404_and_so_is_a_request_of_another_resource() {
    let server = Server::start();
    let (a, _) = create(&server, "mine", &json!({}), 201);
    create(&server, "theirs", &json!({}), 201);
    let elsewhere = request_path("theirs", a.id);
    for path in [
        request_path("mine", 9_999),
        request_path("nosuch", 1),
        "/v1/locks/mine/requests/abc/".to_string(),
        "/v1/locks/mine/requests/0/".to_string(),
        elsewhere,
    ] {
        for method in ["GET", "PATCH", "PUT", "DELETE"] {
            let r = server.request(method, &path, &[], b"");
            assert_error(&r, 404, &format!("{method} {path}"));
        }
    }
    assert_eq!(status_of(&get_request(&server, "mine", &a)), "active");
}

// ---------------------------------------------------------------------------------------------------
// The views: owner, resource, lists
// ---------------------------------------------------------------------------------------------------

#[test]
fn owner_view_shows_the_active_request_and_is_404_when_there_is_none() {
    let server = Server::start();
    let r = server.get("/v1/locks/nobody/owner/");
    assert_error(&r, 404, "owner of an unknown resource");

    let (a, _) = create_on(&server, CUSTOM_HOST, "own", &json!({"timeout": 600}), 201);
    let (b, _) = create(&server, "own", &json!({"timeout": 600}), 202);
    let r = server.request("GET", "/v1/locks/own/owner/", &[("Host", CUSTOM_HOST)], b"");
    assert_eq!(r.status, 200, "{r}");
    let owner = r.json();
    assert_eq!(owner["request"], a.url.as_str(), "{owner}");
    let ttl = owner["ttl"].as_u64().expect("a lease");
    assert!((1..=600).contains(&ttl), "{owner}");
    owner_view(&server, "own");

    assert_eq!(server.request("DELETE", &a.path, &[], b"").status, 204);
    assert_eq!(owner_view(&server, "own")["request"], b.url.as_str());
    assert_eq!(server.request("DELETE", &b.path, &[], b"").status, 204);
    let r = server.get("/v1/locks/own/owner/");
    assert_error(&r, 404, "owner when every request has ended");
}

#[test]
fn resource_view_shows_owner_and_requests_owner_null_when_none_and_404_when_unknown() {
    let server = Server::start();
    let r = server.get("/v1/locks/unknown/");
    assert_error(&r, 404, "an unknown resource");

    let (a, _) = create_on(&server, CUSTOM_HOST, "res", &json!({}), 201);
    let (b, _) = create_on(&server, CUSTOM_HOST, "res", &json!({}), 202);
    let r = server.request("GET", "/v1/locks/res/", &[("Host", CUSTOM_HOST)], b"");
    assert_eq!(r.status, 200, "{r}");
    let view = r.json();
    assert_eq!(view["owner"], a.url.as_str(), "{view}");
    assert_eq!(
        urls(&view["requests"], "requests"),
        [a.url.as_str(), b.url.as_str()]
    );

    // Both end: the resource is still shown (its requests are readable), with no owner.
    assert_eq!(server.request("DELETE", &a.path, &[], b"").status, 204);
    assert_eq!(server.request("DELETE", &b.path, &[], b"").status, 204);
    let view = get_json(&server, "/v1/locks/res/");
    assert!(view["owner"].is_null(), "no owner: {view}");
    assert_eq!(
        urls(&view["requests"], "requests"),
        [url_on(HOST, &a.path), url_on(HOST, &b.path)]
    );
}

#[test]
fn requests_list_of_a_resource_and_404_when_unknown() {
    let server = Server::start();
    let r = server.get(&requests_path("unknown"));
    assert_error(&r, 404, "the requests of an unknown resource");

    let (a, _) = create(&server, "list", &json!({}), 201);
    let (b, _) = create(&server, "list", &json!({}), 202);
    let (c, _) = create(&server, "list", &json!({}), 202);
    create(&server, "other", &json!({}), 201);
    assert_eq!(server.request("DELETE", &b.path, &[], b"").status, 204);
    let v = get_json(&server, &requests_path("list"));
    assert_eq!(
        urls(&v["requests"], "requests"),
        [a.url.as_str(), b.url.as_str(), c.url.as_str()],
        "live and ended, in order, none of another resource: {v}"
    );

    let r = server.request("GET", &requests_path("list"), &[("Host", CUSTOM_HOST)], b"");
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(
        urls(&r.json()["requests"], "requests"),
        [a.id, b.id, c.id].map(|id| url_on(CUSTOM_HOST, &request_path("list", id)))
    );
}

#[test]
fn get_locks_lists_every_resource_with_requests() {
    let server = Server::start();
    let v = get_json(&server, "/v1/locks/");
    assert_eq!(urls(&v["locks"], "locks"), Vec::<String>::new(), "{v}");

    create(&server, "beta", &json!({}), 201);
    let (a, _) = create(&server, "alpha", &json!({}), 201);
    assert_eq!(server.request("DELETE", &a.path, &[], b"").status, 204);
    let r = server.request("GET", "/v1/locks/", &[("Host", CUSTOM_HOST)], b"");
    assert_eq!(r.status, 200, "{r}");
    let locks = urls(&r.json()["locks"], "locks");
    for name in ["alpha", "beta"] {
        let want = url_on(CUSTOM_HOST, &format!("/v1/locks/{name}/"));
        assert!(locks.contains(&want), "{want} is listed: {locks:?}");
    }
    assert!(
        !locks.iter().any(|u| u.contains("/gamma/")),
        "never used: {locks:?}"
    );
    // Without the trailing slash too.
    assert_eq!(
        get_json(&server, "/v1/locks")["locks"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn a_request_ended_just_now_is_still_readable_and_listed() {
    let server = Server::start();
    let (a, _) = create(
        &server,
        "kept",
        &json!({"requester_data": {"job": 1}, "timeout": 5}),
        201,
    );
    assert_eq!(server.request("DELETE", &a.path, &[], b"").status, 204);
    let doc = get_request(&server, "kept", &a);
    assert_eq!(status_of(&doc), "released", "{doc}");
    assert_eq!(doc["requester_data"], json!({"job": 1}));
    assert_eq!(doc["timeout"], 5);
    let listed = urls(&get_json(&server, "/v1/locks/")["locks"], "locks");
    assert_eq!(listed, [url_on(HOST, "/v1/locks/kept/")]);
    assert_eq!(
        urls(
            &get_json(&server, &requests_path("kept"))["requests"],
            "requests"
        ),
        [a.url.as_str()]
    );
}

#[test]
fn every_url_a_view_lists_is_a_readable_request_even_with_a_webmutex_watcher_on_the_lock() {
    let server = Server::start();
    let (a, _) = create(&server, "watched", &json!({"timeout": 600}), 201);

    // Request ids are engine-wide and sequential, and only this test makes any on this server: a gap
    // between two requests on a scratch resource shows that something else (the watcher) took an id.
    let (first, _) = create(&server, "scratch", &json!({}), 201);
    assert_eq!(server.request("DELETE", &first.path, &[], b"").status, 204);

    // A WebMutex client waits (on the server) for `watched` to be free: a watcher, not a request.
    let mut conn = server.connect();
    conn.set_read_timeout(Duration::from_secs(10));
    conn.send_request(
        "GET",
        "/status?id=watched&wait=30",
        &[("Connection", "close")],
        b"",
    );
    let watcher = spawn_result(move || conn.try_read_response().map_err(|e| e.to_string()));

    let deadline = Instant::now() + CONDITION_DEADLINE;
    let mut last = first.id;
    loop {
        let (next, _) = create(&server, "scratch", &json!({}), 201);
        assert_eq!(server.request("DELETE", &next.path, &[], b"").status, 204);
        if next.id > last + 1 {
            break;
        }
        last = next.id;
        assert!(
            Instant::now() < deadline,
            "the watcher was not registered within {CONDITION_DEADLINE:?}"
        );
        thread::sleep(POLL_PAUSE);
    }

    let view = get_json(&server, "/v1/locks/watched/");
    let list = get_json(&server, &requests_path("watched"));
    for (what, listed) in [
        (
            "GET /v1/locks/watched/ requests",
            urls(&view["requests"], "requests"),
        ),
        (
            "GET /v1/locks/watched/requests/",
            urls(&list["requests"], "requests"),
        ),
    ] {
        for url in &listed {
            let path = url
                .strip_prefix(&format!("http://{HOST}"))
                .expect("on our host");
            let r = server.get(path);
            assert_eq!(
                r.status, 200,
                "{what} lists {url}, which cannot be read: {r}"
            );
        }
        assert_eq!(
            listed,
            [a.url.as_str()],
            "{what}: only the request-queue request"
        );
    }

    // The owner goes; the watcher hears the lock is free.
    assert_eq!(server.request("DELETE", &a.path, &[], b"").status, 204);
    let r = recv_within(&watcher, Duration::from_secs(15), "the watcher's answer")
        .unwrap_or_else(|e| panic!("the watcher's answer: {e}"));
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["in_use"], false, "{r}");
}

// ---------------------------------------------------------------------------------------------------
// Bodies: JSON and forms; 400s
// ---------------------------------------------------------------------------------------------------

#[test]
fn an_urlencoded_form_body_gives_the_timeout() {
    let server = Server::start();
    let path = requests_path("form");
    let r = send_raw(
        &server,
        "POST",
        &path,
        "application/x-www-form-urlencoded",
        b"timeout=1&requester_data=build+7",
    );
    assert_eq!(r.status, 201, "{r}");
    let location = r.header("location").expect("Location").to_string();
    let doc = r.json();
    assert_eq!(doc["url"], location.as_str());
    assert_eq!(doc["requester_data"], "build 7", "{doc}");
    let id: u64 = location
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("an id");
    let a = Req {
        id,
        path: request_path("form", id),
        url: location,
    };
    assert_eq!(a.url, url_on(HOST, &a.path));
    let ttl = owner_view(&server, "form")["ttl"]
        .as_u64()
        .expect("a lease");
    assert!(ttl <= 1, "the form's timeout is the lease: ttl {ttl}");
    // The lease is the form's second: it runs out.
    let deadline = Instant::now() + CONDITION_DEADLINE;
    loop {
        let r = server.get(&a.path);
        assert_eq!(r.status, 200, "{r}");
        if r.json()["current_status"] == "expired" {
            break;
        }
        assert!(Instant::now() < deadline, "never expired: {r}");
        thread::sleep(POLL_PAUSE);
    }
}

#[test]
fn a_timeout_sent_in_a_form_reads_back_as_a_number() {
    let server = Server::start();
    let r = send_raw(
        &server,
        "POST",
        &requests_path("formnum"),
        "application/x-www-form-urlencoded",
        b"timeout=600",
    );
    assert_eq!(r.status, 201, "{r}");
    let doc = r.json();
    assert_eq!(
        doc["timeout"].as_f64(),
        Some(600.0),
        "the document's `timeout` is a number of seconds, however it was sent: {doc}"
    );
}

#[test]
fn bad_resource_names_are_400() {
    let server = Server::start();
    let long = "a".repeat(65);
    for name in ["a.b", long.as_str(), "a%20b", "a%2Fb", "caf%C3%A9", "a*b"] {
        for (method, path) in [
            ("POST", format!("/v1/locks/{name}/requests/")),
            ("GET", format!("/v1/locks/{name}/requests/")),
            ("GET", format!("/v1/locks/{name}/")),
            ("GET", format!("/v1/locks/{name}/owner/")),
            ("GET", format!("/v1/locks/{name}/requests/1/")),
        ] {
            let r = send_json(&server, method, &path, &json!({}));
            assert_error(&r, 400, &format!("{method} {path}"));
        }
    }
    let v = get_json(&server, "/v1/locks/");
    assert_eq!(
        urls(&v["locks"], "locks"),
        Vec::<String>::new(),
        "nothing made: {v}"
    );
}

#[test]
fn bad_timeouts_and_bodies_are_400_and_make_nothing() {
    let server = Server::start();
    let path = requests_path("strict");
    let bad_timeouts = [
        json!(-1),
        json!(-0.5),
        json!("abc"),
        json!("-3"),
        json!(true),
        json!([1]),
        json!({"s": 1}),
    ];
    for t in bad_timeouts {
        let body = json!({"requester_data": {"x": 1}, "timeout": t});
        let r = send_json(&server, "POST", &path, &body);
        assert_error(&r, 400, &format!("POST {body}"));
    }
    let bad_bodies: [(&str, &[u8]); 10] = [
        ("application/json", b"[1, 2]"),
        ("application/json", b"\"timeout\""),
        ("application/json", b"42"),
        ("application/json", b"null"),
        ("application/json", b"true"),
        ("application/json", b"{\"timeout\": 1"),
        ("application/json", b"{\"timeout\": }"),
        ("application/json", b"{\"requester_data\": {\"a\": [1, 2}"),
        ("application/json", b"timeout=1"),
        // Without a form content type the body is JSON, so a form is not silently ignored.
        ("text/plain", b"timeout=1"),
    ];
    for (ct, body) in bad_bodies {
        let r = send_raw(&server, "POST", &path, ct, body);
        let shown = String::from_utf8_lossy(body);
        assert_error(&r, 400, &format!("POST {ct} {shown}"));
    }
    let r = send_raw(
        &server,
        "POST",
        &path,
        "application/x-www-form-urlencoded",
        b"timeout=-1",
    );
    assert_error(&r, 400, "a negative timeout in a form");

    let r = server.get("/v1/locks/strict/");
    assert_error(&r, 404, "no refused request made the resource");
}

// ---------------------------------------------------------------------------------------------------
// Methods and paths
// ---------------------------------------------------------------------------------------------------

#[test]
fn wrong_methods_are_405_with_allow() {
    let server = Server::start();
    let (a, _) = create(&server, "meth", &json!({}), 201);
    let cases = [
        ("DELETE", "/v1/locks/meth/owner/".to_string()),
        ("POST", "/v1/locks/meth/owner/".to_string()),
        ("POST", "/v1/locks/".to_string()),
        ("DELETE", "/v1/locks/".to_string()),
        ("DELETE", "/v1/locks/meth/".to_string()),
        ("PUT", "/v1/locks/meth/".to_string()),
        ("PUT", requests_path("meth")),
        ("DELETE", requests_path("meth")),
        ("POST", a.path.clone()),
    ];
    for (method, path) in cases {
        let r = send_json(&server, method, &path, &json!({}));
        assert_error(&r, 405, &format!("{method} {path}"));
        let allow = r
            .header("allow")
            .unwrap_or_else(|| panic!("405 without Allow: {method} {path}: {r}"));
        assert!(
            !allow.split(',').any(|m| m.trim() == method),
            "{method} {path}: Allow {allow:?} lists the refused method"
        );
        assert!(
            allow.split(',').any(|m| m.trim() == "GET"),
            "{method} {path}: Allow {allow:?}"
        );
    }
    // Nothing changed.
    assert_eq!(status_of(&get_request(&server, "meth", &a)), "active");
}

#[test]
fn unknown_paths_under_v1_are_404() {
    let server = Server::start();
    create(&server, "p", &json!({}), 201);
    for path in [
        "/v1/locks/p/nothing/",
        "/v1/locks/p/requests/1/more/",
        "/v1/other/",
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 404, "GET {path}: {r}");
    }
}
