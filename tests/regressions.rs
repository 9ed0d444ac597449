//! Regression tests for bugs a review found, each written from the reviewer's reproduction script and
//! asserting what the docs promise (so each fails for as long as its bug is there):
//!
//! - a grant collected by a retry (same token, new connection) is never taken back when the first
//!   connection turns out dead;
//! - a waiter that sent extra bytes before hanging up is still seen to be gone, and never holds the lock;
//! - a retry that replaced a parked connection is never cancelled by that connection's hang-up;
//! - pipelined tiny requests, and chunked bodies of tiny chunks, cost linear time and stall nobody;
//! - a HAL waiter ended at its lock URL gets its 409 (its request-queue URL may not end it);
//! - `requester_data` is bounded; `DELETE /resources//` deletes nothing; a lease under a millisecond
//!   and a chunk size with a sign are refused;
//! - `weblock grab --wait` whose wait an administrator ended exits 1 (the answer is no), not 4.

use crate::cli_helpers;
use crate::common;
use crate::hal_helpers;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::*;
use hal_helpers::{
    ANSWER_DEADLINE, admin_delete, admin_server, hal_lock_ok, hal_locks, poll_until,
    server_with_admin, spawn_hal, v1_number,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

/// `POST /grab?id=ID` (no wait) that must be granted; returns `(token, fence)`.
fn hold(server: &Server, id: &str) -> (String, u64) {
    let r = server.post_empty(&format!("/grab?id={id}&holder=first"));
    assert_eq!(r.status, 200, "grab {id}: {r}");
    let v = r.json();
    let token = v["token"].as_str().expect("a token").to_string();
    let fence = v["fence"].as_u64().expect("a fence");
    (token, fence)
}

/// The raw bytes of `POST target` with an empty body (parameters in the query string).
fn post_bytes(target: &str) -> Vec<u8> {
    build_request("POST", target, "HTTP/1.1", &[], b"")
}

/// A connection on which `bytes` were sent (a request that will park, typically).
fn send_on_new(addr: SocketAddr, bytes: &[u8]) -> Conn {
    let mut c = Conn::open(addr);
    c.send(bytes);
    c
}

/// A connection that sends `prefix` and then `filler` up to about `size` bytes of pipelined requests,
/// from one thread, while another reads (and discards) every answer, so the server is kept busy
/// answering it for as long as it takes; `stop` ends both and closes it with answers unread (a reset).
struct Flood {
    stream: TcpStream,
    stop: Arc<AtomicBool>,
    writer: JoinHandle<()>,
    reader: JoinHandle<()>,
}

impl Flood {
    fn start(addr: SocketAddr, prefix: Vec<u8>, filler: &[u8], size: usize) -> Flood {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        let _ = stream.set_nodelay(true);
        let stop = Arc::new(AtomicBool::new(false));
        let mut bytes = prefix;
        while bytes.len() < size {
            bytes.extend_from_slice(filler);
        }
        let writer = {
            let mut w = stream.try_clone().expect("clone");
            w.set_write_timeout(Some(Duration::from_secs(10)))
                .expect("write timeout");
            let stop = stop.clone();
            thread::spawn(move || {
                for piece in bytes.chunks(64 * 1024) {
                    if stop.load(Ordering::Relaxed) || w.write_all(piece).is_err() {
                        break;
                    }
                }
            })
        };
        let reader = {
            let mut r = stream.try_clone().expect("clone");
            r.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("read timeout");
            let stop = stop.clone();
            thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                while !stop.load(Ordering::Relaxed) {
                    match r.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
        };
        Flood {
            stream,
            stop,
            writer,
            reader,
        }
    }

    /// Stops reading and writing and closes the connection (answers the server sent still unread, so
    /// the close is a reset and the server stops answering it at once).
    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.stream.shutdown(Shutdown::Both);
        let _ = self.writer.join();
        let _ = self.reader.join();
        drop(self.stream);
    }
}

/// Reads one response from `conn` within `within`; `Err` describes a timeout or a closed connection.
fn read_within(conn: &mut Conn, within: Duration) -> Result<Response, String> {
    conn.set_read_timeout(within);
    conn.try_read_response().map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------------
// 1. A grant collected by a retry is kept when the first connection dies
// ---------------------------------------------------------------------------------------------------

/// The reviewer's `/tmp/undo.py`: waiter P (own token T) is granted the lock by a release whose
/// connection also pipelines many requests (so the answer to P is written only once they are done),
/// P hangs up meanwhile, and the client's retry Q (same token) collects the grant. Whatever the
/// server then finds on P's dead connection, the lock is Q's: it stays held with Q's fence, and Q's
/// token renews it.
#[test]
fn a_retry_that_collected_a_grant_keeps_it_when_the_first_connection_dies() {
    let server = Server::start();
    let addr = server.addr();
    // (P pipelines a request behind its grab, P hangs up after ms, Q comes ms after that)
    let rounds: [(bool, u64, u64); 8] = [
        (false, 50, 50),
        (true, 50, 50),
        (false, 10, 20),
        (true, 10, 20),
        (false, 30, 0),
        (true, 30, 0),
        (false, 80, 30),
        (true, 80, 30),
    ];
    for (round, &(pipelined, p_hangs_up_after, q_after)) in rounds.iter().enumerate() {
        let id = format!("undo{round}");
        let t = new_uuid();
        let (holder_token, _) = hold(&server, &id);

        let mut p_bytes = post_bytes(&format!("/grab?id={id}&wait=30&token={t}"));
        if pipelined {
            p_bytes.extend(build_request(
                "GET",
                &format!("/status?id={id}"),
                "HTTP/1.1",
                &[],
                b"",
            ));
        }
        let p = send_on_new(addr, &p_bytes);
        server.wait_for_waiting(&id, 1);

        // The release, and 300 KB of tiny requests behind it on the same connection.
        let release = post_bytes(&format!("/release?id={id}&token={holder_token}"));
        let flood = Flood::start(
            addr,
            release,
            b"GET /status?id=zz HTTP/1.1\r\nHost: h\r\n\r\n",
            300 * 1024,
        );
        thread::sleep(Duration::from_millis(p_hangs_up_after));
        drop(p);
        thread::sleep(Duration::from_millis(q_after));

        let mut q = Conn::open(addr);
        q.send(&post_bytes(&format!("/grab?id={id}&wait=30&token={t}")));
        let r = read_within(&mut q, Duration::from_secs(15))
            .unwrap_or_else(|e| panic!("round {round}: the retry Q got no answer: {e}"));
        assert_eq!(
            r.status, 200,
            "round {round}: the retry Q (token {t}) should get the grant: {r}"
        );
        let fence = r.json()["fence"].as_u64().expect("a fence");

        // Whatever the server still had to do for P's connection is done now (or when it finds this
        // connection reset): the grant must stay Q's.
        flood.stop();
        let deadline = Instant::now() + Duration::from_millis(300);
        loop {
            let s = server.status(&id);
            assert!(
                s["in_use"] == true && s["fence"].as_u64() == Some(fence),
                "round {round}: Q collected the grant (fence {fence}) with token {t}, so the lock must \
                 stay held by it; /status: {s}"
            );
            if Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let r = server.post_empty(&format!("/renew?id={id}&token={t}"));
        assert_eq!(
            r.status, 200,
            "round {round}: Q's token {t} holds the lock, so it renews it: {r}"
        );
        assert_eq!(
            r.json()["fence"].as_u64(),
            Some(fence),
            "round {round}: {r}"
        );
        let r = server.post_empty(&format!("/release?id={id}&token={t}"));
        assert_eq!(r.status, 200, "round {round}: Q releases: {r}");
    }
}

// ---------------------------------------------------------------------------------------------------
// 2. A waiter that hung up after sending extra bytes never becomes the holder
// ---------------------------------------------------------------------------------------------------

/// The reviewer's `/tmp/ghost.py`: waiter B sends a stray CRLF (or a pipelined request) while it waits,
/// then hangs up; when the holder releases, the lock must go to the next waiter C (who gets it at
/// once), or be free when nobody else waits — never to B's dead connection.
#[test]
fn a_waiter_that_hangs_up_after_sending_extra_bytes_never_becomes_the_holder() {
    let server = Server::start();
    let addr = server.addr();
    let extras: [(&str, &[u8]); 3] = [
        ("crlf", b"\r\n"),
        (
            "pipelined",
            b"GET /status?id=other HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        ("partial", b"GET /sta"),
    ];
    for (name, extra) in extras {
        for with_next in [true, false] {
            let id = format!("ghost-{name}-{}", if with_next { "c" } else { "alone" });
            let (a_token, _) = hold(&server, &id);

            let mut b = send_on_new(addr, &post_bytes(&format!("/grab?id={id}&wait=30")));
            server.wait_for_waiting(&id, 1);
            let c = with_next.then(|| {
                let rx = spawn_grab(
                    addr,
                    Enc::Form,
                    &[("id", &id), ("wait", "10"), ("holder", "C")],
                    Duration::from_secs(15),
                );
                server.wait_for_waiting(&id, 2);
                rx
            });

            // B sends its extra bytes, and hangs up 300 ms later; the holder releases 300 ms after that.
            b.send(extra);
            thread::sleep(Duration::from_millis(300));
            drop(b);
            thread::sleep(Duration::from_millis(300));
            server.release_ok(Enc::Form, &id, &a_token);

            match c {
                Some(rx) => {
                    let r = recv_within(
                        &rx,
                        Duration::from_secs(5),
                        &format!(
                            "{name}: waiter C, in line behind B who hung up, after the release"
                        ),
                    )
                    .unwrap_or_else(|e| panic!("{name}: waiter C got no answer: {e}"));
                    assert_eq!(
                        r.status, 200,
                        "{name}: B hung up, so the release goes to C: {r}"
                    );
                    let g = r.json();
                    assert_eq!(g["holder"], "C", "{name}: {g}");
                    let s = server.status(&id);
                    assert_eq!(s["in_use"], true, "{name}: {s}");
                    assert_eq!(s["holder"], "C", "{name}: C holds it: {s}");
                    assert_eq!(s["fence"], g["fence"], "{name}: C holds it: {s}");
                    assert_eq!(s["waiting"], 0, "{name}: nobody else waits: {s}");
                }
                None => {
                    let s = server.wait_for_status(
                        &id,
                        &format!("{id} free after the release (its only waiter hung up)"),
                        |s| s["in_use"] == false,
                    );
                    assert_eq!(s["in_use"], false, "{name}: {s}");
                    let r = server.post_empty(&format!("/grab?id={id}"));
                    assert_eq!(
                        r.status, 200,
                        "{name}: the lock is free, a fresh grab gets it: {r}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// 3. Pipelined tiny requests do not stall other clients
// ---------------------------------------------------------------------------------------------------

/// The reviewer's `/tmp/quad*.py`: a few connections each pipeline about 1 MB of tiny
/// `GET /status` requests (and read the answers, so writing never blocks the server). Another client's
/// single request must still be answered promptly, and the answers the pipelining connections read
/// are the right ones, in order. The pool is small (2 workers) so that a few such connections would
/// occupy all of it if each held its worker for the whole pipeline.
#[test]
fn pipelined_tiny_requests_do_not_stall_other_clients() {
    const FLOODS: usize = 4;
    const SIZE: usize = 1024 * 1024;
    /// Answers each pipelining connection checks before the others are measured, and at most.
    const FIRST: usize = 100;
    const AT_MOST: usize = 2000;

    let server = Server::builder().args(&["--threads", "2"]).start();
    let addr = server.addr();

    struct Pipeliner {
        stream: TcpStream,
        read: Arc<AtomicUsize>,
        reader: JoinHandle<Result<usize, String>>,
    }
    let mut pipeliners = Vec::new();
    for n in 0..FLOODS {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        let _ = stream.set_nodelay(true);
        let mut bytes = Vec::with_capacity(SIZE + 64);
        let mut count = 0usize;
        while bytes.len() < SIZE {
            bytes.extend_from_slice(
                format!("GET /status?id=p{n}x{count} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes(),
            );
            count += 1;
        }
        let mut w = stream.try_clone().expect("clone");
        w.set_write_timeout(Some(Duration::from_secs(30)))
            .expect("write timeout");
        thread::spawn(move || {
            for piece in bytes.chunks(64 * 1024) {
                if w.write_all(piece).is_err() {
                    break;
                }
            }
        });
        let read = Arc::new(AtomicUsize::new(0));
        let reader = {
            let read = read.clone();
            let mut c = Conn::from_stream(stream.try_clone().expect("clone"));
            thread::spawn(move || {
                for i in 0..AT_MOST.min(count) {
                    let r = match c.try_read_response() {
                        Ok(r) => r,
                        // Stopped by the test (or a read timed out): what was read is checked.
                        Err(_) => return Ok(i),
                    };
                    let want = format!("p{n}x{i}");
                    if r.status != 200 || r.json()["id"] != want.as_str() {
                        return Err(format!(
                            "pipelining connection {n}: answer {i} should be 200 for id {want}: {r}"
                        ));
                    }
                    read.store(i + 1, Ordering::Relaxed);
                }
                Ok(AT_MOST.min(count))
            })
        };
        pipeliners.push(Pipeliner {
            stream,
            read,
            reader,
        });
    }

    // The server is answering the pipelines.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pipeliners
        .iter()
        .any(|p| p.read.load(Ordering::Relaxed) >= FIRST || p.reader.is_finished())
    {
        assert!(
            Instant::now() < deadline,
            "no pipelining connection was answered within 10 s"
        );
        thread::sleep(Duration::from_millis(10));
    }

    // Meanwhile, other clients: each answered within a few seconds.
    let mut waits = Vec::new();
    for i in 0..3 {
        let started = Instant::now();
        let mut c = Conn::open(addr);
        c.send_request(
            "GET",
            &format!("/status?id=other{i}"),
            &[("Connection", "close")],
            b"",
        );
        let r = read_within(&mut c, Duration::from_secs(10));
        let took = started.elapsed();
        let r = r.unwrap_or_else(|e| {
            panic!("with {FLOODS} connections pipelining ~1 MB of tiny requests each, another client got no answer in {took:?}: {e}")
        });
        assert_eq!(r.status, 200, "{r}");
        assert_eq!(r.json()["id"], format!("other{i}").as_str(), "{r}");
        waits.push(took);
    }
    assert!(
        waits.iter().all(|took| *took < Duration::from_secs(5)),
        "with {FLOODS} connections pipelining ~1 MB of tiny requests each, other clients waited {waits:?}"
    );

    // Every pipelining connection is served too, and what it read is right.
    let deadline = Instant::now() + Duration::from_secs(10);
    while pipeliners
        .iter()
        .any(|p| p.read.load(Ordering::Relaxed) < FIRST && !p.reader.is_finished())
    {
        assert!(
            Instant::now() < deadline,
            "not every pipelining connection was answered ({:?} answers read)",
            pipeliners
                .iter()
                .map(|p| p.read.load(Ordering::Relaxed))
                .collect::<Vec<_>>()
        );
        thread::sleep(Duration::from_millis(10));
    }
    for p in &pipeliners {
        let _ = p.stream.shutdown(Shutdown::Both);
    }
    for (n, p) in pipeliners.into_iter().enumerate() {
        let got = p
            .reader
            .join()
            .expect("reader thread")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            got >= FIRST,
            "pipelining connection {n}: only {got} answers were read"
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// 4. A hang-up never cancels the retry that replaced it
// ---------------------------------------------------------------------------------------------------

/// The reviewer's `/tmp/race.py`: waiter P (own token T, wait 30) is replaced by the client's next poll
/// Q (same token, wait 1), and P's connection closes right after Q's request was sent. Q must be
/// answered when its wait runs out (a 409 that says it is still queued), and the waiter keeps its
/// place for the grace that follows. Many rounds at once, as in the script.
#[test]
fn a_hang_up_never_cancels_the_retry_that_replaced_it() {
    const BATCHES: usize = 2;
    const ROUNDS: usize = 30;
    let server = Server::start();
    let addr = server.addr();
    let mut failures = Vec::new();
    for batch in 0..BATCHES {
        // All rounds of a batch send their re-poll at once (as the script's threads did), each closing P
        // a little later than the one before.
        let barrier = Arc::new(Barrier::new(ROUNDS));
        let rounds: Vec<_> = (0..ROUNDS)
            .map(|round| {
                let barrier = barrier.clone();
                thread::spawn(move || replaced_round(addr, batch, round, &barrier))
            })
            .collect();
        failures.extend(
            rounds
                .into_iter()
                .filter_map(|h| h.join().expect("round thread").err()),
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} rounds failed:\n{}",
        failures.len(),
        BATCHES * ROUNDS,
        failures.join("\n")
    );
}

/// One round of `a_hang_up_never_cancels_the_retry_that_replaced_it`.
fn replaced_round(
    addr: SocketAddr,
    batch: usize,
    round: usize,
    barrier: &Barrier,
) -> Result<(), String> {
    let id = format!("replaced{batch}x{round}");
    let t = new_uuid();
    let grab = |wait: u32| post_bytes(&format!("/grab?id={id}&wait={wait}&token={t}"));
    let setup = (|| {
        let holder = request_on(addr, &post_bytes(&format!("/grab?id={id}")));
        if holder.status != 200 {
            return Err(format!("the first grab: {holder}"));
        }
        let p = send_on_new(addr, &grab(30));
        wait_for_waiters(addr, &id, 1)?;
        Ok(p)
    })();
    barrier.wait();
    let p = setup.map_err(|e| format!("{id}: {e}"))?;

    let mut q = Conn::open(addr);
    q.send(&grab(1));
    let spin = Instant::now() + Duration::from_micros(10 * (round as u64 % 10));
    while Instant::now() < spin {
        std::hint::spin_loop();
    }
    drop(p);
    let started = Instant::now();
    let r = read_within(&mut q, Duration::from_secs(6)).map_err(|e| {
        format!(
            "{id}: the re-poll Q (wait=1) got no answer within {:?}: {e}; /status: {}",
            started.elapsed(),
            status_at(addr, &id)
        )
    })?;
    let v = r.json();
    if r.status != 200 && !(r.status == 409 && v["timed_out"] == true && v["queued"] == true) {
        return Err(format!(
            "{id}: Q should be told it is still queued (or be granted): {r}"
        ));
    }
    if r.status == 409 {
        let s = status_at(addr, &id);
        if s["waiting"] != 1 {
            return Err(format!(
                "{id}: the waiter keeps its place after Q's poll: {s}"
            ));
        }
    }
    Ok(())
}

/// One request on a fresh connection.
fn request_on(addr: SocketAddr, bytes: &[u8]) -> Response {
    let mut c = Conn::open(addr);
    c.send(bytes);
    c.read_response()
}

fn status_at(addr: SocketAddr, id: &str) -> Value {
    let r = request_on(
        addr,
        &build_request("GET", &format!("/status?id={id}"), "HTTP/1.1", &[], b""),
    );
    r.json()
}

/// Polls `/status` until `n` wait for `id` (an `Err` after `CONDITION_DEADLINE`).
fn wait_for_waiters(addr: SocketAddr, id: &str, n: u64) -> Result<(), String> {
    let deadline = Instant::now() + CONDITION_DEADLINE;
    loop {
        let s = status_at(addr, id);
        if s["waiting"].as_u64() == Some(n) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("{n} waiter(s) on {id} expected; /status: {s}"));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------------
// 5. A chunked body of many tiny chunks
// ---------------------------------------------------------------------------------------------------

/// The reviewer's `/tmp/chunkspin.py`: a valid chunked body of 1-byte chunks (250 KB decoded, 1.5 MB on
/// the wire) is answered within a few seconds — 200, or 413 since its encoding is larger than what the
/// server reads for one request — and another client is served meanwhile, even by a pool of one
/// worker.
#[test]
fn a_chunked_body_of_many_tiny_chunks_is_answered_promptly() {
    let server = Server::builder().args(&["--threads", "1"]).start();
    let addr = server.addr();
    let mut decoded = b"id=tiny&pad=".to_vec();
    decoded.resize(250_000, b'x');
    let body = chunked(&decoded, 1);
    let head = build_request(
        "POST",
        "/status",
        "HTTP/1.1",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "close"),
        ],
        b"",
    );

    let started = Instant::now();
    let mut conn = Conn::open(addr);
    let (half_tx, half_rx) = mpsc::channel::<()>();
    let writer = {
        let mut w = conn.stream.try_clone().expect("clone");
        w.set_write_timeout(Some(Duration::from_secs(15)))
            .expect("write timeout");
        thread::spawn(move || {
            let _ = w.write_all(&head);
            let mut sent = 0;
            for piece in body.chunks(64 * 1024) {
                if w.write_all(piece).is_err() {
                    break; // answered (413) and closed early: fine
                }
                sent += piece.len();
                if sent >= body.len() / 2 {
                    let _ = half_tx.send(());
                }
            }
            // Also when the write stopped early, so the test never waits for a signal that cannot come.
            let _ = half_tx.send(());
        })
    };
    let _ = half_rx.recv_timeout(Duration::from_secs(10));

    // Another client, while the tiny chunks are being read.
    let other_started = Instant::now();
    let mut other = Conn::open(addr);
    other.send_request("GET", "/status?id=other", &[("Connection", "close")], b"");
    let r = read_within(&mut other, Duration::from_secs(10));
    let other_took = other_started.elapsed();
    let r = r.unwrap_or_else(|e| {
        panic!("while a body of 1-byte chunks was read, another client got no answer in {other_took:?}: {e}")
    });
    assert_eq!(r.status, 200, "{r}");
    assert!(
        other_took < Duration::from_secs(3),
        "while a body of 1-byte chunks was read, another client waited {other_took:?}"
    );

    let r = read_within(&mut conn, Duration::from_secs(15));
    let took = started.elapsed();
    let _ = writer.join();
    let r = r.unwrap_or_else(|e| {
        panic!("a body of 250,000 1-byte chunks got no answer in {took:?}: {e}")
    });
    assert!(
        r.status == 200 || r.status == 413,
        "a valid body of 250,000 1-byte chunks is 200 (or 413: 1.5 MB on the wire): {r}"
    );
    if r.status == 200 {
        assert_eq!(r.json()["id"], "tiny", "{r}");
    }
    assert!(
        took < Duration::from_secs(5),
        "a body of 250,000 1-byte chunks was answered after {took:?} ({r})"
    );
}

// ---------------------------------------------------------------------------------------------------
// 6. A HAL waiter ended at its lock URL gets 409 (its request-queue URL may not end it)
// ---------------------------------------------------------------------------------------------------

#[test]
fn a_hal_waiter_deleted_at_its_url_is_answered_409_and_not_through_its_request_queue_url() {
    let server = admin_server();
    hal_lock_ok(&server, "hq", "holder");
    let rx = spawn_hal(server.addr(), "hq", r#"{"title":"w","wait":5}"#);

    // The waiter's request number, from the request-queue view of the resource.
    let waiter = poll_until("the HAL waiter listed on /v1/locks/hq/", || {
        let r = server.get("/v1/locks/hq/");
        if r.status != 200 {
            return Err(r.to_string());
        }
        let v = r.json();
        let owner = v["owner"].as_str().unwrap_or_default().to_string();
        let others: Vec<String> = v["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u.as_str())
            .filter(|u| *u != owner)
            .map(str::to_string)
            .collect();
        match others.as_slice() {
            [one] if !owner.is_empty() => Ok(v1_number(one)),
            _ => Err(v.to_string()),
        }
    });
    // The request-queue API lists its URL to anyone: it may not end a HAL lock, whose URL is its key.
    let r = server.request(
        "DELETE",
        &format!("/v1/locks/hq/requests/{waiter}/"),
        &[],
        b"",
    );
    assert_eq!(r.status, 403, "DELETE of a HAL request through /v1: {r}");
    assert_eq!(hal_locks(&server, "hq").len(), 2, "nothing was ended");
    // Its lock URL, which an administrator may read, ends it.
    let uid = hal_locks(&server, "hq")[1]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = server.request("DELETE", &format!("/locks/hq/{uid}"), &[], b"");
    assert_eq!(r.status, 204, "DELETE of the waiting request: {r}");

    let started = Instant::now();
    let r = recv_within(&rx, ANSWER_DEADLINE, "the HAL waiter")
        .unwrap_or_else(|e| panic!("the HAL waiter got no answer: {e}"));
    assert_eq!(
        r.status, 409,
        "a HAL waiter whose request was deleted gets 409: {r}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the 409 comes at the delete, not when the wait runs out"
    );
    let locks = hal_locks(&server, "hq");
    assert_eq!(locks.len(), 1, "only the holder is left: {locks:?}");
    assert_eq!(locks[0]["title"], "holder", "{locks:?}");
}

// ---------------------------------------------------------------------------------------------------
// 7. requester_data is bounded
// ---------------------------------------------------------------------------------------------------

#[test]
fn requester_data_is_bounded() {
    let server = Server::start();
    let big = "x".repeat(100 * 1024);
    let body = json!({ "requester_data": { "blob": big }, "timeout": 60 }).to_string();
    let r = server.request(
        "POST",
        "/v1/locks/x/requests/",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert!(
        r.status == 400 || r.status == 413,
        "100 KB of requester_data is refused (400 or 413): {}",
        r.status
    );
    assert_eq!(server.status("x")["in_use"], false, "nothing was taken");
    let r = server.get("/v1/locks/x/");
    assert_eq!(r.status, 404, "no request was made: {r}");
}

// ---------------------------------------------------------------------------------------------------
// 8. DELETE /resources// deletes nothing
// ---------------------------------------------------------------------------------------------------

#[test]
fn an_empty_name_with_two_slashes_deletes_nothing() {
    let (server, _dir) = server_with_admin();
    hal_lock_ok(&server, "keepa", "kept");
    server.grab_ok(Enc::Form, &[("id", "keepb"), ("holder", "kept too")]);

    let r = admin_delete(&server, "/resources//");
    assert!(
        r.status == 400 || r.status == 404,
        "DELETE /resources// names no resource: 400 or 404, not a delete: {r}"
    );
    assert_eq!(
        hal_locks(&server, "keepa").len(),
        1,
        "the HAL lock on keepa survives"
    );
    let s = server.status("keepa");
    assert_eq!(s["in_use"], true, "{s}");
    let s = server.status("keepb");
    assert_eq!(s["in_use"], true, "{s}");
    assert_eq!(s["holder"], "kept too", "{s}");
}

// ---------------------------------------------------------------------------------------------------
// 9. A lease under a millisecond is refused
// ---------------------------------------------------------------------------------------------------

#[test]
fn a_lease_under_a_millisecond_is_refused() {
    let server = Server::start();

    let r = server.post_empty("/grab?id=tiny1&ttl=0.0004");
    assert_eq!(r.status, 400, "/grab ttl=0.0004: {r}");
    r.assert_fail_json();
    let r = server.post("/grab", Enc::Json, &[("id", "tiny1"), ("ttl", "0.0004")]);
    assert_eq!(r.status, 400, "/grab {{\"ttl\": 0.0004}}: {r}");
    assert_eq!(server.status("tiny1")["in_use"], false, "nothing was taken");

    let r = server.request(
        "POST",
        "/locks/tiny2",
        &[("Content-Type", "application/json")],
        br#"{"title": "t", "lifetime": 0.0001}"#,
    );
    assert_eq!(r.status, 400, "HAL lifetime 0.0001: {r}");
    assert_eq!(server.status("tiny2")["in_use"], false, "nothing was taken");

    let r = server.request(
        "POST",
        "/v1/locks/tiny3/requests/",
        &[("Content-Type", "application/json")],
        br#"{"requester_data": {}, "timeout": 0.0001}"#,
    );
    assert_eq!(r.status, 400, "/v1 timeout 0.0001: {r}");
    assert_eq!(server.status("tiny3")["in_use"], false, "nothing was taken");
}

// ---------------------------------------------------------------------------------------------------
// 10. A chunk size with a sign is refused
// ---------------------------------------------------------------------------------------------------

#[test]
fn a_chunk_size_with_a_sign_is_refused() {
    let server = Server::start();
    let mut c = server.connect();
    c.send(
        b"POST /grab HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n+5\r\nid=ac\r\n0\r\n\r\n",
    );
    let r = c
        .try_read_response()
        .unwrap_or_else(|e| panic!("no answer to a chunk size of +5: {e}"));
    assert_eq!(
        r.status, 400,
        "a chunk size of +5 is not hexadecimal digits: {r}"
    );
    assert_eq!(server.status("ac")["in_use"], false, "nothing was taken");
}

// ---------------------------------------------------------------------------------------------------
// 11. A wait ended by an administrator exits 1
// ---------------------------------------------------------------------------------------------------

#[test]
fn a_wait_ended_by_an_administrator_exits_1() {
    let (server, _dir) = server_with_admin();
    let url = server.url("");
    server.grab_ok(Enc::Form, &[("id", "ended"), ("holder", "first")]);

    let sandbox = cli_helpers::Sandbox::new("regressions");
    let state = sandbox.user("waiter");
    let mut cmd = Command::new(cli_helpers::BIN);
    cmd.args(["--server", &url, "grab", "ended", "--wait", "30s"])
        .env("XDG_STATE_HOME", &state)
        .env("HOME", &state)
        .env_remove("WEBLOCK_URL")
        .env_remove("WEBLOCK_NAME")
        .env_remove("WEBLOCK_TOKEN")
        .env_remove("WEBLOCK_FENCE");
    let mut proc = sandbox.spawn(cmd);
    server.wait_for_waiting("ended", 1);

    let r = admin_delete(&server, "/resources/ended");
    assert_eq!(r.status, 204, "the administrator's delete: {r}");

    let out = proc.finish_within(Duration::from_secs(10));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a wait an administrator ended is a no (exit 1), not an unreachable server (4): {out}"
    );
    assert_eq!(out.stdout, "", "no token was printed: {out}");
    assert!(!out.stderr.trim().is_empty(), "it says why: {out}");
}
