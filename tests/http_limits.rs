//! Black-box tests of weblock's HTTP layer and its limits (docs/api.md, "Common to every API"):
//! HTTP/1.1 and 1.0, keep-alive, pipelining, chunked request bodies, `Expect: 100-continue`, HEAD, and
//! each limit answered with its status and a JSON reason while the server carries on.

use crate::common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// The server still answers a fresh client, and its process is still running.
fn assert_server_lives(server: &mut Server, after: &str) {
    assert!(server.is_running(), "the server process died after {after}");
    let r = server.get("/status?id=alive");
    assert_eq!(
        r.status, 200,
        "after {after}, a fresh client is still served: {r}"
    );
    assert_eq!(r.json()["status"], "ok", "{r}");
}

/// Sends `bytes` from a second thread while this one reads the answer, so an answer the server gives
/// early (and a close) is seen even though the whole request could not be written.
fn send_while_reading(conn: &mut Conn, bytes: Vec<u8>) -> Response {
    let mut writer = conn.stream.try_clone().expect("clone stream");
    let done = thread::spawn(move || {
        for piece in bytes.chunks(16 * 1024) {
            if writer.write_all(piece).is_err() {
                break; // the server answered and closed: expected
            }
        }
    });
    let r = conn
        .try_read_response()
        .unwrap_or_else(|e| panic!("no answer to the oversized request: {e}"));
    let _ = done.join();
    r
}

// ---------------------------------------------------------------------------------------------------
// Connections and framing
// ---------------------------------------------------------------------------------------------------

#[test]
fn http_1_1_keep_alive_serves_several_requests_on_one_connection() {
    let server = Server::start();
    let mut c = server.connect();
    let r = c.post("/grab", Enc::Json, &[("id", "ka")]);
    assert_eq!(r.status, 200, "{r}");
    assert!(!r.says_close(), "HTTP/1.1 keeps the connection open: {r}");
    let token = r.json()["token"].as_str().expect("token").to_string();

    let r = c.get("/status?id=ka");
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["in_use"], true, "{r}");

    let r = c.post("/release", Enc::Form, &[("id", "ka"), ("token", &token)]);
    assert_eq!(r.status, 200, "{r}");

    let r = c.post("/status", Enc::Multipart, &[("id", "ka")]);
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["in_use"], false, "{r}");

    // A refusal does not end the connection either.
    let r = c.get("/nope");
    assert_eq!(r.status, 404, "{r}");
    let r = c.get("/status?id=ka");
    assert_eq!(r.status, 200, "{r}");
}

#[test]
fn http_1_0_request_is_answered_and_the_connection_closed() {
    let server = Server::start();
    let mut c = server.connect();
    c.send(&build_request(
        "GET",
        "/status?id=old",
        "HTTP/1.0",
        &[],
        b"",
    ));
    let r = c.read_response();
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["in_use"], false, "{r}");
    assert!(
        c.closed_by_peer_within(Duration::from_secs(3)),
        "HTTP/1.0 without keep-alive is closed after the answer"
    );

    let mut c = server.connect();
    let (ct, body) = Enc::Form.encode(&[("id", "old"), ("holder", "one-point-oh")]);
    c.send(&build_request(
        "POST",
        "/grab",
        "HTTP/1.0",
        &[("Content-Type", ct.as_str())],
        &body,
    ));
    let r = c.read_response();
    assert_eq!(r.status, 200, "an HTTP/1.0 POST with Content-Length: {r}");
    assert_eq!(server.status("old")["holder"], "one-point-oh");
}

