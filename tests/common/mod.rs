//! Shared fixture for the black-box tests: a real `weblock serve` on `127.0.0.1:0`, and a tiny raw
//! HTTP/1.1 client over `TcpStream` that gives the tests byte-level control.
//!
//! Every read has a timeout and every loop a deadline, so a misbehaving server fails a test instead of
//! hanging it.
#![allow(dead_code)]

pub mod etcd;
pub mod tls;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any single socket read may block before the test gives up on it.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the fixture waits for the `listening on http://ADDR` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two polls of a condition.
const POLL_PAUSE: Duration = Duration::from_millis(10);
/// Default deadline for a condition that should come true promptly.
pub const CONDITION_DEADLINE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------------
// The server fixture
// ---------------------------------------------------------------------------------------------------

/// A running `weblock serve`, killed (and reaped) on drop.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    /// "https" when it serves TLS (`--tls-cert`), else "http".
    scheme: &'static str,
    /// Every line it wrote on stderr so far (its event log), when drained.
    stderr: Arc<Mutex<Vec<String>>>,
    /// The read end of its stderr, held open and never read (`Stderr::Unread`).
    _unread: Option<std::process::ChildStderr>,
}

/// What becomes of the server's stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stderr {
    /// Read for the life of the server, echoed to the test's output and kept (`Server::stderr_lines`).
    Drained,
    /// The pipe's read end closed at once: every write the server makes there fails.
    Closed,
    /// The pipe held open and never read: it fills up, and writes to it block.
    Unread,
}

/// How to start a `Server` (`Server::builder()`): `weblock serve --listen 127.0.0.1:0` and what is
/// added here.
pub struct Builder {
    args: Vec<String>,
    stderr: Stderr,
    env: Vec<(String, String)>,
}

