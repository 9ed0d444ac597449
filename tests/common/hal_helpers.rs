//! Helpers shared by `tests/hal.rs` and `tests/cross_api.rs`: the HAL locks API (`/locks/…`,
//! `/resources/…`) and the request-queue API (`/v1/locks/…`) spoken over the raw client of
//! `tests/common/mod.rs`, plus polling, HTTP Basic and a temporary credentials file.
//!
//! Included with `#[path = "common/hal_helpers.rs"] mod hal_helpers;` next to `mod common;`.
#![allow(dead_code)]

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{CONDITION_DEADLINE, Conn, Response, Server, new_uuid, spawn_result};

/// Pause between two polls of a condition.
pub const POLL_PAUSE: Duration = Duration::from_millis(10);
/// How long a test waits for a blocked request's answer that is due now (generous: the answers come in
/// milliseconds; this only bounds a broken server).
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(10);
/// The read timeout of a waiting client's socket: longer than any answer the tests wait for.
pub const WAITER_READ_TIMEOUT: Duration = Duration::from_secs(20);

pub const ADMIN_USER_PASSWORD: &str = "admin:s3cret-pa55";

// ---------------------------------------------------------------------------------------------------
// Polling
// ---------------------------------------------------------------------------------------------------

/// Calls `probe` until it gives `Ok`, for at most `CONDITION_DEADLINE`; panics with `what` and the
/// last `Err` (a description of what it saw) otherwise.
pub fn poll_until<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + CONDITION_DEADLINE;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) => {
                if Instant::now() >= deadline {
                    panic!(
                        "timed out after {CONDITION_DEADLINE:?} waiting for {what}; last: {last}"
                    );
                }
            }
        }
        thread::sleep(POLL_PAUSE);
    }
}

// ---------------------------------------------------------------------------------------------------
// Raw requests on any address (the fixture's server, or one a test spawned itself)
// ---------------------------------------------------------------------------------------------------

/// One request on a fresh connection, sent with `Connection: close`.
pub fn request_at(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut h: Vec<(&str, &str)> = headers.to_vec();
    h.push(("Connection", "close"));
    Conn::open(addr).request(method, target, &h, body)
}

// ---------------------------------------------------------------------------------------------------
// The HAL API
// ---------------------------------------------------------------------------------------------------