#[test]
fn http_1_0_with_connection_keep_alive_keeps_the_connection() {
    let server = Server::start();
    let mut c = server.connect();
    for i in 0..3 {
        c.send(&build_request(
            "GET",
            "/status?id=ten",
            "HTTP/1.0",
            &[("Connection", "keep-alive")],
            b"",
        ));
        let r = c.read_response();
        assert_eq!(
            r.status, 200,
            "request {i} on one HTTP/1.0 keep-alive connection: {r}"
        );
        assert!(!r.says_close(), "{r}");
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = Server::start();
    let mut c = server.connect();
    let (ct, grab) = Enc::Form.encode(&[("id", "pipe"), ("holder", "piper")]);
    let mut bytes = build_request(
        "POST",
        "/grab",
        "HTTP/1.1",
        &[("Content-Type", ct.as_str())],
        &grab,
    );
    bytes.extend(build_request(
        "POST",
        "/grab",
        "HTTP/1.1",
        &[("Content-Type", ct.as_str())],
        &grab,
    ));
    bytes.extend(build_request(
        "HEAD",
        "/status?id=pipe",
        "HTTP/1.1",
        &[],
        b"",
    ));
    bytes.extend(build_request(
        "GET",
        "/status?id=pipe",
        "HTTP/1.1",
        &[],
        b"",
    ));
    bytes.extend(build_request("GET", "/nope", "HTTP/1.1", &[], b""));
    c.send(&bytes);

    let r = c.read_response();
    assert_eq!(r.status, 200, "1st: the grab: {r}");
    assert_eq!(r.json()["status"], "ok", "{r}");
    let r = c.read_response();
    assert_eq!(r.status, 409, "2nd: the same grab, now held: {r}");
    let r = c.read_response_to("HEAD");
    assert_eq!(r.status, 200, "3rd: HEAD /status: {r}");
    let r = c.read_response();
    assert_eq!(r.status, 200, "4th: GET /status: {r}");
    assert_eq!(r.json()["holder"], "piper", "{r}");
    let r = c.read_response();
    assert_eq!(r.status, 404, "5th: unknown path: {r}");
}

#[test]
fn a_request_arriving_byte_by_byte_is_served() {
    let server = Server::start();
    let mut c = server.connect();
    let (ct, body) = Enc::Json.encode(&[("id", "drip"), ("holder", "dripper")]);
    let bytes = build_request(
        "POST",
        "/grab",
        "HTTP/1.1",
        &[("Content-Type", ct.as_str())],
        &body,
    );
    for b in &bytes {
        c.send(std::slice::from_ref(b));
    }
    let r = c.read_response();
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["holder"], "dripper", "{r}");
}

#[test]
fn chunked_request_bodies_are_read() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("chunked-{}", enc.name());
        let (ct, body) = enc.encode(&[("id", &id), ("holder", "chunky")]);
        let mut c = server.connect();
        let r = c.request(
            "POST",
            "/grab",
            &[
                ("Content-Type", ct.as_str()),
                ("Transfer-Encoding", "chunked"),
            ],
            &chunked(&body, 7),
        );
        assert_eq!(r.status, 200, "{enc:?} in 7-byte chunks: {r}");
        let g = r.json();
        assert_eq!(g["id"], id.as_str(), "{g}");
        assert_eq!(g["holder"], "chunky", "{g}");
        // The connection is still usable: the chunked body was consumed exactly.
        let r = c.get(&format!("/status?id={id}"));
        assert_eq!(r.status, 200, "{r}");
        assert_eq!(r.json()["in_use"], true, "{r}");
    }
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("expect-{}", enc.name());
        let (ct, body) = enc.encode(&[("id", &id), ("holder", "patient")]);
        let mut c = server.connect();
        let len = body.len().to_string();
        let head = build_request(
            "POST",
            "/grab",
            "HTTP/1.1",
            &[
                ("Content-Type", ct.as_str()),
                ("Content-Length", len.as_str()),
                ("Expect", "100-continue"),
            ],
            b"",
        );
        c.send(&head);
        let interim = c
            .try_read_any_response("POST")
            .unwrap_or_else(|e| panic!("{enc:?}: no 100 Continue before the body: {e}"));
        assert_eq!(interim.status, 100, "{enc:?}: {interim}");
        c.send(&body);
        let r = c.read_response();
        assert_eq!(r.status, 200, "{enc:?}: {r}");
        assert_eq!(r.json()["id"], id.as_str(), "{r}");
    }
}

