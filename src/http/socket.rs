//! The TLS side of a connection's socket: a rustls server session driven over a non-blocking
//! stream, with the calls the connection cycle makes of a plain socket (read, write, flush) and
//! their meanings kept: `Ok(0)` from `read` is the client's end (a `close_notify`, or the TCP end),
//! `WouldBlock` means "wait for readiness". The session lives in the connection's state, under the
//! lock that already serialises work on it.
//!
//! Generic over the stream (`Read + Write`), so it is tested over a socket pair without a listener;
//! the cycle passes `&TcpStream`. Without the `tls` feature, `Session` has no values and every
//! connection is plain.
use std::io;

/// Why a connection on a TLS port was refused before any TLS: its first bytes are plain HTTP.
#[derive(Debug)]
pub struct NotTls {
    /// The Host header of that request, if it had a plausible one (for the URL the answer gives).
    pub host: Option<String>,
}

impl std::fmt::Display for NotTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("plain HTTP on a TLS port")
    }
}

impl std::error::Error for NotTls {}

/// The `NotTls` an error carries, if it is one.
pub fn not_tls(e: &io::Error) -> Option<&NotTls> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<NotTls>())
}

/// What a parked connection's client sent meanwhile, as far as TLS can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pumped {
    /// Nothing more (or records with no plaintext in them).
    Quiet,
    /// Plaintext is waiting (a pipelined request): left unread until the wait is answered.
    Unread,
    /// The client closed (`close_notify`, the TCP end, or a broken session).
    Gone,
}

#[cfg(feature = "tls")]
pub use with_tls::{Acceptor, Session};
#[cfg(not(feature = "tls"))]
pub use without_tls::{Acceptor, Session};

#[cfg(feature = "tls")]
mod with_tls {
    use std::io::{self, Read, Write};
    use std::sync::Arc;

    use super::{NotTls, Pumped};

    /// Starts sessions with the configuration in force.
    #[derive(Clone)]
    pub struct Acceptor(pub Arc<rustls::ServerConfig>);

    impl Acceptor {
        pub fn session(&self) -> io::Result<Session> {
            let conn = rustls::ServerConnection::new(self.0.clone()).map_err(io::Error::other)?;
            Ok(Session {
                conn,
                started: false,
                ended: false,
                identity: None,
            })
        }
    }

    /// One connection's TLS session.
    pub struct Session {
        conn: rustls::ServerConnection,
        /// The first bytes were seen to be TLS (a plain-HTTP request is refused before rustls sees it).
        started: bool,
        /// The stream ended (read gave 0).
        ended: bool,
        /// The client certificate's subject CN, once the handshake is done.
        identity: Option<Option<String>>,
    }

    /// A TLS record of the handshake type begins every TLS connection.
    const HANDSHAKE_RECORD: u8 = 0x16;

    impl Session {
        /// Plaintext into `buf`: `Ok(0)` at the client's end, `WouldBlock` when there is none yet.
        /// What rustls has decrypted is handed out before the stream is read again, so no request
        /// is left inside the session waiting for readiness that will not come.
        pub fn read<S: Read + Write>(&mut self, io: &mut S, buf: &mut [u8]) -> io::Result<usize> {
            loop {
                match self.conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The TCP end without a close_notify: an end all the same.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
                if self.ended {
                    return Ok(0);
                }
                let n = if self.started {
                    self.conn.read_tls(io)?
                } else {
                    self.first_read(io)?
                };
                if n == 0 {
                    self.ended = true;
                }
                self.process(io)?;
            }
        }