impl Builder {
    /// More arguments after `serve --listen 127.0.0.1:0`.
    pub fn args(mut self, args: &[&str]) -> Builder {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// What becomes of its stderr (drained and kept, by default).
    pub fn stderr(mut self, stderr: Stderr) -> Builder {
        self.stderr = stderr;
        self
    }

    /// Variables added to its environment.
    pub fn envs(mut self, env: &[(&str, &str)]) -> Builder {
        self.env
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// `--auth-file FILE`, FILE (written here) holding `secrets`.
    pub fn secrets(self, file: &std::path::Path, secrets: &str) -> Builder {
        std::fs::write(file, secrets)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
        let file = file.to_str().expect("a UTF-8 path");
        self.args(&["--auth-file", file])
    }

    pub fn start(self) -> Server {
        Server::spawn(&self.args, self.stderr, &self.env)
    }
}

impl Server {
    /// `weblock serve --listen 127.0.0.1:0`.
    pub fn start() -> Server {
        Server::builder().start()
    }

    /// A server to start with arguments, an environment or a stderr of the test's choosing.
    pub fn builder() -> Builder {
        Builder {
            args: Vec::new(),
            stderr: Stderr::Drained,
            env: Vec::new(),
        }
    }

    /// `weblock serve --listen 127.0.0.1:0 ARGS...` with `env` added to its environment, its stderr
    /// going as `stderr` says; with `WEBLOCK_TEST_STORE=etcd`, also `--store` on the test process's
    /// etcd under a fresh prefix (unless ARGS choose a state).
    fn spawn(args: &[String], stderr: Stderr, env: &[(String, String)]) -> Server {
        let bin = env!("CARGO_BIN_EXE_weblock");
        let mut args = args.to_vec();
        let chosen = args.iter().any(|a| a == "--state" || a == "--store");
        if etcd::store_wanted() && !chosen {
            assert!(
                std::path::Path::new(etcd::ETCD).exists(),
                "WEBLOCK_TEST_STORE=etcd but {} is missing: install Debian's etcd-server",
                etcd::ETCD
            );
            args.extend(["--store".to_string(), etcd::fresh_store()]);
        }
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(&args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {bin}: {e}"));

        // Both pipes are drained for the life of the child, so it never blocks on a full pipe. The lines
        // are echoed to the test's (captured) stderr, shown when a test fails, and offered to the
        // start-up wait below. The address line is expected on stdout; stderr is searched too so a
        // mistake there shows up as a clear message rather than a timeout.
        let (tx, rx) = mpsc::channel::<(&'static str, String)>();
        let stdout = child.stdout.take().expect("piped stdout");
        let err_pipe = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        spawn_drain("stdout", stdout, tx.clone(), None);
        let unread = match stderr {
            Stderr::Drained => {
                spawn_drain("stderr", err_pipe, tx, Some(lines.clone()));
                None
            }
            Stderr::Closed => {
                drop(err_pipe);
                None
            }
            Stderr::Unread => Some(err_pipe),
        };

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let (addr, scheme) = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "weblock serve did not print `listening on http://ADDR` within {STARTUP_TIMEOUT:?}"
                );
            }
            match rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok((stream, line)) => {
                    if let Some(addr) = parse_listening_line(&line) {
                        let scheme = if line.contains("https://") {
                            "https"
                        } else {
                            "http"
                        };
                        if stream != "stdout" {
                            eprintln!(
                                "[fixture] note: the address line came on {stream}, not stdout"
                            );
                        }
                        break (addr, scheme);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Both pipes closed: the child is gone.
                    let status = child.wait();
                    panic!(
                        "weblock serve exited before printing `listening on http://ADDR`: {status:?}"
                    );
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("weblock serve exited before printing `listening on http://ADDR`: {status}");
            }
        };
        // The receiver is dropped here; the drain threads keep reading (and echoing) regardless.
        Server {
            child,
            addr,
            scheme,
            stderr: lines,
            _unread: unread,
        }
    }

    /// The lines it wrote on stderr so far (with `Stderr::Drained`).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Polls its stderr until a line satisfies `pred`, for at most `CONDITION_DEADLINE`; returns that
    /// line, or panics with `what` and every line seen.
    pub fn wait_for_stderr_line(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + CONDITION_DEADLINE;
        loop {
            let lines = self.stderr_lines();
            if let Some(line) = lines.iter().find(|l| pred(l)) {
                return line.clone();
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {CONDITION_DEADLINE:?} waiting for {what} on the server's stderr; it wrote:\n{}",
                    lines.join("\n")
                );
            }
            thread::sleep(POLL_PAUSE);
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (`https://` with TLS) + `path` (which should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.addr, path)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends it SIGHUP (read `--auth-file` and the TLS certificate again).
    pub fn hangup(&self) {
        // SAFETY: kill with a child's pid and a signal number has no memory effects.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGHUP) };
        assert_eq!(rc, 0, "kill -HUP {}", self.child.id());
    }

    /// Kills the server with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// A fresh raw connection.
    pub fn connect(&self) -> Conn {
        Conn::open(self.addr)
    }

    /// One request on a fresh connection (sent with `Connection: close`).
    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut h: Vec<(&str, &str)> = headers.to_vec();
        h.push(("Connection", "close"));
        self.connect().request(method, target, &h, body)
    }

    pub fn get(&self, target: &str) -> Response {
        self.request("GET", target, &[], b"")
    }

    /// `POST path` with no body at all.
    pub fn post_empty(&self, path: &str) -> Response {
        self.request("POST", path, &[], b"")
    }

    /// `POST path` with `fields` encoded as `enc`, on a fresh connection.
    pub fn post(&self, path: &str, enc: Enc, fields: &[(&str, &str)]) -> Response {
        let (ct, body) = enc.encode(fields);
        self.request("POST", path, &[("Content-Type", ct.as_str())], &body)
    }

    /// `GET /status?id=ID`, asserted 200, as JSON.
    pub fn status(&self, id: &str) -> Value {
        let r = self.get(&format!("/status?id={id}"));
        assert_eq!(r.status, 200, "GET /status?id={id}: {r}");
        r.json()
    }

    /// `POST /grab` that must be granted; returns the grant.
    pub fn grab_ok(&self, enc: Enc, fields: &[(&str, &str)]) -> Value {
        let r = self.post("/grab", enc, fields);
        assert_eq!(
            r.status, 200,
            "grab {fields:?} ({enc:?}) should be granted: {r}"
        );
        let v = r.json();
        assert_eq!(v["status"], "ok", "grab {fields:?} ({enc:?}): {v}");
        v
    }

    /// `POST /release` that must succeed.
    pub fn release_ok(&self, enc: Enc, id: &str, token: &str) -> Value {
        let r = self.post("/release", enc, &[("id", id), ("token", token)]);
        assert_eq!(
            r.status, 200,
            "release of {id} ({enc:?}) should succeed: {r}"
        );
        let v = r.json();
        assert_eq!(v["status"], "ok", "release of {id} ({enc:?}): {v}");
        v
    }

    /// Polls `/status?id=ID` until `pred` holds, for at most `CONDITION_DEADLINE`; returns the status
    /// that satisfied it, or panics with `what` and the last status seen.
    pub fn wait_for_status(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + CONDITION_DEADLINE;
        loop {
            let s = self.status(id);
            if pred(&s) {
                return s;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {CONDITION_DEADLINE:?} waiting for {what}; last /status: {s}"
                );
            }
            thread::sleep(POLL_PAUSE);
        }
    }

    /// Polls until `/status?id=ID` shows `n` waiters.
    pub fn wait_for_waiting(&self, id: &str, n: u64) -> Value {
        self.wait_for_status(id, &format!("{n} waiter(s) on {id}"), |s| {
            s["waiting"].as_u64() == Some(n)
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines kept of a server's stderr at most (a test that logs more reads the first ones).
const KEPT_LINES: usize = 100_000;

fn spawn_drain(
    name: &'static str,
    pipe: impl Read + Send + 'static,
    tx: mpsc::Sender<(&'static str, String)>,
    keep: Option<Arc<Mutex<Vec<String>>>>,
) {
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
                    if let Some(keep) = &keep {
                        let mut kept = keep.lock().unwrap_or_else(|p| p.into_inner());
                        if kept.len() < KEPT_LINES {
                            kept.push(text.clone());
                        }
                    }
                    let _ = tx.send((name, text));
                }
            }
        }
    });
}

/// `listening on http://127.0.0.1:PORT` (possibly with a prefix or a trailing `/`) → the address.
/// The address of a `listening on http://ADDR` (or `https://ADDR`) line.
fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    const MARK: &str = "listening on ";
    let at = line.find(MARK)?;
    let rest = &line[at + MARK.len()..];
    let rest = rest
        .strip_prefix("http://")
        .or_else(|| rest.strip_prefix("https://"))?;
    let addr = rest.split_whitespace().next()?.trim_end_matches('/');
    addr.parse().ok()
}

