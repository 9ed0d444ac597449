//! TLS fixtures: a CA and the certificates it signs (rcgen, made afresh per test), a `weblock serve`
//! on a TLS port, and a small HTTPS client over rustls with byte-level control.
#![cfg(all(feature = "tls", target_os = "linux"))]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Server;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};

pub const BIN: &str = env!("CARGO_BIN_EXE_weblock");

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "weblock-tls-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test CA.
pub struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pub pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA");
        Ca {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A certificate with subject CN `cn` (and, for a server, the names localhost and 127.0.0.1):
    /// (certificate PEM, key PEM).
    pub fn issue(&self, cn: &str, server: bool) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let names = if server {
            vec!["localhost".to_string(), "127.0.0.1".to_string()]
        } else {
            Vec::new()
        };
        let mut params = rcgen::CertificateParams::new(names).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer).expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.pem).expect("write CA");
    }
}

/// Writes a server certificate and key for `cn` into `dir` as cert.pem and key.pem; returns the
/// certificate's DER (to tell which certificate a connection got).
pub fn write_server_cert(ca: &Ca, dir: &TempDir, cn: &str) -> Vec<u8> {
    let (cert, key) = ca.issue(cn, true);
    // Written beside, then renamed: the server never reads half a file.
    std::fs::write(dir.path("cert.tmp"), &cert).expect("write");
    std::fs::write(dir.path("key.tmp"), &key).expect("write");
    std::fs::rename(dir.path("cert.tmp"), dir.path("cert.pem")).expect("rename");
    std::fs::rename(dir.path("key.tmp"), dir.path("key.pem")).expect("rename");
    CertificateDer::from_pem_slice(cert.as_bytes())
        .expect("der")
        .to_vec()
}

/// `weblock serve --listen 127.0.0.1:0 --tls-cert DIR/cert.pem --tls-key DIR/key.pem ARGS…`: the
/// common fixture, over TLS (its `url` says `https://`).
pub fn start_tls(dir: &TempDir, args: &[&str]) -> Server {
    let cert = dir.path("cert.pem");
    let key = dir.path("key.pem");
    let (cert, key) = (cert.to_str().expect("UTF-8"), key.to_str().expect("UTF-8"));
    Server::builder()
        .args(&["--tls-cert", cert, "--tls-key", key])
        .args(args)
        .start()
}

/// Runs `weblock serve` with `args` expecting it not to start: (exit code, stderr).
pub fn serve_fails(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "the server started: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A client configuration trusting `ca_pem`, with a client certificate if given.
pub fn client_config(ca_pem: &str, client: Option<(&str, &str)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert")],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
            )
            .expect("client cert"),
    };
    // Every connection a full handshake: a resumed session reports the certificate of the one it
    // resumes, not the one in force now.
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// One HTTPS keep-alive connection.
/// Asks over `holder` until lock `id` has one waiter (a waiter sent on another connection is parked),
/// for at most 5 s.
pub fn wait_until_waiting(holder: &mut TlsConn, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = holder
            .call("GET", &format!("/status/{id}"), "")
            .expect("status")
            .json();
        if status["waiting"] == 1 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the waiter never queued: {status}"
        );
    }
}

pub struct TlsConn {
    pub tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    buf: Vec<u8>,
}

/// An answer: status, head (lower-cased), body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl TlsConn {
    pub fn open(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> std::io::Result<TlsConn> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(15)))?;
        let name = ServerName::try_from("localhost").expect("name");
        let conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        // The handshake now, so that a refused one fails here.
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(TlsConn {
            tls,
            buf: Vec::new(),
        })
    }

    /// The DER of the certificate the server presented.
    pub fn server_cert(&self) -> Vec<u8> {
        self.tls
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .expect("a server certificate")
            .to_vec()
    }

    pub fn send(&mut self, method: &str, path: &str, form: &str) -> std::io::Result<()> {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        );
        self.tls.write_all(req.as_bytes())?;
        self.tls.flush()
    }

    pub fn call(&mut self, method: &str, path: &str, form: &str) -> std::io::Result<Answer> {
        self.send(method, path, form)?;
        self.receive()
    }

    pub fn receive(&mut self) -> std::io::Result<Answer> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + len {
                    let body =
                        String::from_utf8_lossy(&self.buf[end + 4..end + 4 + len]).to_string();
                    self.buf.drain(..end + 4 + len);
                    let status = head
                        .split_whitespace()
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    return Ok(Answer { status, head, body });
                }
            }
            let mut chunk = [0u8; 8192];
            let n = self.tls.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
