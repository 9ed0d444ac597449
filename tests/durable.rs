//! Black-box tests of the durable state, `weblock serve --state FILE` (README "Durable state"): every
//! engine command is journaled (checksummed JSON lines) and synced before any client is answered; a
//! restart — even after SIGKILL — replays it (holders, tokens, fences, leases, gates, tickets); a torn
//! last line is dropped with a warning; damage before the tail refuses the start; a second server on
//! the same file is refused; and the clients that were waiting on the dead server's connections never
//! become phantom holders, while a long-polling `weblock wait-grab` keeps its place.
//!
//! The fixture (`common::Server`) always listens on port 0 and does not keep the server's stderr, so
//! the servers here come from a small spawner of their own (`Serve`): a fixed port when a restart must
//! be found where the clients look, stdout and stderr drained by threads into line buffers, SIGKILL
//! and reaping on drop. Conditions are polled with deadlines; every socket has a read timeout.

use crate::cli_helpers;
use crate::common;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use cli_helpers::{BIN, Sandbox, assert_sections, section_workers, wait_until, weblock_at};
use common::{Conn, Response};
use serde_json::{Value, json};

/// How long a server may take to print its `listening on` line.
const STARTUP: Duration = Duration::from_secs(10);
/// How long a test waits for something that should happen at once (only a broken server hits it).
const PROMPTLY: Duration = Duration::from_secs(5);
/// Pause between two polls of a condition.
const PAUSE: Duration = Duration::from_millis(10);

// ---------------------------------------------------------------------------------------------------
// The server, started and killed by the test
// ---------------------------------------------------------------------------------------------------

type Lines = Arc<Mutex<Vec<String>>>;

/// `weblock serve ARGS`, a child of the test. Its stdout and stderr are drained by threads into line
/// buffers (and echoed to the test's captured stderr). Killed with SIGKILL and reaped on drop.
struct Serve {
    child: Child,
    what: String,
    status: Option<ExitStatus>,
    addr: Option<SocketAddr>,
    stdout: Lines,
    stderr: Lines,
    drains: Vec<JoinHandle<()>>,
}

impl Serve {
    /// Spawns `weblock serve ARGS` (does not wait for anything).
    fn spawn(args: &[&str]) -> Serve {
        let what = format!("weblock serve {}", args.join(" "));
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn `{what}`: {e}"));
        let stdout = Lines::default();
        let stderr = Lines::default();
        let drains = vec![
            drain(
                "stdout",
                child.stdout.take().expect("piped stdout"),
                &stdout,
            ),
            drain(
                "stderr",
                child.stderr.take().expect("piped stderr"),
                &stderr,
            ),
        ];
        Serve {
            child,
            what,
            status: None,
            addr: None,
            stdout,
            stderr,
            drains,
        }
    }

    /// `weblock serve --listen 127.0.0.1:PORT --state FILE`, once it listens (port 0: any free port).
    fn with_state(state: &Path, port: u16) -> Serve {
        let listen = format!("127.0.0.1:{port}");
        let state = state.to_str().expect("a UTF-8 temporary path");
        let mut serve = Serve::spawn(&["--listen", &listen, "--state", state]);
        serve.expect_listening();
        if port != 0 {
            assert_eq!(
                serve.addr().port(),
                port,
                "{}: listens where asked",
                serve.what
            );
        }
        serve
    }

    /// Waits for `listening on http://ADDR` (at most `STARTUP`); `Err` with the exit status if the
    /// process ended first.
    fn listening(&mut self) -> Result<SocketAddr, ExitStatus> {
        let deadline = Instant::now() + STARTUP;
        loop {
            let found = self.stdout_lines().iter().find_map(|l| {
                l.strip_prefix("listening on http://")
                    .and_then(|a| a.trim().trim_end_matches('/').parse().ok())
            });
            if let Some(addr) = found {
                self.addr = Some(addr);
                return Ok(addr);
            }
            if let Some(status) = self.try_exit() {
                return Err(status);
            }
            assert!(
                Instant::now() < deadline,
                "`{}` printed no `listening on` line within {STARTUP:?}; {}",
                self.what,
                self.output()
            );
            thread::sleep(PAUSE);
        }
    }

