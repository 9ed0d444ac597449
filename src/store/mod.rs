//! Where the state lives when several `weblock serve` share it: an etcd cluster (`--store etcd://…`).
//!
//! This module knows etcd and bytes, not locks: the URL, the keys under the prefix, and the calls the
//! replicated log makes. What the bytes mean (commands, snapshots, who parked what) is
//! `server::replica`'s. Under `PREFIX`:
//!
//! - `PREFIX/log`: every command ever proposed is in a put of this one key (one or several commands a
//!   put), so etcd's history of it (its MVCC revisions) is the log in one global order, and a watch
//!   from revision R+1 replays it.
//! - `PREFIX/snapshot`: the state after some revision R, as `R` (20 digits) + space + JSON, so that a
//!   later snapshot sorts after an earlier one and a late writer can never replace it with an older one.
//!   The log is compacted below R once it is written.
//! - `PREFIX/servers/ID`: one key per running server, on a lease that it keeps alive.
pub mod etcd;

use std::time::Duration;

pub use etcd::{Etcd, Failure, Watch, WatchMessage};

/// `etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl {
    pub endpoints: Vec<String>,
    pub prefix: String,
}

/// The prefix when the URL names none.
pub const DEFAULT_PREFIX: &str = "weblock";

impl std::str::FromStr for StoreUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<StoreUrl, String> {
        let usage = "use etcd://HOST:PORT[,HOST:PORT...][/PREFIX]";
        let rest = url
            .strip_prefix("etcd://")
            .ok_or_else(|| format!("invalid store {url:?}: {usage}"))?;
        let (hosts, prefix) = match rest.split_once('/') {
            Some((hosts, prefix)) => (hosts, prefix.trim_matches('/')),
            None => (rest, ""),
        };
        let endpoints: Vec<String> = hosts.split(',').map(|h| h.trim().to_string()).collect();
        for endpoint in &endpoints {
            let port = endpoint
                .rsplit_once(':')
                .map(|(host, port)| (host, port.parse::<u16>()));
            if !matches!(port, Some((host, Ok(p))) if !host.is_empty() && p > 0) {
                return Err(format!(
                    "invalid store {url:?}: {endpoint:?} is not HOST:PORT; {usage}"
                ));
            }
        }
        let prefix_ok = prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
        if !prefix_ok {
            return Err(format!(
                "invalid store {url:?}: the prefix may hold letters, digits, - _ . and /"
            ));
        }
        let prefix = if prefix.is_empty() {
            DEFAULT_PREFIX
        } else {
            prefix
        };
        Ok(StoreUrl {
            endpoints,
            prefix: prefix.to_string(),
        })
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "etcd://{}/{}", self.endpoints.join(","), self.prefix)
    }
}

/// How long one etcd call (other than a watch) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// The log, snapshot and liveness keys of one shared state.
pub struct Store {
    pub etcd: Etcd,
    pub url: StoreUrl,
    log_key: Vec<u8>,
    snapshot_key: Vec<u8>,
    servers_prefix: Vec<u8>,
}

impl Store {
    pub fn new(url: StoreUrl) -> Store {
        Store {
            etcd: Etcd::new(&url.endpoints, CALL_TIMEOUT),
            log_key: format!("{}/log", url.prefix).into_bytes(),
            snapshot_key: format!("{}/snapshot", url.prefix).into_bytes(),
            servers_prefix: format!("{}/servers/", url.prefix).into_bytes(),
            url,
        }
    }

    pub fn log_key(&self) -> &[u8] {
        &self.log_key
    }

    /// Appends one value (one or several entries) to the log; the revision it got.
    pub fn append(&self, entry: &[u8]) -> Result<i64, Failure> {
        self.etcd.put(&self.log_key, entry, None)
    }

    /// The revision of the log's last entry (0 if it has none): a server that has applied the log up to
    /// here knows every change acknowledged before this call.
    pub fn head(&self) -> Result<i64, Failure> {
        let (_, kv) = self.etcd.get(&self.log_key)?;
        Ok(kv.map_or(0, |kv| kv.mod_revision))
    }

    /// Watches the log from `revision` on.
    pub fn watch(&self, revision: i64, idle: Duration) -> Result<Watch, Failure> {
        self.etcd.watch(&self.log_key, revision, idle)
    }

    /// The latest snapshot: the revision it was taken after, and its bytes.
    pub fn load_snapshot(&self) -> Result<Option<(i64, Vec<u8>)>, String> {
        let (_, kv) = self
            .etcd
            .get(&self.snapshot_key)
            .map_err(|e| e.to_string())?;
        let Some(kv) = kv else {
            return Ok(None);
        };
        let (revision, body) = kv
            .value
            .split_at_checked(20)
            .ok_or("the stored snapshot is cut short")?;
        let revision = std::str::from_utf8(revision)
            .ok()
            .and_then(|r| r.parse::<i64>().ok())
            .ok_or("the stored snapshot does not start with its revision")?;
        Ok(Some((revision, body.get(1..).unwrap_or_default().to_vec())))
    }

    /// Stores a snapshot of the state after `revision` (unless a later one is there already), then,
    /// if `compact`, compacts etcd below it (etcd-wide: every key's history before it is gone).
    pub fn save_snapshot(
        &self,
        revision: i64,
        snapshot: &[u8],
        compact: bool,
    ) -> Result<(), Failure> {
        let mut value = format!("{revision:020} ").into_bytes();
        value.extend_from_slice(snapshot);
        self.etcd.put_if_greater(&self.snapshot_key, &value)?;
        if compact {
            self.etcd.compact(revision)?;
        }
        Ok(())
    }

    /// Puts this server's liveness key on a new lease of `ttl`; the lease.
    pub fn register(&self, server: &str, ttl: Duration) -> Result<i64, Failure> {
        let lease = self.etcd.grant_lease(ttl.as_secs().max(1))?;
        let mut key = self.servers_prefix.clone();
        key.extend_from_slice(server.as_bytes());
        self.etcd.put(&key, b"", Some(lease))?;
        Ok(lease)
    }

    /// The ids of the servers whose liveness keys exist, and the revision they were read at.
    pub fn live_servers(&self) -> Result<(i64, Vec<String>), Failure> {
        let (revision, kvs) = self.etcd.get_prefix(&self.servers_prefix)?;
        let ids = kvs
            .into_iter()
            .filter_map(|kv| {
                let id = kv.key.get(self.servers_prefix.len()..)?;
                String::from_utf8(id.to_vec()).ok()
            })
            .collect();
        Ok((revision, ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_are_parsed_and_checked() {
        let url: StoreUrl = "etcd://127.0.0.1:2379".parse().unwrap();
        assert_eq!(url.endpoints, ["127.0.0.1:2379"]);
        assert_eq!(url.prefix, "weblock");
        let url: StoreUrl = "etcd://a:1,b:2/team/locks/".parse().unwrap();
        assert_eq!(url.endpoints, ["a:1", "b:2"]);
        assert_eq!(url.prefix, "team/locks");
        assert_eq!(url.to_string(), "etcd://a:1,b:2/team/locks");
        for bad in [
            "http://a:1",
            "etcd://",
            "etcd://a",
            "etcd://a:0",
            "etcd://:1",
            "etcd://a:1,/x",
            "etcd://a:x",
            "etcd://a:1/sp ace",
        ] {
            assert!(bad.parse::<StoreUrl>().is_err(), "{bad} should be refused");
        }
    }
}
