//! `serve --tls-cert --tls-key`: the same server over TLS — curl and the CLI, keep-alive, a parked
//! waiter handed the lock, the certificate read again on SIGHUP while old connections go on, plain
//! HTTP on the TLS port answered at once, client certificates as identities, and the errors.
#![cfg(all(feature = "tls", target_os = "linux"))]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::Server;
use crate::common::tls::{
    BIN, Ca, TempDir, TlsConn, client_config, serve_fails, start_tls, wait_until_waiting,
    write_server_cert,
};

/// A CA, a server certificate from it, and a server on it.
fn setup(name: &str, args: &[&str]) -> (TempDir, Ca, Server) {
    let dir = TempDir::new(name);
    let ca = Ca::new("weblock test CA");
    ca.write(&dir.path("ca.pem"));
    write_server_cert(&ca, &dir, "server-1");
    let server = start_tls(&dir, args);
    (dir, ca, server)
}

fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn curl_grabs_and_releases_over_tls() {
    let (dir, _ca, server) = setup("curl", &[]);
    let ca = dir.path("ca.pem");
    let base = format!("https://localhost:{}", server.addr().port());
    let (ok, body) = curl(&[
        "--cacert",
        ca.to_str().expect("path"),
        &format!("{base}/grab"),
        "-d",
        "id=db",
    ]);
    assert!(ok, "{body}");
    let grant: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(grant["status"], "ok", "{body}");
    let token = grant["token"].as_str().expect("token");
    let (ok, body) = curl(&[
        "--cacert",
        ca.to_str().expect("path"),
        &format!("{base}/release"),
        "-d",
        "id=db",
        "-d",
        &format!("token={token}"),
    ]);
    assert!(ok && body.contains("\"ok\""), "{body}");
}