// ---------------------------------------------------------------------------------------------------
// Body encodings
// ---------------------------------------------------------------------------------------------------

/// The three ways a client can send parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enc {
    /// `application/json`; `wait` and `ttl` that parse as numbers are sent as JSON numbers.
    Json,
    /// `application/x-www-form-urlencoded` (`curl -d`).
    Form,
    /// `multipart/form-data` (`curl -F`).
    Multipart,
}

pub const ALL_ENCODINGS: [Enc; 3] = [Enc::Json, Enc::Form, Enc::Multipart];

pub const MULTIPART_BOUNDARY: &str = "------------------------weblocktest7f3a9c";

impl Enc {
    /// `(Content-Type, body)`.
    pub fn encode(self, fields: &[(&str, &str)]) -> (String, Vec<u8>) {
        match self {
            Enc::Json => (
                "application/json".to_string(),
                json_body(fields).into_bytes(),
            ),
            Enc::Form => (
                "application/x-www-form-urlencoded".to_string(),
                urlencode(fields).into_bytes(),
            ),
            Enc::Multipart => (
                format!("multipart/form-data; boundary={MULTIPART_BOUNDARY}"),
                multipart_body(MULTIPART_BOUNDARY, fields),
            ),
        }
    }

    /// A short lowercase name, handy to make ids unique per encoding.
    pub fn name(self) -> &'static str {
        match self {
            Enc::Json => "json",
            Enc::Form => "form",
            Enc::Multipart => "multipart",
        }
    }
}