#[test]
fn head_answers_like_get_without_a_body() {
    let server = Server::start();
    server.grab_ok(Enc::Form, &[("id", "heady")]);
    let mut c = server.connect();
    for target in [
        "/status?id=heady",
        "/status/heady",
        "/status/heady/",
        "/status",
        "/status?id=never",
    ] {
        let get = c.get(target);
        let head = c.request("HEAD", target, &[], b"");
        assert_eq!(
            head.status, get.status,
            "HEAD {target}: {head} / GET: {get}"
        );
        assert_eq!(head.status, 200, "{head}");
        assert!(head.body.is_empty(), "{head}");
    }
    let head = c.request("HEAD", "/nope", &[], b"");
    assert_eq!(head.status, 404, "{head}");
    // No stray body bytes were left behind by any HEAD answer: the connection is still in step.
    let r = c.get("/status?id=heady");
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["in_use"], true, "{r}");
    assert!(
        c.unread().is_empty(),
        "bytes after the last answer: {:?}",
        String::from_utf8_lossy(c.unread())
    );
}

// ---------------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------------

#[test]
fn declared_content_length_of_a_terabyte_is_413_and_the_server_lives() {
    let mut server = Server::start();
    let mut c = server.connect();
    c.send(b"POST /grab HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{\"id\":");
    let r = c.read_response();
    assert_eq!(
        r.status, 413,
        "decided from Content-Length, before reading the body: {r}"
    );
    r.assert_fail_json();
    assert_server_lives(&mut server, "a terabyte Content-Length");
    assert_eq!(server.status("alive")["in_use"], false);
}

#[test]
fn declared_content_length_just_over_1_mib_is_413() {
    let mut server = Server::start();
    let mut c = server.connect();
    let len = ((1 << 20) + 1).to_string();
    c.send(&build_request(
        "POST",
        "/grab",
        "HTTP/1.1",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", len.as_str()),
        ],
        b"id=x",
    ));
    let r = c.read_response();
    assert_eq!(r.status, 413, "{r}");
    r.assert_fail_json();
    assert_server_lives(&mut server, "a body declared over 1 MiB");
}

#[test]
fn expect_100_continue_with_a_body_over_the_limit_is_refused_before_it_is_sent() {
    let mut server = Server::start();
    let mut c = server.connect();
    c.send(&build_request(
        "POST",
        "/grab",
        "HTTP/1.1",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", "2097152"),
            ("Expect", "100-continue"),
        ],
        b"",
    ));
    let r = c
        .try_read_any_response("POST")
        .unwrap_or_else(|e| panic!("no answer to the head: {e}"));
    assert_eq!(
        r.status, 413,
        "the refusal comes instead of 100 Continue: {r}"
    );
    r.assert_fail_json();
    assert_server_lives(&mut server, "an oversized Expect: 100-continue request");
}

#[test]
fn chunked_body_over_1_mib_is_413() {
    let mut server = Server::start();
    let mut c = server.connect();
    let mut body = b"id=big&holder=".to_vec();
    body.resize(2 << 20, b'a');
    let mut bytes = build_request(
        "POST",
        "/grab",
        "HTTP/1.1",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Transfer-Encoding", "chunked"),
        ],
        b"",
    );
    bytes.extend(chunked(&body, 64 * 1024));
    let r = send_while_reading(&mut c, bytes);
    assert_eq!(r.status, 413, "{r}");
    r.assert_fail_json();
    assert_server_lives(&mut server, "a 2 MiB chunked body");
    assert_eq!(server.status("big")["in_use"], false);
}

#[test]
fn header_line_of_64_kib_is_431_and_the_server_lives() {
    let mut server = Server::start();
    let mut c = server.connect();
    let mut bytes = b"GET /status?id=x HTTP/1.1\r\nHost: t\r\nX-Huge: ".to_vec();
    bytes.extend(std::iter::repeat_n(b'a', 64 * 1024));
    bytes.extend(b"\r\n\r\n");
    let r = send_while_reading(&mut c, bytes);
    assert_eq!(r.status, 431, "{r}");
    r.assert_fail_json();
    assert_server_lives(&mut server, "a 64 KiB header line");
}

