//! The HTTP client every subcommand uses: the server's base URL, per-call timeouts, and retries of
//! dropped or refused connections and 5xx answers, with capped exponential backoff and jitter, until the
//! caller's deadline. It knows the WebMutex API's words, nothing of the server's insides.
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
}

pub struct Client {
    base: String,
    agent: ureq::Agent,
    /// `Bearer SECRET` for servers started with `--auth-file`; never printed.
    authorization: Option<String>,
}

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

fn first_secret(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
}

/// First pause between retries, and the longest.
const BACKOFF_START: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

impl Client {
    /// `server` is the base URL, e.g. `http://127.0.0.1:7878`.
    pub fn new(server: &str) -> Result<Client, String> {
        let base = server.trim().trim_end_matches('/').to_string();
        let rest = base
            .strip_prefix("http://")
            .ok_or_else(|| format!("invalid server URL {server:?}: use http://HOST:PORT"))?;
        if rest.is_empty() || rest.contains('/') {
            return Err(format!(
                "invalid server URL {server:?}: use http://HOST:PORT"
            ));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A lock server is reached directly; an HTTP_PROXY set for the outside world must not
            // capture loopback or LAN traffic.
            .proxy(None)
            .timeout_connect(Some(Duration::from_secs(3)))
            .user_agent(concat!("weblock/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            base,
            agent: config.into(),
            authorization: secret_from_env()?.map(|s| format!("Bearer {s}")),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Any request, answered within `per_call` (which must cover any server-side wait), retried on
    /// connection errors and 5xx until `deadline`. Every request weblock retries is safe to repeat:
    /// grabs carry the client's own token, release is idempotent, and tickets are presented by id.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Body,
        per_call: Duration,
        deadline: Instant,
    ) -> Result<Answer, CallError> {
        let mut backoff = BACKOFF_START;
        loop {
            let last = match self.once(method, path, query, body, per_call) {
                Ok(answer) if answer.status == 401 => {
                    refused(&answer, self.authorization.is_some())
                }
                Ok(answer) if answer.status < 500 => return Ok(answer),
                Ok(answer) => format!("server error {}: {}", answer.status, answer.reason()),
                Err(e) => e,
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(CallError::Unreachable(last));
            }
            let pause = jitter(backoff).min(deadline - now);
            std::thread::sleep(pause);
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    fn once(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Body,
        per_call: Duration,
    ) -> Result<Answer, String> {
        let url = format!("{}{}", self.base, path);
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
        let mut response = result.map_err(describe)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(describe)?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }
}

/// A 401: the server wants a secret this client lacks, or refused the one it sent. Every request of
/// this process would get the same answer, so it ends here, with exit code 1: the answer is no.
fn refused(answer: &Answer, sent: bool) -> ! {
    let hint = if sent {
        format!("the secret from {AUTH_ENV} or {AUTH_FILE_ENV} is not one of the server's")
    } else {
        format!("set {AUTH_ENV}, or {AUTH_FILE_ENV} to a file holding the secret")
    };
    eprintln!(
        "weblock: the server refused access (HTTP 401: {}); the answer is no: {hint}",
        answer.reason()
    );
    std::process::exit(i32::from(super::exit::NO))
}

/// A request's body.
#[derive(Clone, Copy)]
pub enum Body<'a> {
    None,
    Form(&'a [(&'a str, String)]),
    Json(&'a Value),
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
        assert!(Client::new("https://x:1").is_err());
        assert!(Client::new("http://x:1/path").is_err());
    }

    #[test]
    fn the_first_secret_skips_blank_and_comment_lines() {
        assert_eq!(first_secret("# ours\n\n  s3cret \nother\n"), Some("s3cret"));
        assert_eq!(first_secret("# none\n\n"), None);
    }

    #[test]
    fn jitter_stays_between_half_and_whole() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(1000));
            assert!(j >= Duration::from_millis(500) && j <= Duration::from_millis(1000));
        }
    }
}