        /// The first bytes: a TLS handshake record goes to rustls; anything else is refused here.
        fn first_read<S: Read + Write>(&mut self, io: &mut S) -> io::Result<usize> {
            let mut first = [0u8; 2048];
            let n = io.read(&mut first)?;
            if n == 0 {
                return Ok(0);
            }
            if first[0] != HANDSHAKE_RECORD {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    NotTls {
                        host: host_header(&first[..n]),
                    },
                ));
            }
            self.started = true;
            let mut rest = &first[..n];
            while !rest.is_empty() {
                if self.conn.read_tls(&mut rest)? == 0 {
                    break;
                }
                self.process(io)?;
            }
            Ok(n)
        }

        /// Processes what was read; sends what the session has to say (handshake, alerts). A
        /// broken session is an error (its alert sent when the socket takes it).
        fn process<S: Read + Write>(&mut self, io: &mut S) -> io::Result<()> {
            if let Err(e) = self.conn.process_new_packets() {
                let _ = self.flush(io);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            match self.flush(io) {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
                // What the socket did not take yet waits for room (`wants_write`).
                _ => Ok(()),
            }
        }

        /// Takes plaintext from `buf` (how much: the session buffers a bounded amount) and sends
        /// what it can. `WouldBlock` only when none of `buf` could be taken.
        pub fn write<S: Read + Write>(&mut self, io: &mut S, buf: &[u8]) -> io::Result<usize> {
            // Records left from an earlier turn go first. A session still full of them takes none
            // of `buf`; had it been emptied only after, this turn would read as "wrote nothing",
            // which the caller takes for a failed write, and the answer would be cut off.
            match self.flush(io) {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
            let taken = self.conn.writer().write(buf)?;
            if taken == 0 && !buf.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            match self.flush(io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && taken > 0 => Ok(taken),
                Err(e) => Err(e),
                Ok(()) => Ok(taken),
            }
        }

        /// Sends the session's pending records; `WouldBlock` when the socket is full before the end.
        pub fn flush<S: Read + Write>(&mut self, io: &mut S) -> io::Result<()> {
            while self.conn.wants_write() {
                if self.conn.write_tls(io)? == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
            }
            Ok(())
        }

        /// Records are waiting for room in the socket.
        pub fn wants_write(&self) -> bool {
            self.conn.wants_write()
        }

        /// Decrypted plaintext waits inside the session, unread.
        pub fn has_plaintext(&mut self) -> bool {
            self.conn
                .process_new_packets()
                .is_ok_and(|state| state.plaintext_bytes_to_read() > 0)
        }

        /// For a parked connection: reads what arrived into the session (its plaintext stays
        /// there, for after the wait) to see whether the client closed.
        pub fn pump<S: Read + Write>(&mut self, io: &mut S) -> Pumped {
            loop {
                match self.conn.read_tls(io) {
                    Ok(0) => return Pumped::Gone,
                    Ok(_) => match self.conn.process_new_packets() {
                        Err(_) => {
                            let _ = self.flush(io);
                            return Pumped::Gone;
                        }
                        Ok(state) if state.peer_has_closed() => return Pumped::Gone,
                        Ok(_) => {}
                    },
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // Its plaintext buffer is full: the rest stays in the socket until the answer.
                    Err(e) if e.kind() == io::ErrorKind::Other => break,
                    Err(_) => return Pumped::Gone,
                }
            }
            if self.has_plaintext() {
                Pumped::Unread
            } else {
                Pumped::Quiet
            }
        }

        /// Says the end (`close_notify`) before our side is shut; best effort.
        pub fn close_notify<S: Read + Write>(&mut self, io: &mut S) {
            self.conn.send_close_notify();
            let _ = self.flush(io);
        }

        /// The client certificate's subject CN (verified in the handshake), once it is done.
        pub fn identity(&mut self) -> Option<String> {
            if self.conn.is_handshaking() {
                return None;
            }
            self.identity
                .get_or_insert_with(|| {
                    self.conn
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .and_then(|cert| crate::http::subject::common_name(cert))
                })
                .clone()
        }
    }

    /// The Host header's value in a plain request's first bytes, if it looks like a host[:port].
    fn host_header(bytes: &[u8]) -> Option<String> {
        let text = std::str::from_utf8(bytes).ok()?;
        let value = text.split("\r\n").skip(1).find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("host").then(|| value.trim())
        })?;
        let plausible = !value.is_empty()
            && value.len() <= 255
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
        plausible.then(|| value.to_string())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[cfg(target_os = "linux")]
        mod over_a_socket_pair {
            use super::super::*;
            use rustls::pki_types::pem::PemObject;
            use std::os::unix::net::UnixStream;

            /// A server session and a client connection over a non-blocking socket pair.
            fn pair() -> (Session, UnixStream, rustls::ClientConnection, UnixStream) {
                let dir = std::env::temp_dir().join(format!(
                    "weblock-socket-{}-{:?}",
                    std::process::id(),
                    std::thread::current().id()
                ));
                std::fs::create_dir_all(&dir).expect("dir");
                let (ca, cert, key) =
                    crate::http::tls::tests::server_pem(&rcgen::PKCS_ECDSA_P256_SHA256);
                std::fs::write(dir.join("c.pem"), cert).expect("write");
                std::fs::write(dir.join("k.pem"), key).expect("write");
                let tls = crate::http::tls::Tls::load(crate::http::tls::TlsFiles {
                    cert: dir.join("c.pem"),
                    key: dir.join("k.pem"),
                    client_ca: None,
                })
                .expect("tls");
                let _ = std::fs::remove_dir_all(&dir);
                let mut roots = rustls::RootCertStore::empty();
                roots
                    .add(
                        rustls::pki_types::CertificateDer::from_pem_slice(ca.as_bytes())
                            .expect("ca"),
                    )
                    .expect("root");
                let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
                let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
                let client = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
                let (a, b) = UnixStream::pair().expect("pair");
                a.set_nonblocking(true).expect("nonblocking");
                b.set_nonblocking(true).expect("nonblocking");
                let session = Acceptor(tls.config()).session().expect("session");
                (session, a, client, b)
            }

            /// Moves the client's records out and the server's in, as far as they go.
            fn client_io(client: &mut rustls::ClientConnection, sock: &mut UnixStream) {
                while client.wants_write() {
                    if client.write_tls(sock).is_err() {
                        break;
                    }
                }
                while let Ok(n) = client.read_tls(sock) {
                    if n == 0 {
                        break;
                    }
                    client.process_new_packets().expect("client");
                }
            }

            #[test]
            fn the_handshake_runs_on_readiness_and_a_request_in_one_record_is_read_whole() {
                let (mut server, mut ss, mut client, mut cs) = pair();
                let mut buf = [0u8; 4096];
                let request = b"GET /status/db HTTP/1.1\r\nHost: x\r\n\r\n";
                for _ in 0..20 {
                    client_io(&mut client, &mut cs);
                    if !client.is_handshaking() {
                        break;
                    }
                    // Nothing for the caller yet: only handshake.
                    let e = server
                        .read(&mut ss, &mut buf)
                        .expect_err("no plaintext yet");
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                }
                assert!(!client.is_handshaking());
                client.writer().write_all(request).expect("write");
                client_io(&mut client, &mut cs);
                let n = server.read(&mut ss, &mut buf).expect("the request");
                assert_eq!(&buf[..n], request);
                let e = server.read(&mut ss, &mut buf).expect_err("nothing more");
                assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                assert!(!server.has_plaintext());

                // An answer goes back; the client reads it.
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                assert_eq!(server.write(&mut ss, answer).expect("write"), answer.len());
                server.flush(&mut ss).expect("flushed");
                client_io(&mut client, &mut cs);
                let mut got = vec![0u8; answer.len()];
                client.reader().read_exact(&mut got).expect("answer");
                assert_eq!(&got, answer);

                // The client's close_notify: a parked connection sees it gone; a read sees the end.
                client.send_close_notify();
                client_io(&mut client, &mut cs);
                assert_eq!(server.pump(&mut ss), Pumped::Gone);
                assert_eq!(server.read(&mut ss, &mut buf).expect("end"), 0);
            }

            #[test]
            fn plain_http_is_refused_before_rustls_sees_it() {
                let (mut server, mut ss, _client, mut cs) = pair();
                cs.write_all(b"POST /grab HTTP/1.1\r\nHost: box:7878\r\n\r\n")
                    .expect("write");
                let mut buf = [0u8; 64];
                let e = server.read(&mut ss, &mut buf).expect_err("refused");
                let refused = crate::http::socket::not_tls(&e).expect("NotTls");
                assert_eq!(refused.host.as_deref(), Some("box:7878"));
            }
        }

        #[test]
        fn the_host_of_a_plain_request_is_taken_only_when_plausible() {
            assert_eq!(
                host_header(b"GET / HTTP/1.1\r\nHost: build-box:7878\r\n\r\n").as_deref(),
                Some("build-box:7878")
            );
            assert_eq!(
                host_header(b"GET / HTTP/1.1\r\nhost: [::1]:9\r\n\r\n").as_deref(),
                Some("[::1]:9")
            );
            assert_eq!(host_header(b"GET / HTTP/1.1\r\nHost: a b<\r\n\r\n"), None);
            assert_eq!(host_header(b"GET / HTTP/1.1\r\n\r\n"), None);
        }
    }
}

