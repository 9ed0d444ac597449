//! A small typed client for etcd's v3 JSON gateway (`/v3/kv/*`, `/v3/lease/*`, `/v3/watch`), over
//! ureq: what the replicated log needs and nothing more. Keys and values are bytes (base64 on the
//! wire); revisions and lease ids are `i64`, as etcd has them (sent as JSON strings).
//!
//! Several endpoints are members of one cluster: a call that cannot reach one (nothing was sent) tries
//! the next, and the client stays with the one that answered.
use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::base64;

/// How a call failed, which decides what a client may be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No member could be reached: nothing was sent, so nothing changed.
    Unreachable(String),
    /// The request went out but no answer came in time, or etcd could not finish it (no quorum): a
    /// write may or may not have been applied.
    NoAnswer(String),
    /// etcd answered with an error.
    Refused(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable(why) | Failure::NoAnswer(why) | Failure::Refused(why) => {
                f.write_str(why)
            }
        }
    }
}

/// One key's latest version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// The revision of the change that wrote this version.
    pub mod_revision: i64,
}

pub struct Etcd {
    /// `http://HOST:PORT` of each member.
    endpoints: Vec<String>,
    /// The member calls go to first: the last one that answered.
    current: AtomicUsize,
    agent: ureq::Agent,
}

impl Etcd {
    /// `endpoints` as `HOST:PORT`; `timeout` bounds every call but a watch.
    pub fn new(endpoints: &[String], timeout: Duration) -> Etcd {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // etcd is reached directly; a proxy set for the outside world must not capture it.
            .proxy(None)
            .timeout_connect(Some(Duration::from_secs(1).min(timeout)))
            .timeout_global(Some(timeout))
            .user_agent(concat!("weblock/", env!("CARGO_PKG_VERSION")))
            .build();
        Etcd {
            endpoints: endpoints.iter().map(|e| format!("http://{e}")).collect(),
            current: AtomicUsize::new(0),
            agent: config.into(),
        }
    }

    /// The members, as given: `HOST:PORT,HOST:PORT`.
    pub fn describe(&self) -> String {
        let hosts: Vec<&str> = self
            .endpoints
            .iter()
            .map(|e| e.trim_start_matches("http://"))
            .collect();
        hosts.join(",")
    }

    /// Puts `value` at `key` (on `lease`, if any); the revision of that change.
    pub fn put(&self, key: &[u8], value: &[u8], lease: Option<i64>) -> Result<i64, Failure> {
        let mut body = json!({"key": base64::encode(key), "value": base64::encode(value)});
        if let Some(lease) = lease {
            body["lease"] = json!(lease.to_string());
        }
        let answer = self.call("/v3/kv/put", &body)?;
        Ok(int(&answer["header"]["revision"]))
    }

    /// The latest version of `key`, if it exists, and the store's revision when it was read
    /// (a linearizable read: it reflects every change etcd acknowledged before it).
    pub fn get(&self, key: &[u8]) -> Result<(i64, Option<Kv>), Failure> {
        let answer = self.call("/v3/kv/range", &json!({"key": base64::encode(key)}))?;
        let kvs = kvs(&answer["kvs"])?;
        Ok((int(&answer["header"]["revision"]), kvs.into_iter().next()))
    }

    /// Every key under `prefix`, and the store's revision when they were read.
    pub fn get_prefix(&self, prefix: &[u8]) -> Result<(i64, Vec<Kv>), Failure> {
        let body = json!({
            "key": base64::encode(prefix),
            "range_end": base64::encode(&prefix_end(prefix)),
        });
        let answer = self.call("/v3/kv/range", &body)?;
        Ok((int(&answer["header"]["revision"]), kvs(&answer["kvs"])?))
    }

    /// Puts `value` at `key` only if it sorts after the value there (bytewise), or the key is new:
    /// a writer that comes late never replaces a newer value with an older one. Whether it was put.
    pub fn put_if_greater(&self, key: &[u8], value: &[u8]) -> Result<bool, Failure> {
        let key64 = base64::encode(key);
        let put = json!([{"request_put": {"key": key64, "value": base64::encode(value)}}]);
        let newer = json!({
            "compare": [{"key": key64, "target": "VALUE", "result": "LESS",
                         "value": base64::encode(value)}],
            "success": put,
        });
        if self.call("/v3/kv/txn", &newer)?["succeeded"] == true {
            return Ok(true);
        }
        // A VALUE comparison fails on a key that does not exist: then put it if it still does not.
        let absent = json!({
            "compare": [{"key": key64, "target": "VERSION", "result": "EQUAL", "version": "0"}],
            "success": put,
        });
        Ok(self.call("/v3/kv/txn", &absent)?["succeeded"] == true)
    }