/// `POST /locks/{resource}` with a raw JSON `body`, answered at once (or after a short wait).
pub fn hal_post(server: &Server, resource: &str, body: &str) -> Response {
    server.request(
        "POST",
        &format!("/locks/{resource}"),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// `POST /locks/{resource}` `{"title": title}` (no wait): must be 201. Returns the lock's path.
pub fn hal_lock_ok(server: &Server, resource: &str, title: &str) -> String {
    let body = serde_json::json!({ "title": title }).to_string();
    let r = hal_post(server, resource, &body);
    assert_eq!(
        r.status, 201,
        "HAL lock of {resource} should be granted: {r}"
    );
    location_path(&r, "weblock.test")
}

/// Sends `POST /locks/{resource}` with `body` now (so the request is on its way when this returns) and
/// reads the answer on a thread.
pub fn spawn_hal(
    addr: SocketAddr,
    resource: &str,
    body: &str,
) -> mpsc::Receiver<Result<Response, String>> {
    spawn_hal_with(addr, resource, body, &[])
}

/// `spawn_hal` with extra headers (a `Host`, say).
pub fn spawn_hal_with(
    addr: SocketAddr,
    resource: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> mpsc::Receiver<Result<Response, String>> {
    let mut c = Conn::open(addr);
    c.set_read_timeout(WAITER_READ_TIMEOUT);
    let mut h = headers.to_vec();
    h.push(("Content-Type", "application/json"));
    h.push(("Connection", "close"));
    c.send_request("POST", &format!("/locks/{resource}"), &h, body.as_bytes());
    let what = format!("HAL waiter on {resource} {body}");
    spawn_result(move || c.try_read_response().map_err(|e| format!("{what}: {e}")))
}

/// The `Location` of a 201, checked to be `http://{host}/locks/{resource}/{uid}`; returns the path.
pub fn location_path(r: &Response, host: &str) -> String {
    let loc = r
        .header("location")
        .unwrap_or_else(|| panic!("a 201 carries a Location: {r}"));
    let prefix = format!("http://{host}/locks/");
    let path = loc
        .strip_prefix(&format!("http://{host}"))
        .unwrap_or_else(|| panic!("Location {loc:?} should be absolute on http://{host}: {r}"));
    assert!(
        loc.starts_with(&prefix),
        "Location {loc:?} should be a lock URL: {r}"
    );
    let rest = &loc[prefix.len()..];
    let (resource, uid) = rest
        .split_once('/')
        .unwrap_or_else(|| panic!("Location {loc:?} should be /locks/RESOURCE/UID"));
    assert!(
        !resource.is_empty() && resource.bytes().all(|b| b.is_ascii_alphanumeric()),
        "Location {loc:?}: resource"
    );
    assert!(
        !uid.is_empty() && !uid.contains('/'),
        "Location {loc:?}: one uid segment"
    );
    path.to_string()
}

/// The last path segment (a lock's uid).
pub fn uid_of_path(path: &str) -> String {
    path.rsplit('/').next().unwrap_or_default().to_string()
}

/// Asserts that `uid` is 32 lowercase hex digits, as the document shows them.
pub fn assert_uid_shape(uid: &str) {
    assert!(
        uid.len() == 32 && uid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "uid {uid:?} should be 32 lowercase hex digits"
    );
}

/// Asserts `application/hal+json` and returns the body as JSON.
pub fn hal_json(r: &Response, what: &str) -> Value {
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.to_ascii_lowercase().starts_with("application/hal+json"),
        "{what}: Content-Type should be application/hal+json: {r}"
    );
    r.json()
}

/// `GET /resources/{resource}` as the administrator (200, HAL): the `_embedded.locks` list.
pub fn hal_locks(server: &Server, resource: &str) -> Vec<Value> {
    let r = admin_get(server, &format!("/resources/{resource}"));
    assert_eq!(r.status, 200, "GET /resources/{resource}: {r}");
    let v = hal_json(&r, &format!("GET /resources/{resource}"));
    assert_eq!(v["name"], resource, "{v}");
    assert_eq!(
        v["_links"]["self"]["href"],
        format!("/resources/{resource}"),
        "{v}"
    );
    v["_embedded"]["locks"]
        .as_array()
        .unwrap_or_else(|| panic!("_embedded.locks should be a list: {v}"))
        .clone()
}

/// The `title`s of a listing, in order.
pub fn titles(locks: &[Value]) -> Vec<String> {
    locks
        .iter()
        .map(|l| l["title"].as_str().unwrap_or("<no title>").to_string())
        .collect()
}

/// Polls `GET /resources/{resource}` until it lists exactly `n` locks; returns them.
pub fn wait_for_hal_count(server: &Server, resource: &str, n: usize) -> Vec<Value> {
    poll_until(&format!("{n} lock(s) listed on {resource}"), || {
        let locks = hal_locks(server, resource);
        if locks.len() == n {
            Ok(locks)
        } else {
            Err(format!("{locks:?}"))
        }
    })
}

/// `2013-01-22T23:01:16.771799` (the document's shape: UTC, no zone, microseconds) → milliseconds since
/// the Unix epoch.
pub fn hal_time_ms(v: &Value, what: &str) -> i64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} should be a time string: {v}"));
    let b = s.as_bytes();
    let shape_ok = b.len() == 26
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19) || c.is_ascii_digit());
    assert!(
        shape_ok,
        "{what} {s:?} should look like the document's 2013-01-22T23:01:16.771799"
    );
    let n = |r: std::ops::Range<usize>| -> i64 { s[r].parse().unwrap() };
    let days = days_from_civil(n(0..4), n(5..7), n(8..10));
    let micros = n(20..26);
    ((days * 24 + n(11..13)) * 60 + n(14..16)) * 60_000 + n(17..19) * 1000 + micros / 1000
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------------------------------
// Administrators
// ---------------------------------------------------------------------------------------------------