#[cfg(not(feature = "tls"))]
mod without_tls {
    use std::io::{self, Read, Write};

    use super::Pumped;

    /// Without the `tls` feature there are no sessions: these types have no values.
    #[derive(Clone)]
    pub enum Acceptor {}

    impl Acceptor {
        pub fn session(&self) -> io::Result<Session> {
            match *self {}
        }
    }

    pub enum Session {}

    impl Session {
        pub fn read<S: Read + Write>(&mut self, _: &mut S, _: &mut [u8]) -> io::Result<usize> {
            match *self {}
        }
        pub fn write<S: Read + Write>(&mut self, _: &mut S, _: &[u8]) -> io::Result<usize> {
            match *self {}
        }
        pub fn flush<S: Read + Write>(&mut self, _: &mut S) -> io::Result<()> {
            match *self {}
        }
        pub fn wants_write(&self) -> bool {
            match *self {}
        }
        pub fn has_plaintext(&mut self) -> bool {
            match *self {}
        }
        pub fn pump<S: Read + Write>(&mut self, _: &mut S) -> Pumped {
            match *self {}
        }
        pub fn close_notify<S: Read + Write>(&mut self, _: &mut S) {
            match *self {}
        }
        pub fn identity(&mut self) -> Option<String> {
            match *self {}
        }
    }
}