#[test]
fn an_over_long_request_target_is_414() {
    let mut server = Server::start();
    // Over the 8 KiB bound, and over the 16 KiB head: the target is what is too long (RFC 9110
    // §15.5.15), whether the line has ended or not.
    for pad in [9 * 1024, 20 * 1024] {
        let mut c = server.connect();
        let target = format!("/status?id=x&pad={}", "p".repeat(pad));
        let bytes = build_request("GET", &target, "HTTP/1.1", &[], b"");
        let r = send_while_reading(&mut c, bytes);
        assert_eq!(r.status, 414, "a {pad}-byte target: {r}");
        r.assert_fail_json();
    }
    // Under it, the request is served.
    let target = format!("/status?id=x&pad={}", "p".repeat(7 * 1024));
    assert_eq!(server.get(&target).status, 200);
    assert_server_lives(&mut server, "a 20 KiB request line");
}

#[test]
fn more_than_100_headers_is_431_and_fewer_are_served() {
    let mut server = Server::start();
    let names: Vec<String> = (0..150).map(|i| format!("X-Extra-{i}")).collect();

    let few: Vec<(&str, &str)> = names[..50].iter().map(|n| (n.as_str(), "v")).collect();
    let r = server.request("GET", "/status?id=x", &few, b"");
    assert_eq!(r.status, 200, "50 headers are within the limit: {r}");

    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let mut c = server.connect();
    let r = send_while_reading(
        &mut c,
        build_request("GET", "/status?id=x", "HTTP/1.1", &many, b""),
    );
    assert_eq!(r.status, 431, "150 headers: {r}");
    r.assert_fail_json();
    assert_server_lives(&mut server, "150 headers");
}

#[test]
fn transfer_encoding_other_than_chunked_is_501() {
    let mut server = Server::start();
    let mut c = server.connect();
    c.send(b"POST /grab HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 501, "{r}");
    r.assert_fail_json();
    assert_server_lives(&mut server, "Transfer-Encoding: gzip");
}

#[test]
fn transfer_encoding_together_with_content_length_is_400() {
    let mut server = Server::start();
    let mut c = server.connect();
    let body = chunked(b"id=smuggled", 64);
    let len = body.len().to_string();
    c.send(&build_request(
        "POST",
        "/grab",
        "HTTP/1.1",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", len.as_str()),
            ("Transfer-Encoding", "chunked"),
        ],
        &body,
    ));
    let r = c.read_response();
    assert_eq!(r.status, 400, "a request-smuggling shape: {r}");
    r.assert_fail_json();
    assert_eq!(server.status("smuggled")["in_use"], false);
    assert_server_lives(&mut server, "Transfer-Encoding with Content-Length");
}

#[test]
fn a_request_not_complete_within_the_request_timeout_gets_408_and_is_closed() {
    // The default is 10 s; `serve --request-timeout` shortens it so the test is quick.
    let mut server = Server::builder().args(&["--request-timeout", "1s"]).start();
    let mut c = server.connect();
    c.send(b"POST /grab HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"id\":");
    let r = c.read_response();
    assert_eq!(r.status, 408, "{r}");
    r.assert_fail_json();
    assert!(
        c.closed_by_peer_within(Duration::from_secs(3)),
        "a 408 closes the connection"
    );
    assert_eq!(server.status("x")["in_use"], false);
    assert_server_lives(&mut server, "a slow request");
}

