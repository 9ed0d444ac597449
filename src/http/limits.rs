//! The bounds every connection is read under, so no client can exhaust the server.
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Request line and headers together.
    pub max_head_bytes: usize,
    /// The request line alone (method, target, version): longer is 414.
    pub max_target_bytes: usize,
    pub max_headers: usize,
    pub max_body_bytes: usize,
    /// From a request's first byte to its last (head and body): slow or stalled senders are cut off.
    pub request_timeout: Duration,
    /// A keep-alive connection with no request under way is closed after this.
    pub idle_timeout: Duration,
    /// A client that does not read its answer is cut off after this.
    pub write_timeout: Duration,
    /// Open connections; the oldest idle one is closed to admit a new one.
    pub max_connections: usize,
    /// After a closing answer (a 413, say), how much more of what the client still sends is read and
    /// thrown away before the socket is closed, and for how long: closing a socket with unread bytes
    /// sends a reset, and a client still sending its body would see a broken pipe, not the answer.
    pub linger_bytes: usize,
    pub linger_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head_bytes: 16 * 1024,
            max_target_bytes: 8 * 1024,
            max_headers: 100,
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            max_connections: 20_000,
            linger_bytes: 4 * 1024 * 1024,
            linger_timeout: Duration::from_secs(5),
        }
    }
}