#[test]
fn the_cli_grabs_and_releases_over_tls() {
    let (dir, _ca, server) = setup("cli", &[]);
    let state = TempDir::new("cli-state");
    let weblock = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .args(["--server", &server.url(""), "--ca-file"])
            .arg(dir.path("ca.pem"))
            .env("XDG_STATE_HOME", &state.0)
            .env_remove("WEBLOCK_URL")
            .env_remove("WEBLOCK_CA_FILE")
            .output()
            .expect("weblock")
    };
    let out = weblock(&["grab", "db"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = weblock(&["status", "db"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = weblock(&["release", "db"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn keep_alive_and_a_parked_waiter_handed_the_lock() {
    let (_dir, ca, server) = setup("handover", &[]);
    let config = client_config(&ca.pem, None);
    let mut holder = TlsConn::open(server.addr(), config.clone()).expect("connect");
    let grant = holder.call("POST", "/grab", "id=db").expect("grab").json();
    let token = grant["token"].as_str().expect("token").to_string();
    // Several requests on one connection.
    for _ in 0..5 {
        let status = holder.call("GET", "/status/db", "").expect("status");
        assert_eq!(status.status, 200, "{status:?}");
    }
    let mut waiter = TlsConn::open(server.addr(), config).expect("connect");
    waiter.send("POST", "/grab", "id=db&wait=20").expect("send");
    // The waiter is parked once the server says so.
    wait_until_waiting(&mut holder, "db");
    let released = holder
        .call("POST", "/release", &format!("id=db&token={token}"))
        .expect("release");
    assert_eq!(released.status, 200, "{released:?}");
    let granted = waiter.receive().expect("the waiter's answer").json();
    assert_eq!(granted["status"], "ok", "{granted}");
    // The waiter's connection goes on.
    assert_eq!(
        waiter.call("GET", "/status/db", "").expect("status").status,
        200
    );
}

#[test]
fn sighup_puts_a_new_certificate_in_force_and_open_connections_go_on() {
    let (dir, ca, server) = setup("reload", &[]);
    let config = client_config(&ca.pem, None);
    let mut old = TlsConn::open(server.addr(), config.clone()).expect("connect");
    let first = old.server_cert();
    let second = write_server_cert(&ca, &dir, "server-2");
    assert_ne!(first, second);
    server.hangup();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let conn = TlsConn::open(server.addr(), config.clone()).expect("connect");
        if conn.server_cert() == second {
            break;
        }
        assert_eq!(conn.server_cert(), first);
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not bring in the new certificate"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        old.call("GET", "/status/db", "")
            .expect("old connection")
            .status,
        200
    );

    // A bad file on the next SIGHUP: the new certificate stays, and one line says so.
    std::fs::write(dir.path("key.pem"), "not a key").expect("write");
    server.hangup();
    server.wait_for_stderr_line("the line about the failed reload", |l| {
        l.contains("kept as it was") && l.contains("key.pem")
    });
    let conn = TlsConn::open(server.addr(), config).expect("connect");
    assert_eq!(conn.server_cert(), second);
}

#[test]
fn plain_http_on_the_tls_port_is_answered_at_once_and_tls_goes_on() {
    let (_dir, ca, server) = setup("plain", &[]);
    let started = Instant::now();
    let mut raw = TcpStream::connect(server.addr()).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    raw.write_all(b"GET /status/db HTTP/1.1\r\nHost: build-box:7878\r\n\r\n")
        .expect("send");
    let mut answer = String::new();
    raw.read_to_string(&mut answer)
        .expect("an answer, then the end");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(
        answer.contains(r#""reason":"this port speaks TLS: use https://build-box:7878""#),
        "{answer}"
    );

    let (_, body) = curl(&[&format!("http://{}/status/db", server.addr())]);
    assert!(body.contains("this port speaks TLS"), "{body}");

    let mut conn = TlsConn::open(server.addr(), client_config(&ca.pem, None)).expect("connect");
    assert_eq!(
        conn.call("GET", "/status/db", "").expect("status").status,
        200
    );
}

#[test]
fn a_client_certificate_is_required_and_its_cn_is_the_identity() {
    let dir = TempDir::new("mtls");
    let ca = Ca::new("weblock test CA");
    ca.write(&dir.path("ca.pem"));
    write_server_cert(&ca, &dir, "server");
    std::fs::write(
        dir.path("auth"),
        "team1:s3cret-team1 lock:team1-*\nadmin:s3cret-admin admin\n",
    )
    .expect("auth file");
    let ca_path = dir.path("ca.pem");
    let auth = dir.path("auth");
    let server = start_tls(
        &dir,
        &[
            "--tls-client-ca",
            ca_path.to_str().expect("path"),
            "--auth-file",
            auth.to_str().expect("path"),
        ],
    );
    let (cert, key) = ca.issue("team1", false);
    let mut team1 =
        TlsConn::open(server.addr(), client_config(&ca.pem, Some((&cert, &key)))).expect("connect");
    let own = team1.call("POST", "/grab", "id=team1-db").expect("grab");
    assert_eq!(own.status, 200, "{own:?}");
    let other = team1.call("POST", "/grab", "id=team2-db").expect("grab");
    assert_eq!(other.status, 403, "{other:?}");

    // A certificate of a name the file has not: the secret is still needed.
    let (cert, key) = ca.issue("stranger", false);
    let mut stranger =
        TlsConn::open(server.addr(), client_config(&ca.pem, Some((&cert, &key)))).expect("connect");
    assert_eq!(
        stranger
            .call("POST", "/grab", "id=team1-x")
            .expect("grab")
            .status,
        401
    );

    // No certificate: no session (the handshake fails, or its first read does).
    let refused = TlsConn::open(server.addr(), client_config(&ca.pem, None))
        .and_then(|mut c| c.call("GET", "/status/db", ""));
    assert!(refused.is_err(), "{refused:?}");
    // A certificate from another CA: the same.
    let other_ca = Ca::new("another CA");
    let (cert, key) = other_ca.issue("team1", false);
    let refused = TlsConn::open(server.addr(), client_config(&ca.pem, Some((&cert, &key))))
        .and_then(|mut c| c.call("GET", "/status/db", ""));
    assert!(refused.is_err(), "{refused:?}");
}

#[test]
fn the_cli_says_an_untrusted_certificate_in_one_line_and_exits_4() {
    let (_dir, _ca, server) = setup("untrusted", &[]);
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["status", "--server", &server.url("")])
        .env_remove("WEBLOCK_CA_FILE")
        .output()
        .expect("weblock");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not trusted"), "{stderr}");
    // Not retried for the five seconds an unreachable server gets.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn bad_files_stop_the_server_from_starting_and_name_the_file() {
    let dir = TempDir::new("bad");
    let ca = Ca::new("weblock test CA");
    write_server_cert(&ca, &dir, "server");
    let cert = dir.path("cert.pem");
    let key = dir.path("key.pem");
    let missing = dir.path("missing.pem");
    let (_, other_key) = ca.issue("other", true);
    let other_key_path = dir.path("other-key.pem");
    std::fs::write(&other_key_path, other_key).expect("write");
    let not_pem = dir.path("not.pem");
    std::fs::write(&not_pem, "hello\n").expect("write");

    let cases: [(&[&std::path::Path], &str, &str); 4] = [
        (&[&missing, &key], "missing.pem", "cannot read"),
        (&[&cert, &other_key_path], "other-key.pem", "does not match"),
        (&[&not_pem, &key], "not.pem", "no certificate"),
        (&[&cert, &not_pem], "not.pem", "no private key"),
    ];
    for (files, name, what) in cases {
        let args = [
            "--tls-cert".as_ref(),
            files[0].as_os_str(),
            "--tls-key".as_ref(),
            files[1].as_os_str(),
        ];
        let (code, stderr) = serve_fails(&args);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(name) && stderr.contains(what), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let (code, stderr) = serve_fails(&["--tls-cert".as_ref(), cert.as_os_str()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
}

#[test]
fn an_answer_larger_than_the_session_buffer_reaches_a_slow_reader_whole() {
    // A status of every lock, some megabytes: more than the TLS session buffers (64 KiB) and the
    // socket take at once, so the server writes it in turns as the client reads. A turn that finds
    // the session still full, then empties it into the socket, took nothing of the answer: that is
    // room to go on, not a failed write.
    let (_dir, ca, server) = setup("large-answer", &[]);
    let config = client_config(&ca.pem, None);
    let mut conn = TlsConn::open(server.addr(), config.clone()).expect("connect");
    let holder = "h".repeat(250);
    let locks = 6000;
    for i in 0..locks {
        let grab = conn
            .call("POST", "/grab", &format!("id=large-{i}&holder={holder}"))
            .expect("grab");
        assert_eq!(grab.status, 200, "{grab:?}");
    }
    let mut reader = TlsConn::open(server.addr(), config).expect("connect");
    reader.send("GET", "/status", "").expect("send");
    let status = reader.receive().expect("the whole answer");
    assert_eq!(status.status, 200, "{}", status.head);
    let listed = status.json()["locks"].as_array().map_or(0, Vec::len);
    assert_eq!(listed, locks, "every lock in the answer");
    assert!(status.body.len() > 2_000_000, "{} bytes", status.body.len());
}