#[test]
fn a_request_trickling_in_is_cut_off_at_the_request_timeout_counted_from_its_first_byte() {
    let mut server = Server::builder().args(&["--request-timeout", "1s"]).start();
    let mut c = server.connect();
    // A byte every 50 ms keeps the connection busy but never finishes the head; bounded at 5 s.
    let mut writer = c.stream.try_clone().expect("clone stream");
    let trickle = thread::spawn(move || {
        let head = b"GET /status?id=slow HTTP/1.1\r\nHost: t\r\nX-Slow: ";
        for i in 0..100usize {
            let byte = head.get(i).copied().unwrap_or(b'a');
            if writer.write_all(&[byte]).is_err() {
                break; // cut off: expected
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
    let r = c.read_response();
    assert_eq!(r.status, 408, "{r}");
    r.assert_fail_json();
    assert!(
        c.closed_by_peer_within(Duration::from_secs(3)),
        "a 408 closes the connection"
    );
    let _ = trickle.join();
    assert_server_lives(&mut server, "a trickling request");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    // The default is 60 s; `serve --idle-timeout` shortens it so the test is quick.
    let server = Server::builder().args(&["--idle-timeout", "500ms"]).start();
    let mut c = server.connect();
    let r = c.get("/status?id=idle");
    assert_eq!(r.status, 200, "{r}");
    assert!(
        c.closed_by_peer_within(Duration::from_secs(5)),
        "an idle keep-alive connection is closed after the idle timeout"
    );
    let r = server.get("/status?id=idle");
    assert_eq!(r.status, 200, "{r}");
}

#[test]
fn two_hundred_fifty_silent_or_trickling_connections_do_not_delay_another_client() {
    let mut server = Server::start();
    let addr = server.addr();
    let mut silent = Vec::new();
    let mut tricklers = Vec::new();
    for i in 0..250 {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connection {i} of 250: {e}"));
        if i % 2 == 0 {
            silent.push(s)
        } else {
            tricklers.push(s)
        }
    }

    // One thread sends the tricklers' request heads one byte per connection per round, never finishing
    // them. Bounded: 300 rounds of 20 ms, well inside the 10 s request deadline.
    let stop = Arc::new(AtomicBool::new(false));
    let (rounds_tx, rounds_rx) = mpsc::channel::<usize>();
    let trickle = {
        let stop = stop.clone();
        thread::spawn(move || {
            let head = b"POST /grab HTTP/1.1\r\nHost: slow\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Trickle: ";
            for round in 0..300usize {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let byte = head.get(round).copied().unwrap_or(b'a');
                for s in &mut tricklers {
                    let _ = s.write_all(&[byte]);
                }
                let _ = rounds_tx.send(round);
                thread::sleep(Duration::from_millis(20));
            }
            tricklers
        })
    };
    // Wait until every trickler has sent a few bytes.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rounds_rx.recv_timeout(left) {
            Ok(round) if round >= 5 => break,
            Ok(_) => continue,
            Err(e) => panic!("the trickling thread stalled: {e}"),
        }
    }

    // The one measured request: connect, grab, answer.
    let started = Instant::now();
    let mut c = Conn::open(addr);
    let r = c.post(
        "/grab",
        Enc::Form,
        &[("id", "fresh"), ("holder", "fresh client")],
    );
    let took = started.elapsed();

    stop.store(true, Ordering::Relaxed);
    let tricklers = trickle.join().expect("trickling thread");
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["holder"], "fresh client", "{r}");
    assert!(
        took < Duration::from_secs(1),
        "with 125 silent and 125 trickling connections open, a fresh client waited {took:?}"
    );
    drop(silent);
    drop(tricklers);
    assert_server_lives(&mut server, "250 slow connections");
}

#[test]
fn at_the_connection_limit_the_oldest_idle_connection_is_closed_to_make_room() {
    let server = Server::builder().args(&["--max-connections", "4"]).start();
    // Four keep-alive connections, each idle after one request; the first has been idle longest.
    let mut idle: Vec<Conn> = Vec::new();
    for i in 0..4 {
        let mut c = server.connect();
        let r = c.get("/status?id=idle");
        assert_eq!(r.status, 200, "connection {i}: {r}");
        idle.push(c);
    }
    // More traffic on the three newer ones, so the first is clearly the one idle longest (the server
    // stamps a connection idle only after it wrote the answer the client has already read).
    for round in 0..10 {
        for (i, c) in idle.iter_mut().enumerate().skip(1) {
            let r = c.get("/status?id=idle");
            assert_eq!(r.status, 200, "round {round}, connection {i}: {r}");
        }
    }

    // A fifth connection is served by closing an idle one. (A connection whose answer has just
    // arrived may not count as idle on the server for an instant, so a 503 is retried, briefly.)
    let deadline = Instant::now() + CONDITION_DEADLINE;
    let mut fifth = loop {
        let mut c = server.connect();
        c.send_request("GET", "/status?id=idle", &[], b"");
        let r = c.read_response();
        if r.status == 200 {
            break c;
        }
        assert_eq!(r.status, 503, "{r}");
        assert!(
            Instant::now() < deadline,
            "with four idle connections open, a fifth is still refused: {r}"
        );
        thread::sleep(Duration::from_millis(10));
    };

    // Exactly one idle connection is closed, and it is the oldest.
    let deadline = Instant::now() + CONDITION_DEADLINE;
    let closed: Vec<usize> = loop {
        let closed: Vec<usize> = (0..idle.len())
            .filter(|&i| idle[i].closed_by_peer_within(Duration::from_millis(20)))
            .collect();
        if !closed.is_empty() || Instant::now() >= deadline {
            break closed;
        }
    };
    assert_eq!(
        closed,
        [0],
        "the oldest idle connection (0) is the one closed to make room"
    );
    for (i, c) in idle.iter_mut().enumerate().skip(1) {
        let r = c.get("/status?id=idle");
        assert_eq!(r.status, 200, "idle connection {i} stays open: {r}");
    }
    let r = fifth.get("/status?id=idle");
    assert_eq!(r.status, 200, "{r}");
}

#[test]
fn at_the_connection_limit_with_none_idle_a_new_connection_gets_503() {
    let server = Server::builder().args(&["--max-connections", "4"]).start();
    let id = "crowded";
    // One keep-alive connection does all the looking, so no short-lived connection lingers on the
    // server's count: it grabs the mutex, then polls /status while three waiters join.
    let mut observer = server.connect();
    let r = observer.post("/grab", Enc::Form, &[("id", id)]);
    assert_eq!(r.status, 200, "{r}");
    let poll_waiting = |observer: &mut Conn, n: u64, what: &str| {
        let deadline = Instant::now() + CONDITION_DEADLINE;
        loop {
            let r = observer.get(&format!("/status?id={id}"));
            assert_eq!(r.status, 200, "{r}");
            if r.json()["waiting"].as_u64() == Some(n) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: waiting never became {n}: {r}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    };
    let mut waiters = Vec::new();
    for i in 0..3 {
        let holder = format!("w{i}");
        waiters.push(spawn_grab(
            server.addr(),
            Enc::Form,
            &[("id", id), ("wait", "20"), ("holder", &holder)],
            Duration::from_secs(25),
        ));
        poll_waiting(&mut observer, i + 1, "a waiter joins the queue");
    }

    // The observer becomes the fourth busy connection: a waiter too. That cannot be confirmed without a
    // fifth connection, which is what this test is about, so: probe. A probe that comes before the
    // server read the observer's request finds the observer idle, closes it to make room, and is
    // served; it then takes the observer's place and the probing goes on.
    let grab_wait = |c: &mut Conn| {
        let (ct, body) = Enc::Form.encode(&[("id", id), ("wait", "20"), ("holder", "w3")]);
        c.send_request("POST", "/grab", &[("Content-Type", ct.as_str())], &body);
    };
    grab_wait(&mut observer);
    let deadline = Instant::now() + CONDITION_DEADLINE;
    loop {
        let mut probe = server.connect();
        probe.send_request("GET", &format!("/status?id={id}"), &[], b"");
        let r = probe.read_response();
        match r.status {
            503 => {
                r.assert_fail_json();
                break;
            }
            200 => {
                assert!(
                    observer.closed_by_peer_within(Duration::from_secs(1)),
                    "a fifth connection was served while four were open and none was closed: {r}"
                );
                assert!(
                    Instant::now() < deadline,
                    "the fourth waiter was never read before the probe: {r}"
                );
                // The closed observer is no waiter (had its request just been read, it leaves the
                // queue with its connection); the probe takes its place.
                observer = probe;
                poll_waiting(
                    &mut observer,
                    3,
                    "the connection closed to make room is not left in the queue as a waiter",
                );
                grab_wait(&mut observer);
            }
            _ => panic!("a fifth connection with none idle is answered 503: {r}"),
        }
    }
    for (i, w) in waiters.iter().enumerate() {
        assert!(
            w.try_recv().is_err(),
            "waiter {i} was answered or dropped although nothing was released"
        );
    }
    assert!(observer.is_open_now(), "the fourth waiter is still waiting");
}
