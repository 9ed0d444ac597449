//! Black-box test of running out of file descriptors (issue: "keeps serving the connections it has and
//! recovers when descriptors free up; with `--state`, a restart loses nothing").
//!
//! The server raises its own open-files limit at start and keeps its connection cap below it, so its
//! own connections alone never exhaust it. What can still happen is that the limit is lowered under a
//! running server (`prlimit`, an operator's ulimit on a respawn) or the descriptors are used up by
//! something else. The test does the first: it lowers the running server's limit (`prlimit(2)`) to two
//! above what it has open, then checks that every connection it already has keeps working (a holder
//! releases, the parked waiter is handed the lock, journaled), that connections it cannot accept wait in
//! the listen backlog and are served, one by one, as descriptors free up, and that a SIGKILL and a
//! restart on the same state file lose nothing of what was answered. Its stderr is closed meanwhile,
//! so its complaints about accept errors can only be dropped.
//!
//! Linux only: it lowers another process's limit with `prlimit(2)` and counts its descriptors in
//! `/proc`, which macOS and FreeBSD do not offer in that form; there this file holds no test.
#![cfg(target_os = "linux")]

use crate::cli_helpers;
use crate::common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use cli_helpers::{Sandbox, wait_until};
use common::{Conn, Enc, Server, Stderr};

/// How long something that should happen at once may take (only a broken server hits it).
const PROMPTLY: Duration = Duration::from_secs(10);

fn open_descriptors(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or_else(|e| panic!("cannot list /proc/{pid}/fd: {e}"))
}

/// Sets the open-files limit (soft and hard) of process `pid`.
fn set_open_files_limit(pid: u32, limit: u64) {
    let lim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: `lim` is a valid rlimit; the old limit is not asked for (null).
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// A keep-alive connection that has sent `GET /status?id=db` and waits for its answer (once accepted,
/// it holds one of the server's descriptors until the test closes it).
struct Asker {
    stream: TcpStream,
    got: Vec<u8>,
}

impl Asker {
    fn send(server: &Server) -> Asker {
        let mut stream = TcpStream::connect_timeout(&server.addr(), PROMPTLY).expect("connect");
        stream
            .write_all(b"GET /status?id=db HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("send");
        stream.set_nonblocking(true).expect("nonblocking");
        Asker {
            stream,
            got: Vec::new(),
        }
    }

    /// Reads what has arrived; true once the whole answer (head, and a body of `Content-Length`) is in.
    fn answered(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("closed before an answer: {:?}", self.text()),
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("reading an answer: {e}"),
            }
        }
        let text = self.text();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return false;
        };
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>())
            })
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("no Content-Length: {head}"));
        body.len() >= length
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.got).into_owned()
    }
}

#[test]
fn out_of_descriptors_it_serves_what_it_has_recovers_and_loses_nothing() {
    let sandbox = Sandbox::new("descriptors");
    let state = sandbox.path("state");
    let state_arg = state.to_string_lossy().into_owned();
    // Its stderr closed, too: the acceptor's "accept failed" lines must not stop it (an `eprintln!`
    // would panic the acceptor thread, and nothing would be accepted again).
    let server = Server::builder()
        .args(&["--state", &state_arg])
        .stderr(Stderr::Closed)
        .start();
    let pid = server.pid();

    // A holder and a parked waiter, on connections the server already has.
    let mut holder = server.connect();
    let grabbed = holder.post("/grab", Enc::Form, &[("id", "db"), ("holder", "first")]);
    assert_eq!(grabbed.status, 200, "{}", grabbed.text());
    let token = grabbed.json()["token"].as_str().expect("token").to_string();
    let mut waiter = server.connect();
    let (ct, body) = Enc::Form.encode(&[("id", "db"), ("holder", "second"), ("wait", "60")]);
    waiter.send_request("POST", "/grab", &[("Content-Type", ct.as_str())], &body);
    server.wait_for_waiting("db", 1);

    // Room for two more descriptors, then none.
    let limit = open_descriptors(pid) as u64 + 2;
    set_open_files_limit(pid, limit);
    let mut askers: Vec<Asker> = (0..6).map(|_| Asker::send(&server)).collect();
    wait_until(PROMPTLY, "the server to use up its descriptors", || {
        open_descriptors(pid) as u64 >= limit
    });

    // Out of descriptors, what it has keeps working: the holder releases on its own connection, the
    // parked waiter is handed the lock, and a status is answered, all through the journal.
    let released = holder.post("/release", Enc::Form, &[("id", "db"), ("token", &token)]);
    assert_eq!(released.status, 200, "{}", released.text());
    let granted = waiter.read_response();
    assert_eq!(granted.status, 200, "{}", granted.text());
    let fence = granted.json()["fence"].as_u64().expect("fence");
    let status = holder.get("/status?id=db");
    assert_eq!(status.json()["holder"], "second", "{}", status.text());

    // Descriptors free up: the holder's connection closes, then each answered connection in turn, and
    // every connection waiting in the backlog is accepted and served.
    drop(holder);
    let deadline = Instant::now() + PROMPTLY * 2;
    while !askers.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} connections left unserved after descriptors freed up",
            askers.len()
        );
        askers.retain_mut(|asker| {
            if !asker.answered() {
                return true;
            }
            let text = asker.text();
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
            assert!(text.contains("\"second\""), "{text}");
            false
        });
        std::thread::sleep(Duration::from_millis(10));
    }

    // A SIGKILL and a restart on the same state file: the hand-over made while out of descriptors is
    // still there, and fences go on from it.
    drop(waiter);
    drop(server);
    let server = Server::builder().args(&["--state", &state_arg]).start();
    let status = server.status("db");
    assert_eq!(status["holder"], "second", "{status}");
    assert_eq!(status["fence"].as_u64(), Some(fence), "{status}");
    let mut conn: Conn = server.connect();
    let other = conn.post("/grab", Enc::Form, &[("id", "other")]);
    assert!(
        other.json()["fence"].as_u64().expect("fence") > fence,
        "{}",
        other.text()
    );
}
