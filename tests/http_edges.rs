//! Black-box tests of the HTTP edges real clients meet, against the real `weblock serve`: an
//! over-limit body answered 413 without a reset while the client still sends it, percent-encoded
//! ids in paths, obs-text (Latin-1) in header values, `Date` on every answer, `Host` required once on
//! HTTP/1.1, absolute-form targets, bare CR line endings, chunked on HTTP/1.0.

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use common::{Conn, Enc, Server, build_request};

/// Sends raw bytes on a fresh connection and reads one answer.
fn raw(server: &Server, bytes: &[u8]) -> common::Response {
    let mut c = server.connect();
    c.send(bytes);
    c.try_read_response()
        .unwrap_or_else(|e| panic!("no answer to {:?}: {e}", String::from_utf8_lossy(bytes)))
}

#[test]
fn an_over_limit_body_gets_its_413_and_no_reset_while_the_client_sends() {
    let server = Server::start();
    // A client that sends its whole 2 MiB body before reading anything, as Python's http.client,
    // Go's net/http and Node's fetch do: every write must succeed, then the 413 is read, then the end.
    let body = vec![b'x'; 2 * 1024 * 1024];
    let head = format!(
        "POST /grab HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut c = server.connect();
    c.send(head.as_bytes());
    c.send(&body[..16 * 1024]);
    // The answer has come while the body is still being sent (a slow sender, or a big body): wait
    // for its first byte to be there, then send the rest.
    c.set_read_timeout(Duration::from_secs(5));
    let mut first = [0u8; 1];
    assert_eq!(
        c.stream.peek(&mut first).ok(),
        Some(1),
        "the 413 comes at once"
    );
    for piece in body[16 * 1024..].chunks(64 * 1024) {
        if let Err(e) = c.stream.write_all(piece) {
            panic!("the body could not be sent (the server reset the connection?): {e}");
        }
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut chunk = [0u8; 4096];
    loop {
        match c.stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!(
                "reading the answer: {e} (after {:?})",
                String::from_utf8_lossy(&got)
            ),
        }
        assert!(Instant::now() < deadline, "the connection never ended");
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert!(text.contains("request body too large"), "{text}");
    // The server goes on serving.
    assert_eq!(server.get("/status?id=after").status, 200);
}

#[test]
fn percent_encoded_ids_are_decoded_in_every_path() {
    let server = Server::start();
    let r = server.post("/grab/shop%3Alive", Enc::Form, &[]);
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["id"], "shop:live", "{r}");
    let status = server.get("/status/shop%3Alive");
    assert_eq!(status.status, 200, "{status}");
    assert_eq!(status.json()["in_use"], true, "the same mutex: {status}");
    let token = r.json()["token"].as_str().unwrap_or_default().to_string();
    let r = server.post("/release/shop%3alive", Enc::Form, &[("token", &token)]);
    assert_eq!(r.status, 200, "lower-case hex too: {r}");

    let r = server.request(
        "POST",
        "/v1/locks/team%3Abuild/requests/",
        &[("Content-Type", "application/json")],
        br#"{"requester_data": {"job": 1}}"#,
    );
    assert_eq!(r.status, 201, "{r}");
    let url = r.json()["url"].as_str().unwrap_or_default().to_string();
    assert!(url.contains("/v1/locks/team:build/requests/"), "{url}");
    let listed = server.get("/v1/locks/team%3Abuild/");
    assert_eq!(listed.status, 200, "{listed}");
    assert_eq!(listed.json()["owner"], url.as_str(), "{listed}");

    // A bad escape is a 400 that says so, in every API.
    for (method, target) in [
        ("POST", "/grab/shop%3"),
        ("GET", "/v1/locks/team%zz/"),
        ("GET", "/api/services/shop%"),
    ] {
        let r = server.request(method, target, &[], b"");
        assert_eq!(r.status, 400, "{method} {target}: {r}");
    }
}

#[test]
fn a_latin1_byte_in_a_header_is_accepted_where_weblock_does_not_read_it() {
    let server = Server::start();
    let r = raw(
        &server,
        b"GET /status?id=db HTTP/1.1\r\nHost: t\r\nUser-Agent: J\xfcrgen's client\r\nX-Note: caf\xe9\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{r}");
    // Where the value is read as text, a clear 400.
    for (name, value) in [
        ("Host", &b"h\xe9"[..]),
        ("Content-Type", b"application/json; x=\xe9"),
    ] {
        let mut bytes = b"POST /grab HTTP/1.1\r\n".to_vec();
        if name != "Host" {
            bytes.extend_from_slice(b"Host: t\r\n");
        }
        bytes.extend_from_slice(format!("{name}: ").as_bytes());
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
        let r = raw(&server, &bytes);
        assert_eq!(r.status, 400, "{name}: {r}");
        let reason = r.json()["reason"].as_str().unwrap_or_default().to_string();
        assert!(reason.contains(name) && reason.contains("obs-text"), "{r}");
    }
}

#[test]
fn every_answer_carries_a_date() {
    let server = Server::start();
    let answers = [
        server.get("/status?id=d"),
        server.get("/nowhere"),
        raw(&server, b"GET /status HTTP/1.1\r\n\r\n"),
        raw(
            &server,
            b"POST /grab HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n",
        ),
    ];
    for r in &answers {
        let date = r.header("date").unwrap_or_else(|| panic!("no Date: {r}"));
        // IMF-fixdate: `Wed, 02 Dec 2026 15:28:38 GMT`.
        assert_eq!(date.len(), 29, "{date}");
        assert!(
            date.ends_with(" GMT") && date.as_bytes()[3] == b',',
            "{date}"
        );
    }
}

#[test]
fn host_is_required_once_on_http_1_1() {
    let server = Server::start();
    let r = raw(&server, b"GET /status?id=h HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 400, "no Host: {r}");
    assert!(r.text().contains("Host"), "{r}");
    let r = raw(
        &server,
        b"GET /status?id=h HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    );
    assert_eq!(r.status, 400, "two Hosts: {r}");
    let r = raw(&server, b"GET /status?id=h HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200, "HTTP/1.0 needs none: {r}");
}

#[test]
fn an_absolute_form_target_is_served_as_its_path() {
    let server = Server::start();
    let target = format!("http://{}/status?id=abs", server.addr());
    let bytes = build_request("GET", &target, "HTTP/1.1", &[], b"");
    let r = raw(&server, &bytes);
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["id"], "abs", "{r}");
    // Its authority stands for Host: a HAL lock's URL is built on it.
    let r = raw(
        &server,
        &build_request(
            "POST",
            "http://locks.example:7878/locks/abs",
            "HTTP/1.1",
            &[("Content-Type", "application/json")],
            br#"{"title": "t"}"#,
        ),
    );
    assert_eq!(r.status, 201, "{r}");
    let location = r.header("location").unwrap_or_default();
    assert!(
        location.starts_with("http://locks.example:7878/locks/abs/"),
        "{r}"
    );
}

#[test]
fn bare_cr_line_endings_are_400_at_once() {
    let server = Server::start();
    let started = Instant::now();
    let mut c = server.connect();
    c.set_read_timeout(Duration::from_secs(5));
    c.send(b"GET /status?id=cr HTTP/1.1\rHost: t\r\r");
    let r = c
        .try_read_response()
        .expect("an answer, not a wait for 408");
    assert_eq!(r.status, 400, "{r}");
    assert!(r.text().contains("CR"), "{r}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered at once, not after the 10 s request timeout"
    );
}

#[test]
fn chunked_on_http_1_0_is_400() {
    let server = Server::start();
    let r = raw(
        &server,
        b"POST /grab HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n5\r\nid=db\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 400, "{r}");
    assert!(r.text().contains("HTTP/1.0"), "{r}");
}

#[test]
fn a_lingering_connection_does_not_hold_the_server() {
    // A client that sends an over-limit body and never stops (nor reads) is cut off within the
    // linger bound, while everyone else is served.
    let server = Server::start();
    let mut c = Conn::open(server.addr());
    c.send(b"POST /grab HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999\r\n\r\n");
    let started = Instant::now();
    let mut sent = 0usize;
    let piece = vec![b'y'; 64 * 1024];
    let ended = loop {
        if c.stream.write_all(&piece).is_err() {
            break true;
        }
        sent += piece.len();
        assert_eq!(server.get("/status?id=other").status, 200);
        if started.elapsed() > Duration::from_secs(20) {
            break false;
        }
    };
    assert!(
        ended,
        "the server never cut off an endless body ({sent} bytes sent)"
    );
    assert!(
        sent <= 16 * 1024 * 1024,
        "it read {sent} bytes of an unwanted body"
    );
}