    fn expect_listening(&mut self) -> SocketAddr {
        match self.listening() {
            Ok(addr) => addr,
            Err(status) => panic!(
                "`{}` exited ({status}) instead; {}",
                self.what,
                self.output()
            ),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.addr.expect("the server listens")
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Its exit status if it has ended (then its output is all in the buffers).
    fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Ok(Some(status)) = self.child.try_wait()
        {
            self.status = Some(status);
            self.join_drains();
        }
        self.status
    }

    /// Waits (at most `within`) for the process to end by itself; panics otherwise.
    fn exit_within(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.try_exit() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "`{}` still runs after {within:?}; {}",
                self.what,
                self.output()
            );
            thread::sleep(PAUSE);
        }
    }

    /// SIGKILL, and reap it: its file lock and its port are free when this returns.
    fn kill9(&mut self) {
        assert!(self.status.is_none(), "`{}` already ended", self.what);
        self.child.kill().expect("SIGKILL the server");
        let status = self.child.wait().expect("reap the server");
        self.status = Some(status);
        self.join_drains();
    }

    /// The pipes close when the process ends; the drain threads then finish promptly.
    fn join_drains(&mut self) {
        let deadline = Instant::now() + PROMPTLY;
        while self.drains.iter().any(|d| !d.is_finished()) && Instant::now() < deadline {
            thread::sleep(PAUSE);
        }
        for d in std::mem::take(&mut self.drains) {
            if d.is_finished() {
                let _ = d.join();
            }
        }
    }

    fn stdout_lines(&self) -> Vec<String> {
        self.stdout
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn stderr_text(&self) -> String {
        let lines = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    fn output(&self) -> String {
        format!(
            "stdout: {:?}; stderr: {:?}",
            self.stdout_lines(),
            self.stderr_text()
        )
    }

    /// The second stdout line (where the state is), waited for.
    fn state_line(&self) -> String {
        let deadline = Instant::now() + PROMPTLY;
        loop {
            if let Some(line) = self.stdout_lines().get(1) {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "`{}` printed no second stdout line; {}",
                self.what,
                self.output()
            );
            thread::sleep(PAUSE);
        }
    }

    /// Polls its stderr until it contains `phrase` (at most `PROMPTLY`); returns it.
    fn stderr_mentioning(&self, phrase: &str) -> String {
        let deadline = Instant::now() + PROMPTLY;
        loop {
            let text = self.stderr_text();
            if text.to_lowercase().contains(phrase) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "`{}`: stderr should mention {phrase:?}; {}",
                self.what,
                self.output()
            );
            thread::sleep(PAUSE);
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn drain(name: &'static str, pipe: impl Read + Send + 'static, into: &Lines) -> JoinHandle<()> {
    let into = into.clone();
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    eprintln!("[weblock {name}] {text}");
                    into.lock().unwrap_or_else(|p| p.into_inner()).push(text);
                }
            }
        }
    })
}

/// `N` in `state: FILE (N commands replayed; …)`, checking the rest of the line's shape.
fn replayed(line: &str, file: &Path) -> u64 {
    let prefix = format!("state: {} (", file.display());
    let rest = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("the state line should start {prefix:?}: {line:?}"));
    let (n, rest) = rest
        .split_once(' ')
        .unwrap_or_else(|| panic!("no count in the state line {line:?}"));
    assert!(
        rest.starts_with("commands replayed"),
        "the state line should say `N commands replayed`: {line:?}"
    );
    n.parse()
        .unwrap_or_else(|_| panic!("the count in the state line is not a number: {line:?}"))
}

// ---------------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------------

/// `METHOD target`, with `body` as JSON (or none), on a fresh connection.
fn call(addr: SocketAddr, method: &str, target: &str, body: Option<&Value>) -> Response {
    let mut headers = vec![("Connection", "close")];
    let bytes = match body {
        Some(b) => {
            headers.push(("Content-Type", "application/json"));
            b.to_string().into_bytes()
        }
        None => Vec::new(),
    };
    Conn::open(addr).request(method, target, &headers, &bytes)
}

/// Asserts the status code; returns the JSON body.
fn expect(r: &Response, code: u16, what: &str) -> Value {
    assert_eq!(r.status, code, "{what}: {r}");
    r.json()
}

