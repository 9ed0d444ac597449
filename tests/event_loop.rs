//! The one-worker event loop (a persistent, level-triggered poller): a connection the server
//! cannot act on must not be reported over and over, and nothing sent must be left unread. CPU
//! time is read from /proc, so these run on Linux.
#![cfg(target_os = "linux")]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::*;

/// The server's CPU time so far, in clock ticks (utime + stime, /proc/PID/stat).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/stat: {e}"));
    // Fields after the command (which may hold spaces), from its closing parenthesis on.
    let rest = &stat[stat.rfind(')').expect("a command") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15, the 12th and 13th after the command.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// Asserts the server comes to spend (next to) no CPU: less than a fifth of one core over a second
/// (the clock tick is usually 1/100 s). A busy loop never does; work the server still had to do
/// (a backlog of pipelined requests, on a loaded machine) ends, so a few windows are allowed.
fn assert_quiet(server: &Server, what: &str) {
    let mut windows = Vec::new();
    for _ in 0..6 {
        let before = cpu_ticks(server.pid());
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(1));
        let spent = cpu_ticks(server.pid()) - before;
        let elapsed = start.elapsed().as_secs_f64();
        if (spent as f64) < 20.0 * elapsed {
            return;
        }
        windows.push(format!("{spent} ticks in {elapsed:.2} s"));
    }
    panic!(
        "{what}: the server kept using CPU while nothing happened (a busy loop): {}",
        windows.join(", ")
    );
}

fn post_bytes(target: &str) -> Vec<u8> {
    build_request("POST", target, "HTTP/1.1", &[], b"")
}

fn hold(server: &Server, id: &str) -> String {
    let r = server.post_empty(&format!("/grab?id={id}&holder=first"));
    assert_eq!(r.status, 200, "grab {id}: {r}");
    r.json()["token"].as_str().expect("a token").to_string()
}

fn send_on_new(addr: SocketAddr, bytes: &[u8]) -> Conn {
    let mut c = Conn::open(addr);
    c.send(bytes);
    c
}

#[test]
fn a_parked_waiter_with_a_pipelined_request_costs_no_cpu() {
    let server = Server::start();
    let id = new_uuid();
    let token = hold(&server, &id);
    // Sent with the wait (read with it), then sent while it waits (left in the socket).
    let mut bytes = post_bytes(&format!("/grab?id={id}&wait=30"));
    bytes.extend_from_slice(&build_request("GET", "/status?id=x", "HTTP/1.1", &[], b""));
    let mut waiter = send_on_new(server.addr(), &bytes);
    server.wait_for_waiting(&id, 1);
    waiter.send(&build_request("GET", "/status?id=y", "HTTP/1.1", &[], b""));
    assert_quiet(&server, "a parked waiter with pipelined requests");
    let released = server.post_empty(&format!("/release?id={id}&token={token}"));
    assert_eq!(released.status, 200, "{released}");
    for what in ["the grant", "the first status", "the second status"] {
        let r = waiter.read_response();
        assert_eq!(r.status, 200, "{what}: {r}");
    }
}

#[test]
fn a_parked_waiter_that_half_closes_is_closed_and_costs_no_cpu() {
    let server = Server::start();
    let id = new_uuid();
    hold(&server, &id);
    let mut waiter = send_on_new(
        server.addr(),
        &post_bytes(&format!("/grab?id={id}&wait=30")),
    );
    server.wait_for_waiting(&id, 1);
    waiter.shutdown_write();
    assert!(
        waiter.closed_by_peer_within(CONDITION_DEADLINE),
        "a waiter that hung up is let go"
    );
    assert_quiet(&server, "a parked waiter that half-closed");
}

#[test]
fn a_lingering_connection_costs_no_cpu() {
    let server = Server::start();
    let mut c = Conn::open(server.addr());
    c.send(&build_request(
        "GET",
        "/status?id=x",
        "HTTP/1.1",
        &[("Connection", "close")],
        b"",
    ));
    let r = c.read_response();
    assert!(r.status > 0);
    assert_quiet(&server, "a lingering connection");
}

