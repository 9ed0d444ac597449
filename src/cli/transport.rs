//! The client's HTTP plumbing below ureq, for a short command's speed: an IP-literal server
//! (`http://127.0.0.1:7878`) is taken as it is, with no resolver thread (ureq's default resolver
//! spawns one per request to bound `getaddrinfo` by the timeout), and a request's head and its small
//! form body leave in one write, not two (fewer segments, no wake-up of the server between them).
//! Host names still go through ureq's own resolver.
//!
//! Built on ureq's `unversioned` API (pinned by Cargo.lock): a change there shows up at compile time.
use std::net::{IpAddr, SocketAddr};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, NextTimeout, TcpConnector, Transport,
};

/// The agent every client command uses. An `https://` server goes through ureq's rustls connector
/// (which leaves `http://` alone), below the one-write coalescing.
pub fn agent(config: Config) -> ureq::Agent {
    #[cfg(feature = "tls")]
    let connector =
        ().chain(TcpConnector::default())
            .chain(ureq::unversioned::transport::RustlsConnector::default())
            .chain(OneWrite);
    #[cfg(not(feature = "tls"))]
    let connector = ().chain(TcpConnector::default()).chain(OneWrite);
    ureq::Agent::with_parts(config, connector, LiteralFirst::default())
}

/// Takes an IP literal as it is; asks ureq's resolver for anything else.
#[derive(Debug, Default)]
struct LiteralFirst(DefaultResolver);

impl Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        match literal(uri) {
            Some(addr) => {
                let mut addrs = self.empty();
                addrs.push(addr);
                Ok(addrs)
            }
            None => self.0.resolve(uri, config, timeout),
        }
    }
}

/// `http://127.0.0.1:7878/x` → 127.0.0.1:7878; `http://[::1]:7878` → [::1]:7878; a name → `None`.
fn literal(uri: &Uri) -> Option<SocketAddr> {
    let authority = uri.authority()?;
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: IpAddr = host.parse().ok()?;
    let default_port = if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    Some(SocketAddr::new(
        ip,
        authority.port_u16().unwrap_or(default_port),
    ))
}

/// Wraps the TCP transport in `Coalesced`.
#[derive(Debug)]
struct OneWrite;

impl<In: Transport> Connector<In> for OneWrite {
    type Out = Coalesced<In>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| Coalesced {
            inner,
            held: Vec::new(),
        }))
    }
}

/// Holds back a request head that announces a body, and sends it with the body's first bytes.
#[derive(Debug)]
struct Coalesced<T> {
    inner: T,
    /// A head waiting for its body.
    held: Vec<u8>,
}

impl<T: Transport> Coalesced<T> {
    /// Sends what is held, on its own (before waiting for an answer, or when it cannot be joined).
    fn flush(&mut self, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if self.held.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut self.held);
        self.inner.buffers().output()[..held.len()].copy_from_slice(&held);
        self.inner.transmit_output(held.len(), timeout)
    }
}

impl<T: Transport> Transport for Coalesced<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if self.held.is_empty() {
            let out = &self.inner.buffers().output()[..amount];
            if announces_body(out) {
                self.held = out.to_vec();
                return Ok(());
            }
            return self.inner.transmit_output(amount, timeout);
        }
        let total = self.held.len() + amount;
        let output = self.inner.buffers().output();
        if total > output.len() {
            self.flush(timeout)?;
            return self.inner.transmit_output(amount, timeout);
        }
        // The body's bytes move up; the head goes in front of them: one write.
        output.copy_within(..amount, self.held.len());
        output[..self.held.len()].copy_from_slice(&self.held);
        self.held.clear();
        self.inner.transmit_output(total, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.flush(timeout)?;
        self.inner.await_input(timeout)
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.flush(timeout)?;
        self.inner.maybe_await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// Whether `out` is a whole request head (it ends with the blank line) whose `Content-Length` says a
/// body follows.
fn announces_body(out: &[u8]) -> bool {
    let Some(head) = out.strip_suffix(b"\r\n\r\n") else {
        return false;
    };
    head.split(|&b| b == b'\n').skip(1).any(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return false;
        };
        let (name, value) = line.split_at(colon);
        name.eq_ignore_ascii_case(b"content-length")
            && std::str::from_utf8(&value[1..])
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_are_taken_as_they_are_and_names_are_not() {
        let uri = |s: &str| s.parse::<Uri>().expect("a URI");
        assert_eq!(
            literal(&uri("http://127.0.0.1:7878/grab")),
            Some("127.0.0.1:7878".parse().expect("addr"))
        );
        assert_eq!(
            literal(&uri("http://[::1]:9/x")),
            Some("[::1]:9".parse().expect("addr"))
        );
        assert_eq!(
            literal(&uri("http://10.0.0.5/")),
            Some("10.0.0.5:80".parse().expect("addr"))
        );
        assert_eq!(literal(&uri("http://build-box:7878/")), None);
        assert_eq!(
            literal(&uri("https://10.0.0.5/")),
            Some("10.0.0.5:443".parse().expect("addr"))
        );
    }

    #[test]
    fn only_a_whole_head_with_a_body_to_come_is_held() {
        assert!(announces_body(
            b"POST /grab HTTP/1.1\r\nhost: a\r\ncontent-length: 12\r\n\r\n"
        ));
        assert!(announces_body(
            b"PUT /x HTTP/1.1\r\nContent-Length:3\r\n\r\n"
        ));
        assert!(!announces_body(
            b"POST /grab HTTP/1.1\r\ncontent-length: 0\r\n\r\n"
        ));
        assert!(!announces_body(b"GET /status HTTP/1.1\r\nhost: a\r\n\r\n"));
        assert!(!announces_body(b"id=db&token=x"));
        assert!(!announces_body(
            b"POST /grab HTTP/1.1\r\ncontent-length: 12\r\n\r\nid=db"
        ));
    }
}