/// `POST /grab`, which must be granted; returns the grant.
fn grab(addr: SocketAddr, id: &str, holder: &str, ttl: Option<u64>) -> Value {
    let mut body = json!({"id": id, "holder": holder});
    if let Some(ttl) = ttl {
        body["ttl"] = json!(ttl);
    }
    let v = expect(
        &call(addr, "POST", "/grab", Some(&body)),
        200,
        &format!("grab {id}"),
    );
    assert_eq!(v["status"], "ok", "grab {id}: {v}");
    v
}

fn token(grant: &Value) -> &str {
    grant["token"].as_str().expect("a grant has a token")
}

fn fence(v: &Value) -> u64 {
    v["fence"]
        .as_u64()
        .unwrap_or_else(|| panic!("no fence: {v}"))
}

fn release(addr: SocketAddr, id: &str, token: &str) -> Value {
    let body = json!({"id": id, "token": token});
    let v = expect(
        &call(addr, "POST", "/release", Some(&body)),
        200,
        &format!("release {id}"),
    );
    assert_eq!(v["status"], "ok", "release {id}: {v}");
    v
}

fn status(addr: SocketAddr, id: &str) -> Value {
    expect(
        &call(addr, "GET", &format!("/status?id={id}"), None),
        200,
        &format!("status {id}"),
    )
}

/// Polls `/status?id=ID` until `pred` holds (at most `PROMPTLY`).
fn wait_for_status(addr: SocketAddr, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PROMPTLY;
    loop {
        let s = status(addr, id);
        if pred(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last /status: {s}"
        );
        thread::sleep(PAUSE);
    }
}

/// Sends `POST /grab` with `body` on a fresh connection and reads the answer in a thread (read timeout
/// `read_timeout`); the result comes back through the join handle.
fn grab_in_background(
    addr: SocketAddr,
    body: Value,
    read_timeout: Duration,
) -> JoinHandle<Result<Response, String>> {
    let mut c = Conn::open(addr);
    c.set_read_timeout(read_timeout);
    c.send_request(
        "POST",
        "/grab",
        &[
            ("Content-Type", "application/json"),
            ("Connection", "close"),
        ],
        body.to_string().as_bytes(),
    );
    thread::spawn(move || c.try_read_response().map_err(|e| e.to_string()))
}

/// Joins a background request's thread, at most `within`.
fn join_within<T>(h: JoinHandle<T>, within: Duration, what: &str) -> T {
    let deadline = Instant::now() + within;
    while !h.is_finished() {
        assert!(
            Instant::now() < deadline,
            "no answer within {within:?}: {what}"
        );
        thread::sleep(PAUSE);
    }
    h.join()
        .unwrap_or_else(|_| panic!("the thread died: {what}"))
}

/// The fields of a WebMutex `/status` that a restart must keep.
fn held_fields(s: &Value) -> Value {
    json!({
        "in_use": s["in_use"],
        "holder": s["holder"],
        "since": s["since"],
        "fence": s["fence"],
        "ttl": s["ttl"],
        "expires": s["expires"],
    })
}

// ---------------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------------

#[test]
fn holders_tokens_fences_and_leases_survive_kill_9() {
    let sb = Sandbox::new("durable-holders");
    let file = sb.path("state");
    let mut server = Serve::with_state(&file, 0);
    assert_eq!(
        replayed(&server.state_line(), &file),
        0,
        "a new state file has nothing to replay"
    );
    let addr = server.addr();

    let a = grab(addr, "leased", "alice@build3", Some(60));
    let b = grab(addr, "plain", "bob@ci7", None);
    let before_a = held_fields(&status(addr, "leased"));
    let before_b = held_fields(&status(addr, "plain"));
    assert_eq!(before_a["in_use"], true, "{before_a}");
    assert_eq!(before_a["ttl"], 60, "{before_a}");
    assert_eq!(before_b["in_use"], true, "{before_b}");

    server.kill9();
    let server = Serve::with_state(&file, 0);
    let n = replayed(&server.state_line(), &file);
    assert!(
        n >= 2,
        "the two grabs were replayed: {}",
        server.state_line()
    );
    let addr = server.addr();

    assert_eq!(
        held_fields(&status(addr, "leased")),
        before_a,
        "the leased lock after the restart"
    );
    assert_eq!(
        held_fields(&status(addr, "plain")),
        before_b,
        "the plain lock after the restart"
    );
    let s = status(addr, "leased");
    let left = s["ttl_left"].as_f64().expect("ttl_left");
    assert!(
        left > 0.0 && left <= 60.0,
        "the lease still runs, by its wall-clock deadline: {s}"
    );

    // The old tokens still hold: renew one, release both.
    let renewed = expect(
        &call(
            addr,
            "POST",
            "/renew",
            Some(&json!({"id": "leased", "token": token(&a)})),
        ),
        200,
        "renew with the token from before the restart",
    );
    assert_eq!(
        fence(&renewed),
        fence(&a),
        "renewing keeps the fence: {renewed}"
    );
    release(addr, "plain", token(&b));
    release(addr, "leased", token(&a));
    assert_eq!(status(addr, "plain")["in_use"], false);
    assert_eq!(status(addr, "leased")["in_use"], false);

    // Fences never go back, across a restart.
    let c = grab(addr, "plain", "carol", None);
    assert!(
        fence(&c) > fence(&a).max(fence(&b)),
        "a grant after the restart has a greater fence than any before: {c} after {a} and {b}"
    );
}

