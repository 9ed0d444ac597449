//! The HTTP client every subcommand uses: the servers' base URLs, per-call timeouts, and retries of
//! dropped or refused connections and 5xx answers, with capped exponential backoff and jitter, until the
//! caller's deadline. Given several servers (`--server A,B`), it stays on the one that answers and moves
//! to the next when a call meets a connection error or a 5xx. It knows the WebMutex API's words,
//! nothing of the server's insides.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// An answer from the server: its status and JSON body (`Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn str(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }
    pub fn u64(&self, name: &str) -> Option<u64> {
        self.body.get(name).and_then(Value::as_u64)
    }
    pub fn f64(&self, name: &str) -> Option<f64> {
        self.body.get(name).and_then(Value::as_f64)
    }
    pub fn flag(&self, name: &str) -> bool {
        self.body
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    /// The server's `reason`, or the status when it gave none.
    pub fn reason(&self) -> String {
        self.str("reason")
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {}", self.status))
    }
}

/// Why a call did not get an answer.
#[derive(Debug, Clone)]
pub enum CallError {
    /// No answer before the deadline: the server was unreachable or failing all along. Says what the
    /// last attempt met.
    Unreachable(String),
    /// The server's TLS certificate was refused (not trusted, expired, another name), or it speaks
    /// no TLS: the same on every try, so not retried (exit 4 all the same). Says what is wrong.
    Tls(String),
    /// 401: the server wants a secret this client lacks, or refused the one it sent. Every request
    /// would get the same answer, so it is not retried. Says what to do.
    Refused(String),
}

pub struct Client {
    /// Every server given, in the order given; never empty.
    bases: Vec<String>,
    /// The index in `bases` of the server in use: the last one that answered.
    current: AtomicUsize,
    agent: ureq::Agent,
    /// `Bearer SECRET` for servers started with `--auth-file`, or the administrator's `Basic …`;
    /// never printed.
    authorization: Option<String>,
    /// The authorization is the administrator's (for `break`): a 401 is about those credentials.
    admin: bool,
}

/// A PEM file of the CA certificates an `https://` server's certificate may be signed by (instead of
/// the well-known public ones compiled in).
pub const CA_FILE_ENV: &str = "WEBLOCK_CA_FILE";

/// The secret itself, for servers started with `--auth-file`.
pub const AUTH_ENV: &str = "WEBLOCK_AUTH";
/// A file whose first line that is neither blank nor a `#` comment is the secret.
pub const AUTH_FILE_ENV: &str = "WEBLOCK_AUTH_FILE";

/// The secret from `WEBLOCK_AUTH`, else from the file `WEBLOCK_AUTH_FILE` names, else none. Taken from
/// the environment or a file only, so it never shows on a command line.
fn secret_from_env() -> Result<Option<String>, String> {
    if let Some(secret) = std::env::var(AUTH_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        return Ok(Some(secret.trim().to_string()));
    }
    let Some(path) = std::env::var_os(AUTH_FILE_ENV).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = std::path::PathBuf::from(path);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{AUTH_FILE_ENV}: cannot read {}: {e}", path.display()))?;
    first_secret(&text)
        .map(|s| Some(s.to_string()))
        .ok_or_else(|| format!("{AUTH_FILE_ENV}: no secret in {}", path.display()))
}

/// The first line that is neither blank nor a comment; a line copied from the server's file as it is
/// there (`NAME:SECRET SCOPE…`, the server's rule for an identity line) gives its SECRET.
fn first_secret(text: &str) -> Option<&str> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    let mut words = line.split_whitespace();
    let first = words.next()?;
    match (first.split_once(':'), words.next()) {
        (Some((_, secret)), Some(_)) if !secret.is_empty() => Some(secret),
        _ => Some(line),
    }
}

/// The size of each of a connection's two buffers.
const IO_BUFFER: usize = 16 * 1024;