    /// Forgets every revision before `revision`. Compacting what is compacted already is fine.
    pub fn compact(&self, revision: i64) -> Result<(), Failure> {
        let body = json!({"revision": revision.to_string()});
        match self.call("/v3/kv/compaction", &body) {
            Err(Failure::Refused(why)) if why.contains("compacted") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// A new lease of `ttl` seconds; its id.
    pub fn grant_lease(&self, ttl: u64) -> Result<i64, Failure> {
        let answer = self.call("/v3/lease/grant", &json!({"TTL": ttl.to_string()}))?;
        match int(&answer["ID"]) {
            0 => Err(Failure::Refused(format!("no lease in {answer}"))),
            id => Ok(id),
        }
    }

    /// Renews `lease`; false if it has expired (its keys are gone).
    pub fn keep_alive(&self, lease: i64) -> Result<bool, Failure> {
        let answer = self.call("/v3/lease/keepalive", &json!({"ID": lease.to_string()}))?;
        // A streaming endpoint: its one message comes wrapped in `result`.
        Ok(int(&answer["result"]["TTL"]) > 0)
    }

    /// Watches `key` from `start_revision` on. A watch that hears nothing for `idle` fails with
    /// `NoAnswer` (so a silent, dead connection is noticed); the caller watches again from where it was.
    pub fn watch(&self, key: &[u8], start_revision: i64, idle: Duration) -> Result<Watch, Failure> {
        let body = json!({"create_request": {
            "key": base64::encode(key),
            "start_revision": start_revision.to_string(),
            "progress_notify": true,
        }})
        .to_string();
        self.with_failover(|endpoint| {
            let response = self
                .agent
                .post(format!("{endpoint}/v3/watch"))
                .config()
                .timeout_global(None)
                .timeout_recv_response(Some(idle))
                .timeout_per_read(Some(idle))
                .build()
                .header("Content-Type", "application/json")
                .send(body.as_bytes())
                .map_err(failure)?;
            if response.status() != 200 {
                return Err(Failure::Refused(format!(
                    "watch answered HTTP {}",
                    response.status()
                )));
            }
            let reader = response.into_body().into_reader();
            Ok(Watch {
                lines: BufReader::new(Box::new(reader)),
            })
        })
    }

    /// One unary call: the answer's JSON, or why there is none.
    fn call(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        let body = body.to_string();
        self.with_failover(|endpoint| {
            let mut response = self
                .agent
                .post(format!("{endpoint}{path}"))
                .header("Content-Type", "application/json")
                .send(body.as_bytes())
                .map_err(failure)?;
            let status = response.status().as_u16();
            let text = response
                .body_mut()
                .with_config()
                .limit(64 * 1024 * 1024)
                .read_to_string()
                .map_err(failure)?;
            let answer: Value = serde_json::from_str(&text)
                .map_err(|e| Failure::Refused(format!("{path} answered HTTP {status}: {e}")))?;
            refusal(&answer).map_or(Ok(answer), Err)
        })
    }

    /// Runs `call` against the current member, then each other one while none can be reached.
    fn with_failover<T>(&self, call: impl Fn(&str) -> Result<T, Failure>) -> Result<T, Failure> {
        let first = self.current.load(Ordering::Relaxed);
        let mut last = Failure::Unreachable("no etcd endpoint".to_string());
        for i in 0..self.endpoints.len() {
            let at = (first + i) % self.endpoints.len();
            match call(&self.endpoints[at]) {
                Err(Failure::Unreachable(why)) => {
                    last = Failure::Unreachable(format!("{}: {why}", self.endpoints[at]));
                }
                other => {
                    self.current.store(at, Ordering::Relaxed);
                    return other;
                }
            }
        }
        Err(last)
    }
}

/// The messages of one watch, newline-delimited JSON on a response that lasts as long as the watch.
pub struct Watch {
    lines: BufReader<Box<dyn std::io::Read + Send>>,
}

/// What one watch message says.
#[derive(Debug, PartialEq, Eq)]
pub enum WatchMessage {
    /// New versions of the key (in revision order; none in a progress report), and the store's
    /// revision the message speaks for.
    Changes { revision: i64, kvs: Vec<Kv> },
    /// The revisions asked for were compacted: everything before this one is gone.
    Compacted(i64),
    /// etcd ended the watch.
    Cancelled(String),
}

impl Watch {
    /// Blocks for the next message.
    pub fn next_message(&mut self) -> Result<WatchMessage, Failure> {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self
                .lines
                .read_line(&mut line)
                .map_err(|e| Failure::NoAnswer(format!("watch: {e}")))?;
            if n == 0 {
                return Err(Failure::NoAnswer(
                    "watch: the connection closed".to_string(),
                ));
            }
            if !line.trim().is_empty() {
                return parse_watch_message(&line);
            }
        }
    }
}

/// One line of a watch response.
pub fn parse_watch_message(line: &str) -> Result<WatchMessage, Failure> {
    let message: Value = serde_json::from_str(line)
        .map_err(|e| Failure::Refused(format!("watch: not JSON: {e}")))?;
    if let Some(refused) = refusal(&message) {
        return Err(refused);
    }
    let result = &message["result"];
    let compacted = int(&result["compact_revision"]);
    if compacted > 0 {
        return Ok(WatchMessage::Compacted(compacted));
    }
    if result["canceled"] == true {
        let why = result["cancel_reason"]
            .as_str()
            .unwrap_or("no reason given");
        return Ok(WatchMessage::Cancelled(why.to_string()));
    }
    let mut changes = Vec::new();
    for event in result["events"].as_array().into_iter().flatten() {
        // Only puts: a deleted log key (nobody deletes it) carries no command.
        if event["type"].as_str().unwrap_or("PUT") == "PUT" {
            changes.extend(kvs(&Value::Array(vec![event["kv"].clone()]))?);
        }
    }
    Ok(WatchMessage::Changes {
        revision: int(&result["header"]["revision"]),
        kvs: changes,
    })
}

/// The error etcd answered with, if it did. "Timed out" and "unavailable" (no leader, no quorum) mean
/// a write may still be applied.
fn refusal(answer: &Value) -> Option<Failure> {
    let error = answer
        .get("error")
        .or_else(|| answer["result"].get("error"))?;
    let message = match error {
        Value::String(s) => s.clone(),
        other => other["message"].as_str().unwrap_or("").to_string(),
    };
    let code = answer["code"].as_i64().unwrap_or(0);
    // gRPC codes: 4 = deadline exceeded, 14 = unavailable.
    if code == 4 || code == 14 || message.contains("timed out") || message.contains("no leader") {
        Some(Failure::NoAnswer(format!("etcd: {message}")))
    } else {
        Some(Failure::Refused(format!("etcd: {message}")))
    }
}

fn failure(e: ureq::Error) -> Failure {
    use ureq::Timeout;
    match e {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            Failure::Unreachable("cannot connect".to_string())
        }
        ureq::Error::Timeout(Timeout::Connect | Timeout::Resolve) => {
            Failure::Unreachable("no connection in time".to_string())
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            Failure::Unreachable("connection refused".to_string())
        }
        ureq::Error::Timeout(_) => Failure::NoAnswer("no answer in time".to_string()),
        other => Failure::NoAnswer(other.to_string()),
    }
}