/// A JSON object of the fields. Durations (`wait`, `ttl`) go as numbers when they are numbers, as the
/// docs show (`"wait": 2.5`); everything else as strings.
pub fn json_body(fields: &[(&str, &str)]) -> String {
    let mut map = serde_json::Map::new();
    for (k, v) in fields {
        let value = match (*k, v.parse::<f64>()) {
            ("wait" | "ttl" | "slots", Ok(n)) if n.is_finite() => {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    Value::from(n as i64)
                } else {
                    Value::from(n)
                }
            }
            _ => Value::from(*v),
        };
        map.insert((*k).to_string(), value);
    }
    Value::Object(map).to_string()
}

/// `k=v&k=v` with RFC 3986 unreserved characters kept and everything else percent-encoded.
pub fn urlencode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `multipart/form-data` body, as `curl -F name=value` sends it.
pub fn multipart_body(boundary: &str, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{k}\"\r\n").as_bytes(),
        );
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

// ---------------------------------------------------------------------------------------------------
// The raw HTTP/1.1 client
// ---------------------------------------------------------------------------------------------------

/// One parsed HTTP response.
#[derive(Clone, Debug)]
pub struct Response {
    /// e.g. `HTTP/1.1`
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics (showing the response) when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {self}"))
    }

    /// Asserts a `{"status": "fail", "reason": "<non-empty>"}` body and returns it.
    pub fn assert_fail_json(&self) -> Value {
        let v = self.json();
        assert_eq!(v["status"], "fail", "expected a JSON failure: {self}");
        let reason = v["reason"]
            .as_str()
            .unwrap_or_else(|| panic!("no string `reason`: {self}"));
        assert!(!reason.trim().is_empty(), "empty `reason`: {self}");
        v
    }

    /// Whether the server said it will close the connection.
    pub fn says_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }
}

impl std::fmt::Display for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.version, self.status, self.reason)?;
        for (k, v) in &self.headers {
            write!(f, " | {k}: {v}")?;
        }
        let text = self.text();
        let shown: String = text.chars().take(2000).collect();
        write!(f, " || {shown}")
    }
}