#[test]
fn gates_and_tickets_survive_kill_9() {
    let sb = Sandbox::new("durable-gates");
    let file = sb.path("state");
    let mut server = Serve::with_state(&file, 0);
    let addr = server.addr();

    let created = call(
        addr,
        "POST",
        "/api/services/shop",
        Some(&json!({"group": "team12", "environments": ["testing", "live", "stage"]})),
    );
    assert_eq!(expect(&created, 200, "create the service")["status"], "ok");
    let closed = call(
        addr,
        "PUT",
        "/api/services/shop/live",
        Some(&json!({"state": "closed", "message": "testing. -Jens"})),
    );
    assert_eq!(expect(&closed, 200, "close a gate")["status"], "ok");
    let take = json!({"services": {"shop": ["testing"]}});
    let taken = expect(
        &call(addr, "PUT", "/api/services", Some(&take)),
        200,
        "take a gate",
    );
    assert_eq!(taken["status"], "ok", "{taken}");
    let ticket = taken["ticket"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no ticket id: {taken}"))
        .to_string();
    let before = expect(
        &call(addr, "GET", "/api/services/shop", None),
        200,
        "the service",
    );
    assert_eq!(
        before["environments"]["live"]["state"], "closed",
        "{before}"
    );
    assert_eq!(
        before["environments"]["testing"]["queue"][0]["id"], ticket,
        "{before}"
    );
    // A queued ticket's `link` is on the Host the client named, which is this server's address.
    let before = without_links(before);

    server.kill9();
    let server = Serve::with_state(&file, 0);
    let addr = server.addr();

    let after = expect(
        &call(addr, "GET", "/api/services/shop", None),
        200,
        "the service after the restart",
    );
    assert_eq!(
        without_links(after),
        before,
        "the service reads the same after the restart"
    );
    let again = expect(
        &call(addr, "PUT", "/api/services", Some(&take)),
        200,
        "a newcomer for the ticket's gate",
    );
    assert_eq!(
        again["status"], "denied",
        "the ticket still holds its gate: {again}"
    );

    let deleted = call(addr, "DELETE", &format!("/api/tickets/{ticket}"), None);
    assert_eq!(
        expect(&deleted, 200, "delete the ticket from before the restart")["status"],
        "ok"
    );
    let free = expect(
        &call(addr, "GET", "/api/services/shop", None),
        200,
        "the service",
    );
    assert_eq!(
        free["environments"]["testing"]["queue"],
        json!([]),
        "{free}"
    );
    let now = expect(
        &call(addr, "PUT", "/api/services", Some(&take)),
        200,
        "take the gate again",
    );
    assert_eq!(now["status"], "ok", "the gate is free again: {now}");
}

/// A service document without its tickets' `link`s (they name the address the client used).
fn without_links(mut service: Value) -> Value {
    if let Some(envs) = service["environments"].as_object_mut() {
        for gate in envs.values_mut() {
            if let Some(queue) = gate["queue"].as_array_mut() {
                for ticket in queue {
                    if let Some(t) = ticket.as_object_mut() {
                        t.remove("link");
                    }
                }
            }
        }
    }
    service
}

#[test]
fn a_waiter_of_the_dead_server_never_becomes_a_holder() {
    let sb = Sandbox::new("durable-waiter");
    let file = sb.path("state");
    let mut server = Serve::with_state(&file, 0);
    let addr = server.addr();

    let a = grab(addr, "w", "alice", None);
    let waiter = grab_in_background(
        addr,
        json!({"id": "w", "holder": "bob", "wait": 30}),
        Duration::from_secs(20),
    );
    wait_for_status(addr, "w", "bob waiting", |s| s["waiting"] == 1);

    server.kill9();
    let answer = join_within(waiter, PROMPTLY, "bob's connection ends with the server");
    assert!(
        answer.as_ref().is_err(),
        "bob's wait ends without an answer when the server dies: {answer:?}"
    );

    let server = Serve::with_state(&file, 0);
    let addr = server.addr();
    let s = status(addr, "w");
    assert_eq!(s["holder"], "alice", "alice still holds: {s}");
    assert_eq!(s["fence"], a["fence"], "{s}");
    assert_eq!(
        s["waiting"], 0,
        "a plain waiter of the dead server is no longer in line: {s}"
    );

    release(addr, "w", token(&a));
    let s = status(addr, "w");
    assert_eq!(
        s["in_use"], false,
        "released, the lock is free: the dead waiter never became its holder: {s}"
    );
    let all = expect(&call(addr, "GET", "/status", None), 200, "every lock");
    assert_eq!(
        all["locks"],
        json!([]),
        "nothing is held or waited for: {all}"
    );
    let fresh = grab(addr, "w", "carol", None);
    assert!(fence(&fresh) > fence(&a), "{fresh}");
}

#[test]
fn a_long_polling_cli_waiter_keeps_its_place_across_a_restart() {
    let sb = Sandbox::new("durable-cli-waiter");
    let file = sb.path("state");
    let fence_file = sb.path("cli-fence");
    let mut server = Serve::with_state(&file, 0);
    let port = server.addr().port();
    let url = server.url();
    let addr = server.addr();

    let a = grab(addr, "L", "alice", None);
    let mut cmd = weblock_at(&url, &sb.user("cli"));
    cmd.args(["wait-grab", "L", "--timeout", "60s", "--", "sh", "-c"])
        .arg("echo \"$WEBLOCK_FENCE\" > \"$FENCE_FILE\"")
        .env("FENCE_FILE", &fence_file);
    let mut cli = sb.spawn(cmd);
    wait_for_status(addr, "L", "the CLI waiting", |s| s["waiting"] == 1);

    server.kill9();
    let server = Serve::with_state(&file, port);
    let addr = server.addr();
    let s = status(addr, "L");
    assert_eq!(s["holder"], "alice", "{s}");
    assert_eq!(
        s["waiting"], 1,
        "the long-polling CLI keeps its place across the restart: {s}"
    );

    // A newcomer after the restart queues behind the CLI.
    let newcomer = grab_in_background(
        addr,
        json!({"id": "L", "holder": "newcomer", "wait": 30}),
        Duration::from_secs(25),
    );
    wait_for_status(addr, "L", "the newcomer in line too", |s| s["waiting"] == 2);

    release(addr, "L", token(&a));
    let out = cli.finish_within(Duration::from_secs(30));
    out.expect_code(0);
    let cli_fence: u64 = fs::read_to_string(&fence_file)
        .expect("the CLI's command ran")
        .trim()
        .parse()
        .expect("the CLI's command got WEBLOCK_FENCE");
    assert!(cli_fence > fence(&a), "{cli_fence} after {a}");

    let got = join_within(newcomer, Duration::from_secs(25), "the newcomer's grant")
        .unwrap_or_else(|e| panic!("the newcomer got no answer: {e}"));
    let got = expect(&got, 200, "the newcomer, after the CLI");
    assert!(
        fence(&got) > cli_fence,
        "the CLI (in line before the restart) went first: its fence {cli_fence}, the newcomer's {got}"
    );
    release(addr, "L", token(&got));
}

#[test]
fn a_second_server_on_the_same_file_is_refused() {
    let sb = Sandbox::new("durable-second");
    let file = sb.path("state");
    let first = Serve::with_state(&file, 0);
    let a = grab(first.addr(), "mine", "alice", None);

    let state = file.to_str().expect("a UTF-8 path");
    let mut second = Serve::spawn(&["--listen", "127.0.0.1:0", "--state", state]);
    let code = second.exit_within(PROMPTLY);
    assert!(
        !code.success(),
        "a second server on the same file must not start: {code}; {}",
        second.output()
    );
    assert!(
        !second
            .stdout_lines()
            .iter()
            .any(|l| l.contains("listening on")),
        "the second server never listened: {}",
        second.output()
    );
    let err = second.stderr_text();
    assert!(
        err.contains("in use") && err.contains(state),
        "the second server says the file is in use: {}",
        second.output()
    );

    // The first one is untouched.
    let s = status(first.addr(), "mine");
    assert_eq!(s["holder"], "alice", "{s}");
    assert_eq!(s["fence"], a["fence"], "{s}");
    let again = grab(first.addr(), "other", "alice", None);
    assert!(fence(&again) > fence(&a), "{again}");
}

#[test]
fn a_torn_last_record_is_dropped_with_a_warning() {
    let sb = Sandbox::new("durable-torn");
    let file = sb.path("state");
    let mut server = Serve::with_state(&file, 0);
    let addr = server.addr();
    let a = grab(addr, "kept", "alice", Some(600));
    let before = held_fields(&status(addr, "kept"));
    server.kill9();
    // Its event log is there (a grant line); a warning would start with `weblock:`.
    assert!(
        !server.stderr_text().contains("weblock:"),
        "no warning yet: {}",
        server.output()
    );

    let mut bytes = fs::read(&file).expect("the state file exists");
    assert!(
        bytes.ends_with(b"\n"),
        "every record the server wrote is a whole line"
    );
    bytes.extend_from_slice(b"deadbeef {\"command\"");
    fs::write(&file, &bytes).expect("append a torn record");

    let mut server = Serve::with_state(&file, 0);
    let addr = server.addr();
    let err = server.stderr_mentioning("torn");
    assert!(
        err.to_lowercase().contains("drop"),
        "the warning says the torn record was dropped: {err:?}"
    );
    assert_eq!(
        held_fields(&status(addr, "kept")),
        before,
        "the state is intact"
    );

    // The start-up compaction left a clean file: the next restart finds nothing torn.
    server.kill9();
    let text = fs::read_to_string(&file).expect("the state file");
    assert!(
        !text.contains("deadbeef {\"command\"") && text.ends_with('\n'),
        "the torn bytes are gone from the file: {text:?}"
    );
    let server = Serve::with_state(&file, 0);
    assert_eq!(held_fields(&status(server.addr(), "kept")), before);
    release(server.addr(), "kept", token(&a));
    assert!(
        !server.stderr_text().to_lowercase().contains("torn"),
        "no torn record the second time: {}",
        server.output()
    );
}

#[test]
fn damage_before_the_tail_refuses_to_start() {
    let sb = Sandbox::new("durable-damage");
    let file = sb.path("state");
    let mut server = Serve::with_state(&file, 0);
    let addr = server.addr();
    for i in 0..5 {
        grab(
            addr,
            &format!("lock{i}"),
            &format!("holder number {i}"),
            None,
        );
    }
    server.kill9();

    let mut bytes = fs::read(&file).expect("the state file exists");
    let ends: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
        .collect();
    assert!(
        ends.len() >= 6,
        "a snapshot line and a line per command after it: {} lines in {:?}",
        ends.len(),
        String::from_utf8_lossy(&bytes)
    );
    // Line 4 (1-based): neither the snapshot nor the tail. Flip a letter or digit in its middle.
    let (start, end) = (ends[2] + 1, ends[3]);
    let middle = (start + end) / 2;
    let at = (middle..end)
        .find(|&i| bytes[i].is_ascii_alphanumeric())
        .expect("a letter or digit in the second half of line 4");
    bytes[at] ^= 0x01;
    fs::write(&file, &bytes).expect("write the damaged journal");

    let state = file.to_str().expect("a UTF-8 path");
    let mut refused = Serve::spawn(&["--listen", "127.0.0.1:0", "--state", state]);
    let code = refused.exit_within(PROMPTLY);
    assert!(
        !code.success(),
        "a journal damaged before its tail must stop the start: {code}; {}",
        refused.output()
    );
    assert!(
        !refused
            .stdout_lines()
            .iter()
            .any(|l| l.contains("listening on")),
        "it never listened: {}",
        refused.output()
    );
    let err = refused.stderr_text();
    assert!(
        err.contains("damaged") && err.contains("line 4"),
        "stderr names the damaged record (line 4): {}",
        refused.output()
    );
    assert_eq!(
        fs::read(&file).expect("the state file is still there"),
        bytes,
        "the damaged file is left as it was, for its owner to look at"
    );
}

#[test]
fn the_crash_test() {
    const WORKERS: usize = 4;
    const ROUNDS: usize = 10;
    const KILLS: usize = 3;
    let sb = Sandbox::new("durable-crash");
    let file = sb.path("state");
    let log = sb.path("log");
    let mut server = Serve::with_state(&file, 0);
    let port = server.addr().port();
    let url = server.url();

    let started = Instant::now();
    let mut workers = section_workers(&sb, &[url], WORKERS, ROUNDS, "0.05", &log);

    let entered = || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("enter"))
            .count()
    };
    // Each kill comes once the workers have got some way (so all of them happen while they run),
    // after the server has run a while (the scenario's pause).
    for k in 0..KILLS {
        let milestone = 6 + k * 10;
        wait_until(
            Duration::from_secs(20),
            &format!("{milestone} critical sections entered"),
            || entered() >= milestone,
        );
        assert!(
            entered() < WORKERS * ROUNDS,
            "kill {k} comes while the workers still have sections to go"
        );
        server.kill9();
        thread::sleep(Duration::from_millis(200)); // the scenario: the server is down a moment
        server = Serve::with_state(&file, port);
        thread::sleep(Duration::from_millis(500)); // the scenario: it runs a while before the next kill
    }
    for w in &mut workers {
        let remaining = Duration::from_secs(45).saturating_sub(started.elapsed());
        w.finish_within(remaining).expect_ok();
    }

    assert_sections(&log, WORKERS * ROUNDS);
    let s = status(server.addr(), "L");
    assert_eq!(s["in_use"], false, "every worker released the lock: {s}");
}