#[test]
fn an_answer_pending_write_to_a_half_closed_client_costs_no_cpu() {
    let server = Server::start();
    let c = Conn::open(server.addr());
    let one = build_request("GET", "/status?id=x", "HTTP/1.1", &[], b"");
    // Pipelined requests, answers never read: the server ends up with an answer waiting for room
    // (it stops reading then), which is when the client's writes stop getting through.
    let mut stream = c.stream.try_clone().expect("clone");
    stream.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last_progress = Instant::now();
    let mut at = 0;
    while last_progress.elapsed() < Duration::from_millis(300) {
        assert!(Instant::now() < deadline, "the server kept reading");
        match std::io::Write::write(&mut stream, &one[at..]) {
            Ok(n) => {
                at = (at + n) % one.len();
                last_progress = Instant::now();
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    c.shutdown_write();
    assert_quiet(&server, "an answer pending write to a half-closed client");
}

#[cfg(feature = "tls")]
mod over_tls {
    use super::*;
    use crate::common::tls::{
        Ca, TempDir, TlsConn, client_config, start_tls, wait_until_waiting, write_server_cert,
    };
    use std::io::Write;

    fn setup(name: &str) -> (TempDir, Ca, Server) {
        let dir = TempDir::new(name);
        let ca = Ca::new("weblock test CA");
        ca.write(&dir.path("ca.pem"));
        write_server_cert(&ca, &dir, "server-1");
        let server = start_tls(&dir, &["--threads", "1"]);
        (dir, ca, server)
    }

    #[test]
    fn tls_one_worker_parked_waiter_with_pipelined_plaintext_is_quiet_then_served() {
        let (_dir, ca, server) = setup("el-pipelined");
        let config = client_config(&ca.pem, None);
        let mut holder = TlsConn::open(server.addr(), config.clone()).expect("connect");
        let grant = holder.call("POST", "/grab", "id=db").expect("grab").json();
        let token = grant["token"].as_str().unwrap().to_string();
        let mut waiter = TlsConn::open(server.addr(), config.clone()).expect("connect");
        waiter.send("POST", "/grab", "id=db&wait=20").expect("send");
        wait_until_waiting(&mut holder, "db");
        waiter.send("GET", "/status/db", "").expect("send");
        assert_quiet(&server, "tls parked pipelined");
        let _ = holder
            .call("POST", "/release", &format!("id=db&token={token}"))
            .expect("release");
        let granted = waiter.receive().expect("granted");
        assert_eq!(granted.status, 200);
        let st = waiter.receive().expect("status");
        assert_eq!(st.status, 200);
        assert_quiet(&server, "tls after");
    }

    #[test]
    fn tls_one_worker_parked_waiter_close_notify_then_half_close_is_quiet() {
        let (_dir, ca, server) = setup("el-notify");
        let config = client_config(&ca.pem, None);
        let mut holder = TlsConn::open(server.addr(), config.clone()).expect("connect");
        let _ = holder.call("POST", "/grab", "id=db").expect("grab");
        let mut waiter = TlsConn::open(server.addr(), config.clone()).expect("connect");
        waiter.send("POST", "/grab", "id=db&wait=20").expect("send");
        wait_until_waiting(&mut holder, "db");
        waiter.tls.conn.send_close_notify();
        let _ = waiter.tls.flush();
        assert_quiet(&server, "tls parked close_notify");
        waiter.tls.sock.shutdown(std::net::Shutdown::Write).unwrap();
        assert_quiet(&server, "tls parked half-closed");
    }

    #[test]
    fn tls_one_worker_idle_lingering_and_half_closed_connections_are_quiet() {
        let (_dir, ca, server) = setup("el-idle");
        let config = client_config(&ca.pem, None);
        let mut idle = TlsConn::open(server.addr(), config.clone()).expect("connect");
        let _ = idle.call("GET", "/status/db", "").expect("status");
        let mut closing = TlsConn::open(server.addr(), config.clone()).expect("connect");
        let req = "GET /status/db HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        closing.tls.write_all(req.as_bytes()).unwrap();
        closing.tls.flush().unwrap();
        let a = closing.receive().expect("answer");
        assert_eq!(a.status, 200);
        let half = TlsConn::open(server.addr(), config.clone()).expect("connect");
        half.tls.sock.shutdown(std::net::Shutdown::Write).unwrap();
        assert_quiet(&server, "tls idle, lingering, half-closed");
    }
}

#[test]
fn a_wait_the_timer_ends_then_serves_what_was_pipelined() {
    let server = Server::start();
    let id = new_uuid();
    hold(&server, &id);
    let mut bytes = post_bytes(&format!("/grab?id={id}&wait=1"));
    bytes.extend_from_slice(&build_request(
        "GET",
        &format!("/status?id={id}"),
        "HTTP/1.1",
        &[],
        b"",
    ));
    let mut waiter = send_on_new(server.addr(), &bytes);
    let r = waiter.read_response();
    assert_eq!(r.status, 409, "{r}");
    let r = waiter.read_response();
    assert_eq!(r.status, 200, "{r}");
    // Again: the pipelined request sent after the wait parked.
    let mut waiter = send_on_new(server.addr(), &post_bytes(&format!("/grab?id={id}&wait=1")));
    server.wait_for_waiting(&id, 1);
    waiter.send(&build_request(
        "GET",
        &format!("/status?id={id}"),
        "HTTP/1.1",
        &[],
        b"",
    ));
    let r = waiter.read_response();
    assert_eq!(r.status, 409, "{r}");
    let r = waiter.read_response();
    assert_eq!(r.status, 200, "{r}");
    assert_quiet(&server, "after");
}