/// A raw client connection. Unread bytes are kept between responses, so pipelined answers and
/// keep-alive reuse work.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        Conn::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> Conn {
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("set_read_timeout");
        stream
            .set_write_timeout(Some(READ_TIMEOUT))
            .expect("set_write_timeout");
        let _ = stream.set_nodelay(true);
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn set_read_timeout(&self, t: Duration) {
        self.stream
            .set_read_timeout(Some(t))
            .expect("set_read_timeout");
    }

    /// Writes raw bytes; panics on error.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write of {} bytes failed: {e}", bytes.len()));
        let _ = self.stream.flush();
    }

    /// Writes raw bytes; returns the error instead of panicking (the server may close first).
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Sends a request with `Host` and, when there is a body, `Content-Length` added (unless given).
    pub fn send_request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) {
        let bytes = build_request(method, target, "HTTP/1.1", headers, body);
        self.send(&bytes);
    }

    /// Sends a request and reads its (final) response.
    pub fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.send_request(method, target, headers, body);
        self.read_response_to(method)
    }

    /// `POST path` with the fields encoded as `enc`, on this connection (kept alive).
    pub fn post(&mut self, path: &str, enc: Enc, fields: &[(&str, &str)]) -> Response {
        let (ct, body) = enc.encode(fields);
        self.request("POST", path, &[("Content-Type", ct.as_str())], &body)
    }

    /// `GET target` on this connection (kept alive).
    pub fn get(&mut self, target: &str) -> Response {
        self.request("GET", target, &[], b"")
    }

    /// The next final (non-1xx) response to a request that was not `HEAD`; panics on error.
    pub fn read_response(&mut self) -> Response {
        self.read_response_to("GET")
    }

    /// The next final response to a `method` request (so a `HEAD` answer is read without a body).
    pub fn read_response_to(&mut self, method: &str) -> Response {
        self.try_read_response_to(method)
            .unwrap_or_else(|e| panic!("reading the response to {method} failed: {e}"))
    }

    pub fn try_read_response(&mut self) -> io::Result<Response> {
        self.try_read_response_to("GET")
    }

    pub fn try_read_response_to(&mut self, method: &str) -> io::Result<Response> {
        loop {
            let r = self.try_read_any_response(method)?;
            if !(100..200).contains(&r.status) {
                return Ok(r);
            }
        }
    }

    /// The next response, interim (`100 Continue`) ones included.
    pub fn try_read_any_response(&mut self, method: &str) -> io::Result<Response> {
        let head_end = self.fill_until_head()?;
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);

        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad_data(format!("bad status line {status_line:?}")))?;
        let reason = parts.next().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| match l.split_once(':') {
                Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
                None => (l.to_string(), String::new()),
            })
            .collect();
        let mut r = Response {
            version,
            status,
            reason,
            headers,
            body: Vec::new(),
        };

        let no_body = method.eq_ignore_ascii_case("HEAD")
            || (100..200).contains(&status)
            || status == 204
            || status == 304;
        if no_body {
            return Ok(r);
        }
        let chunked = r
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            r.body = self.read_chunked_body()?;
        } else if let Some(len) = r.header("content-length") {
            let len: usize = len
                .trim()
                .parse()
                .map_err(|_| bad_data(format!("bad Content-Length {len:?}")))?;
            self.fill_to(len)?;
            r.body = self.buf.drain(..len).collect();
        } else {
            // No framing: the body runs to the end of the connection.
            loop {
                if self.fill_more()? == 0 {
                    break;
                }
            }
            r.body = std::mem::take(&mut self.buf);
        }
        Ok(r)
    }

    fn read_chunked_body(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = self.fill_until(b"\r\n")?;
            let line = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            self.buf.drain(..line_end + 2);
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| bad_data(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailers, up to an empty line.
                loop {
                    let end = self.fill_until(b"\r\n")?;
                    self.buf.drain(..end + 2);
                    if end == 0 {
                        return Ok(body);
                    }
                }
            }
            self.fill_to(size + 2)?;
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
        }
    }

    fn fill_until_head(&mut self) -> io::Result<usize> {
        self.fill_until(b"\r\n\r\n")
    }

    /// Reads until `pat` is in the buffer; returns its position.
    fn fill_until(&mut self, pat: &[u8]) -> io::Result<usize> {
        loop {
            if let Some(pos) = find(&self.buf, pat) {
                return Ok(pos);
            }
            if self.buf.len() > 1 << 20 {
                return Err(bad_data("no end of head within 1 MiB".to_string()));
            }
            if self.fill_more()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed; unparsed bytes: {:?}",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
        }
    }

    fn fill_to(&mut self, len: usize) -> io::Result<()> {
        while self.buf.len() < len {
            if self.fill_more()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed after {} of {len} body bytes",
                        self.buf.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn fill_more(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Bytes received but not yet parsed into a response.
    pub fn unread(&self) -> &[u8] {
        &self.buf
    }

    /// Waits (at most `within`) for the peer to close the connection; true when it did (EOF or
    /// reset), false when it stayed open. Any bytes that arrive meanwhile are kept.
    pub fn closed_by_peer_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            self.stream
                .set_read_timeout(Some(left))
                .expect("set_read_timeout");
            match self.fill_more() {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break true,
            }
        };
        self.stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("set_read_timeout");
        result
    }

    /// Whether the connection is still open right now (no EOF or error pending), without blocking
    /// for long.
    pub fn is_open_now(&mut self) -> bool {
        !self.closed_by_peer_within(Duration::from_millis(20))
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// The bytes of a request: request line, `Host`, the given headers, `Content-Length` when there is a
/// body and none was given (and no `Transfer-Encoding`), a blank line, the body.
pub fn build_request(
    method: &str,
    target: &str,
    version: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {target} {version}\r\n");
    let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if !has("host") {
        out.push_str("Host: weblock.test\r\n");
    }
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    let needs_length = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
    if needs_length && !has("content-length") && !has("transfer-encoding") {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A body in `Transfer-Encoding: chunked` framing, cut into chunks of at most `chunk` bytes.
pub fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(chunk.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

// ---------------------------------------------------------------------------------------------------
// Small assertions
// ---------------------------------------------------------------------------------------------------

/// A UUID, as tokens and allocated ids are.
pub fn assert_uuid(v: &Value, what: &str) -> String {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    uuid::Uuid::parse_str(s).unwrap_or_else(|e| panic!("{what} {s:?} is not a UUID: {e}"));
    s.to_string()
}

/// `2026-11-23T10:11:12.345Z`: RFC 3339, UTC, milliseconds.
pub fn assert_rfc3339_millis(v: &Value, what: &str) -> String {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    let b = s.as_bytes();
    let shape_ok = b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19 | 23) || c.is_ascii_digit());
    assert!(
        shape_ok,
        "{what} {s:?} is not RFC 3339 UTC with milliseconds (2026-11-23T10:11:12.345Z)"
    );
    s.to_string()
}

/// A JSON number as f64 (accepting integers).
pub fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

/// A fresh UUID string.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Asserts that no string anywhere in `v` equals `token` and no key is `token`.
pub fn assert_no_token(v: &Value, token: &str, what: &str) {
    fn walk(v: &Value, token: &str, what: &str, whole: &Value) {
        match v {
            Value::String(s) => assert!(!s.contains(token), "{what} shows the token: {whole}"),
            Value::Array(a) => a.iter().for_each(|x| walk(x, token, what, whole)),
            Value::Object(m) => {
                for (k, x) in m {
                    assert_ne!(k, "token", "{what} has a `token` key: {whole}");
                    walk(x, token, what, whole);
                }
            }
            _ => {}
        }
    }
    walk(v, token, what, v);
}

/// Runs `f` on a thread and hands its result back through a channel, so the test can wait for it with
/// a deadline.
pub fn spawn_result<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

/// Receives with a deadline, panicking with `what` on timeout or when the thread died.
pub fn recv_within<T>(rx: &mpsc::Receiver<T>, within: Duration, what: &str) -> T {
    match rx.recv_timeout(within) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("no answer within {within:?}: {what}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            panic!("the thread died (see its panic above): {what}")
        }
    }
}

/// Sends `POST /grab` with `fields` (as `enc`) on a fresh connection from the calling thread (so the
/// request is on its way when this returns), then reads the answer in a thread; it comes back through
/// the channel. The socket read timeout is `read_timeout`, so the thread ends even when the server
/// never answers.
pub fn spawn_grab(
    addr: SocketAddr,
    enc: Enc,
    fields: &[(&str, &str)],
    read_timeout: Duration,
) -> mpsc::Receiver<Result<Response, String>> {
    let mut c = Conn::open(addr);
    c.set_read_timeout(read_timeout);
    let (ct, body) = enc.encode(fields);
    c.send_request(
        "POST",
        "/grab",
        &[("Content-Type", ct.as_str()), ("Connection", "close")],
        &body,
    );
    let what = format!("waiter {fields:?}");
    spawn_result(move || c.try_read_response().map_err(|e| format!("{what}: {e}")))
}