#[test]
fn in_memory_mode_says_so() {
    let mut server = Serve::spawn(&["--listen", "127.0.0.1:0"]);
    server.expect_listening();
    let line = server.state_line();
    assert!(
        line.starts_with("state: in memory only"),
        "without --state the second stdout line says the state is in memory only: {line:?}"
    );
}

#[test]
fn several_holders_and_their_slots_survive_restarts() {
    let sb = Sandbox::new("durable-slots");
    let file = sb.path("state");
    let mut server = Serve::with_state(&file, 0);
    let addr = server.addr();
    let take = |addr, id: &str, holder: &str, extra: Value| {
        let mut body = json!({"id": id, "holder": holder});
        body.as_object_mut()
            .expect("an object")
            .extend(extra.as_object().expect("an object").clone());
        expect(&call(addr, "POST", "/grab", Some(&body)), 200, holder)
    };
    let a = take(addr, "gpu", "a", json!({"slots": 3}));
    take(addr, "gpu", "b", json!({}));
    take(addr, "db", "r1", json!({"mode": "shared"}));
    take(addr, "db", "r2", json!({"mode": "shared"}));
    let kept = |s: &Value| {
        json!({"slots": s["slots"], "free": s["free"], "mode": s["mode"], "fence": s["fence"],
               "holders": s["holders"].as_array().expect("holders").iter()
                   .map(|h| json!([h["holder"], h["fence"], h["mode"], h["since"]])).collect::<Vec<_>>()})
    };
    let before = (kept(&status(addr, "gpu")), kept(&status(addr, "db")));
    assert_eq!(before.0["free"], 1, "{before:?}");

    // Twice: the first start replays the commands, the second reads the snapshot it compacted to.
    for round in 0..2 {
        server.kill9();
        server = Serve::with_state(&file, 0);
        let addr = server.addr();
        let after = (kept(&status(addr, "gpu")), kept(&status(addr, "db")));
        assert_eq!(after, before, "after restart {round}");
    }
    let addr = server.addr();
    let refused = call(
        addr,
        "POST",
        "/grab",
        Some(&json!({"id": "gpu", "slots": 2})),
    );
    let refused = expect(&refused, 409, "another number of slots");
    assert_eq!(refused["slots"], 3, "{refused}");
    release(addr, "gpu", token(&a));
    assert_eq!(status(addr, "gpu")["free"], 2);
}