/// `Basic base64(user_password)`.
pub fn basic(user_password: &str) -> String {
    format!("Basic {}", base64(user_password.as_bytes()))
}

/// Standard base64 with padding (RFC 4648): the crate's own codec.
pub fn base64(bytes: &[u8]) -> String {
    weblock::base64::encode(bytes)
}

/// A directory of its own under the system's temporary directory, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("weblock-test-{}", new_uuid()));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `text` to `name` in this directory; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let file = self.path.join(name);
        fs::write(&file, text).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
        file
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A server started with `--admin-credentials FILE` (`ADMIN_USER_PASSWORD`); the directory holding the
/// file lives as long as the returned value.
pub fn server_with_admin() -> (Server, TempDir) {
    let dir = TempDir::new();
    let file = dir.write("admin", &format!("{ADMIN_USER_PASSWORD}\n"));
    let file = file.to_str().expect("a UTF-8 temporary path").to_string();
    let server = Server::builder()
        .args(&["--admin-credentials", &file])
        .start();
    (server, dir)
}

/// A server whose administrator is `ADMIN_USER_PASSWORD` (from the environment), so that tests may
/// list its locks (`GET /resources…` is administrative).
pub fn admin_server() -> Server {
    Server::builder()
        .stderr(crate::common::Stderr::Drained)
        .envs(&[("WEBLOCK_ADMIN_CREDENTIALS", ADMIN_USER_PASSWORD)])
        .start()
}

/// `GET target` with the administrator's credentials.
pub fn admin_get(server: &Server, target: &str) -> Response {
    let auth = basic(ADMIN_USER_PASSWORD);
    server.request("GET", target, &[("Authorization", auth.as_str())], b"")
}

/// An administrative request with the right credentials.
pub fn admin_delete(server: &Server, target: &str) -> Response {
    let auth = basic(ADMIN_USER_PASSWORD);
    server.request("DELETE", target, &[("Authorization", auth.as_str())], b"")
}

// ---------------------------------------------------------------------------------------------------
// The request-queue API
// ---------------------------------------------------------------------------------------------------

/// `POST /v1/locks/{resource}/requests/` with `{"requester_data": data, "timeout": timeout}`; returns
/// the status and the request's path (`/v1/locks/{resource}/requests/{id}/`) from `Location`.
pub fn v1_create(server: &Server, resource: &str, data: &Value, timeout: u64) -> (u16, String) {
    let body = serde_json::json!({ "requester_data": data, "timeout": timeout }).to_string();
    let r = server.request(
        "POST",
        &format!("/v1/locks/{resource}/requests/"),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert!(
        r.status == 201 || r.status == 202,
        "POST /v1/locks/{resource}/requests/: {r}"
    );
    let loc = r
        .header("location")
        .unwrap_or_else(|| panic!("a /v1 request carries a Location: {r}"));
    let path = match loc.strip_prefix("http://") {
        Some(rest) => rest[rest.find('/').unwrap_or(rest.len())..].to_string(),
        None => loc.to_string(),
    };
    assert!(
        path.starts_with(&format!("/v1/locks/{resource}/requests/")),
        "Location {loc:?}"
    );
    (r.status, path)
}

/// The request number in `/v1/locks/{resource}/requests/{id}/` (a URL or a path).
pub fn v1_number(url: &str) -> u64 {
    let id = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    id.parse()
        .unwrap_or_else(|e| panic!("{url:?} should end in a request number: {e}"))
}

/// `GET` a `/v1` request: 200, as JSON.
pub fn v1_get(server: &Server, path: &str) -> Value {
    let r = server.get(path);
    assert_eq!(r.status, 200, "GET {path}: {r}");
    r.json()
}

/// Polls a `/v1` request until its `current_status` is `status`; returns its document.
pub fn wait_for_v1_status(server: &Server, path: &str, status: &str) -> Value {
    poll_until(&format!("{path} to be {status}"), || {
        let v = v1_get(server, path);
        if v["current_status"] == status {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    })
}