/// First pause between retries, and the longest.
const BACKOFF_START: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// A call that retries this long says so on stderr (terminal or not), then every `REPORT_EVERY`:
/// a waiting client must not retry a server that is away in silence for ever. Calls with less time
/// than `REPORT_BUDGET` to retry (one-shot commands: 5 s) just end with their one error line.
const REPORT_AFTER: Duration = Duration::from_secs(3);
const REPORT_EVERY: Duration = Duration::from_secs(30);
const REPORT_BUDGET: Duration = Duration::from_secs(10);

impl Client {
    /// `servers` is one base URL, e.g. `http://127.0.0.1:7878`, or several separated by commas;
    /// `https://` servers are trusted by the CAs of `WEBLOCK_CA_FILE`, if set.
    pub fn new(servers: &str) -> Result<Client, String> {
        let ca_file = std::env::var_os(CA_FILE_ENV)
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from);
        Client::with_ca_file(servers, ca_file.as_deref())
    }

    /// The same, `https://` servers trusted by the CAs in `ca_file` (PEM) if given, else by the
    /// well-known public CAs (Mozilla's list, compiled in: no system store is needed).
    pub fn with_ca_file(
        servers: &str,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Client, String> {
        let bases = parse_servers(servers)?;
        let config = ureq::Agent::config_builder();
        #[cfg(feature = "tls")]
        let config = config.tls_config(super::tls::config(ca_file)?);
        #[cfg(not(feature = "tls"))]
        if ca_file.is_some() {
            return Err("--ca-file: this weblock was built without TLS (the tls feature)".into());
        }
        let config = config
            .http_status_as_error(false)
            // A lock server is reached directly; an HTTP_PROXY set for the outside world must not
            // capture loopback or LAN traffic.
            .proxy(None)
            .timeout_connect(Some(Duration::from_secs(3)))
            // ureq's default buffers (128 KiB each) are zero-filled before the first request: 64
            // pages touched, and unmapped again, for answers of a few hundred bytes. A response head
            // must fit in the input buffer (ours are a few hundred bytes); bodies of any size stream
            // through both.
            .input_buffer_size(IO_BUFFER)
            .output_buffer_size(IO_BUFFER)
            .user_agent(concat!("weblock/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            bases,
            current: AtomicUsize::new(0),
            agent: super::transport::agent(config),
            authorization: secret_from_env()?.map(|s| format!("Bearer {s}")),
            admin: false,
        })
    }

    /// The same servers, with the administrator's `user:password` sent as HTTP Basic instead of the
    /// access secret (a server with `--auth-file` lets the administrator in with those too).
    pub fn as_admin(&self, user_password: &str) -> Client {
        Client {
            bases: self.bases.clone(),
            current: AtomicUsize::new(self.current.load(Ordering::Relaxed)),
            agent: self.agent.clone(),
            authorization: Some(format!(
                "Basic {}",
                crate::base64::encode(user_password.as_bytes())
            )),
            admin: true,
        }
    }

    /// The servers as given (comma-separated): the key under which tokens are remembered, so that a
    /// grab and its release name the same service whichever of its servers answered.
    pub fn servers(&self) -> String {
        self.bases.join(",")
    }

    /// Moves on to the next server (from `from`, unless another thread moved already).
    fn fail_over(&self, from: usize) {
        let next = (from + 1) % self.bases.len();
        let _ = self
            .current
            .compare_exchange(from, next, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Any request, answered within `per_call` (which must cover any server-side wait), retried on
    /// connection errors and 5xx until `deadline`; no try runs more than `past` beyond `deadline`
    /// (connect, write and read are all under one per-try timeout), whatever the server does. Every
    /// request weblock retries is safe to repeat: grabs carry the client's own token, release is
    /// idempotent, and tickets are presented by id.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Body,
        per_call: Duration,
        (deadline, past): (Instant, Duration),
    ) -> Result<Answer, CallError> {
        let mut backoff = BACKOFF_START;
        // Servers tried since the last pause: every one gets a chance before the client backs off.
        let mut tried = 0;
        let started = Instant::now();
        let mut report_at = (deadline.saturating_duration_since(started) > REPORT_BUDGET)
            .then_some(started + REPORT_AFTER);
        loop {
            let per_call = per_call.min(deadline.saturating_duration_since(Instant::now()) + past);
            let index = self.current.load(Ordering::Relaxed) % self.bases.len();
            let base = &self.bases[index];
            // Which server said so, when there are several to tell apart.
            let from = if self.bases.len() > 1 {
                format!("{base}: ")
            } else {
                String::new()
            };
            let last = match self.once(base, method, path, query, body, per_call) {
                Ok(answer) if answer.status == 401 => {
                    return Err(CallError::Refused(self.refused(&answer)));
                }
                // A certificate not trusted, expired or for another name is the same on every try.
                Err(Failed::Tls(e)) => {
                    return Err(CallError::Tls(format!("{from}{e}")));
                }
                Ok(answer) if answer.status < 500 => return Ok(answer),
                Ok(answer) => format!("{from}server error {}: {}", answer.status, answer.reason()),
                Err(Failed::Other(e)) => format!("{from}{e}"),
            };
            self.fail_over(index);
            tried += 1;
            let now = Instant::now();
            if now >= deadline {
                return Err(CallError::Unreachable(last));
            }
            if let Some(at) = report_at.filter(|&at| now >= at) {
                super::progress::say(&format!(
                    "weblock: no answer from the weblock server at {} for {}: {last}; still trying",
                    self.servers(),
                    crate::duration::format(Duration::from_secs(
                        now.duration_since(started).as_secs()
                    ))
                ));
                report_at = Some(now.max(at) + REPORT_EVERY);
            }
            if tried < self.bases.len() {
                continue;
            }
            tried = 0;
            let pause = jitter(backoff).min(deadline - now);
            std::thread::sleep(pause);
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    fn once(
        &self,
        base: &str,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Body,
        per_call: Duration,
    ) -> Result<Answer, Failed> {
        let url = format!("{base}{path}");
        let pairs = || query.iter().map(|(k, v)| (*k, v.as_str()));
        let timeout = Some(per_call);
        let result = match method {
            "GET" | "DELETE" => {
                let req = if method == "GET" {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                let req = req.config().timeout_global(timeout).build();
                let req = match &self.authorization {
                    Some(a) => req.header("Authorization", a),
                    None => req,
                };
                req.query_pairs(pairs()).call()
            }
            _ => {
                let req = match method {
                    "PUT" => self.agent.put(&url),
                    "PATCH" => self.agent.patch(&url),
                    _ => self.agent.post(&url),
                };
                let req = req.config().timeout_global(timeout).build();
                let req = match &self.authorization {
                    Some(a) => req.header("Authorization", a),
                    None => req,
                };
                let req = req.query_pairs(pairs());
                match body {
                    Body::Form(form) => req.send_form(form.iter().map(|(k, v)| (*k, v.as_str()))),
                    Body::Json(value) => req
                        .header("Content-Type", "application/json")
                        .send(value.to_string()),
                    Body::None => req.send_empty(),
                }
            }
        };
        let mut response = result.map_err(Failed::from)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(Failed::from)?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }
}

impl Client {
    /// What a 401 means for the user: the line to print (exit code 6).
    fn refused(&self, answer: &Answer) -> String {
        let hint = match (self.admin, self.authorization.is_some()) {
            (true, _) => format!(
                "check {} against the server's --admin-credentials",
                crate::api::auth::CREDENTIALS_ENV
            ),
            (false, true) => {
                format!("the secret from {AUTH_ENV} or {AUTH_FILE_ENV} is not one of the server's")
            }
            (false, false) => {
                format!("set {AUTH_ENV}, or {AUTH_FILE_ENV} to a file holding the secret")
            }
        };
        format!(
            "the server refused access (HTTP 401: {}): {hint}",
            answer.reason()
        )
    }
}

/// Base URLs from `A` or `A,B,…`: each `http://HOST:PORT` or `https://HOST:PORT`, without a path (a
/// trailing `/` is dropped).
fn parse_servers(servers: &str) -> Result<Vec<String>, String> {
    let bad = |one: &str| {
        format!(
            "invalid server URL {one:?}: use http://HOST:PORT or https://HOST:PORT (several: comma-separated)"
        )
    };
    let mut bases = Vec::new();
    for one in servers.split(',') {
        let base = one.trim().trim_end_matches('/');
        let rest = match base.strip_prefix("https://") {
            #[cfg(not(feature = "tls"))]
            Some(_) => {
                return Err(format!(
                    "{one:?}: this weblock was built without TLS (the tls feature): use http://"
                ));
            }
            #[cfg(feature = "tls")]
            Some(rest) => rest,
            None => base.strip_prefix("http://").ok_or_else(|| bad(one))?,
        };
        if rest.is_empty() || rest.contains('/') {
            return Err(bad(one));
        }
        bases.push(base.to_string());
    }
    Ok(bases)
}

/// A request's body.
#[derive(Clone, Copy)]
pub enum Body<'a> {
    None,
    Form(&'a [(&'a str, String)]),
    Json(&'a Value),
}

/// Why one try failed: TLS (the server's certificate, or no TLS at all) is not tried again.
#[derive(Debug)]
enum Failed {
    Tls(String),
    Other(String),
}

impl From<ureq::Error> for Failed {
    fn from(e: ureq::Error) -> Failed {
        match tls_problem(&e) {
            Some(problem) => Failed::Tls(problem),
            None => Failed::Other(describe(e)),
        }
    }
}

/// What a TLS failure says to the user, in one line; `None` when `e` is not about TLS.
fn tls_problem(e: &ureq::Error) -> Option<String> {
    #[cfg(feature = "tls")]
    {
        let rustls = match e {
            ureq::Error::Rustls(e) => Some(e),
            ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
            _ => None,
        };
        if let Some(e) = rustls {
            return Some(super::tls::describe(e));
        }
    }
    match e {
        ureq::Error::Tls(what) => Some(format!("TLS: {what}")),
        _ => None,
    }
}

fn describe(e: ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::Timeout(_) => "no answer in time".to_string(),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        other => other.to_string(),
    }
}

/// Between half and all of `d`, so many clients retrying at once spread out.
fn jitter(d: Duration) -> Duration {
    let r = uuid::Uuid::new_v4().as_u128() as u64 % 1000;
    d / 2 + d * r as u32 / 2000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked() {
        assert!(Client::new("http://127.0.0.1:7878").is_ok());
        assert!(Client::new("http://build3:7878/").is_ok());
        assert!(Client::new("127.0.0.1:7878").is_err());
        assert_eq!(Client::new("https://x:1").is_ok(), cfg!(feature = "tls"));
        assert!(Client::new("ftp://x:1").is_err());
        assert!(Client::new("http://x:1/path").is_err());
        assert!(Client::new("http://a:1,").is_err());
        assert!(Client::new("").is_err());
    }

    #[test]
    fn several_servers_are_comma_separated_and_kept_in_order() {
        let client = Client::new("http://a:1, http://b:2/,http://c:3").unwrap();
        assert_eq!(client.servers(), "http://a:1,http://b:2,http://c:3");
        let current = || client.current.load(Ordering::Relaxed);
        assert_eq!(current(), 0);
        client.fail_over(0);
        assert_eq!(current(), 1);
        // A second thread that saw the same failure does not skip the next server.
        client.fail_over(0);
        assert_eq!(current(), 1);
        client.fail_over(1);
        client.fail_over(2);
        assert_eq!(current(), 0);
    }

    #[test]
    fn the_first_secret_skips_blank_and_comment_lines() {
        assert_eq!(first_secret("# ours\n\n  s3cret \nother\n"), Some("s3cret"));
        assert_eq!(first_secret("# none\n\n"), None);
        // A line of the server's file as it is there: its secret.
        assert_eq!(first_secret("team1:s3 lock:team1-* read\n"), Some("s3"));
        // A bare secret with a colon stays whole, as the server reads it.
        assert_eq!(first_secret("old:style\n"), Some("old:style"));
    }

    #[test]
    fn jitter_stays_between_half_and_whole() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(1000));
            assert!(j >= Duration::from_millis(500) && j <= Duration::from_millis(1000));
        }
    }
}