/// A JSON integer that etcd sends as a string (int64), or as a number; absent = 0.
fn int(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        other => other.as_i64().unwrap_or(0),
    }
}

fn kvs(list: &Value) -> Result<Vec<Kv>, Failure> {
    let decode = |v: &Value| {
        base64::decode(v.as_str().unwrap_or("")).map_err(|e| Failure::Refused(format!("etcd: {e}")))
    };
    list.as_array()
        .into_iter()
        .flatten()
        .map(|kv| {
            Ok(Kv {
                key: decode(&kv["key"])?,
                value: decode(&kv["value"])?,
                mod_revision: int(&kv["mod_revision"]),
            })
        })
        .collect()
}

/// The end of the key range that holds every key starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): every key from `prefix` on.
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_messages_are_read_as_etcd_writes_them() {
        let created = r#"{"result":{"header":{"revision":"3"},"created":true}}"#;
        assert_eq!(
            parse_watch_message(created),
            Ok(WatchMessage::Changes {
                revision: 3,
                kvs: vec![]
            })
        );
        let put = r#"{"result":{"header":{"revision":"9"},"events":[{"kv":{"key":"Zm9v","create_revision":"2","mod_revision":"8","version":"2","value":"YmFy"}},{"type":"DELETE","kv":{"key":"Zm9v","mod_revision":"9"}}]}}"#;
        assert_eq!(
            parse_watch_message(put),
            Ok(WatchMessage::Changes {
                revision: 9,
                kvs: vec![Kv {
                    key: b"foo".to_vec(),
                    value: b"bar".to_vec(),
                    mod_revision: 8
                }]
            })
        );
        let compacted = r#"{"result":{"header":{},"canceled":true,"compact_revision":"3"}}"#;
        assert_eq!(
            parse_watch_message(compacted),
            Ok(WatchMessage::Compacted(3))
        );
        assert!(matches!(
            parse_watch_message(r#"{"error":{"grpc_code":14,"message":"etcdserver: no leader"}}"#),
            Err(Failure::NoAnswer(_))
        ));
        assert!(parse_watch_message("not json").is_err());
        assert!(parse_watch_message(r#"{"result":{"events":[{"kv":{"key":"!!"}}]}}"#).is_err());
    }

    #[test]
    fn a_prefix_range_ends_after_its_last_key() {
        assert_eq!(
            prefix_end(b"weblock/servers/"),
            b"weblock/servers0".to_vec()
        );
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }

    #[test]
    fn an_unreachable_endpoint_says_so() {
        // A port nothing listens on: the call is refused before anything is sent.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let etcd = Etcd::new(&[format!("127.0.0.1:{port}")], Duration::from_secs(2));
        assert!(matches!(etcd.get(b"k"), Err(Failure::Unreachable(_))));
    }
}
