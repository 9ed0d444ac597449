//! The server driven by real HTTP client libraries, not our own raw client: Python's http.client
//! (python3 is on every machine that runs the tests, and in CI) and, when `node` is on the PATH,
//! Node's fetch. Each runs a grab, a long-poll hand-over, a release and an over-limit body, from a
//! script in tests/clients/. A missing program is a skip, said on stdout, unless
//! `WEBLOCK_REQUIRE_NODE=1` (CI) makes a missing `node` a failure.

use crate::common;

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::Server;

/// How long a client script may take (it finishes in well under a second).
const SCRIPT_DEADLINE: Duration = Duration::from_secs(60);

/// Runs `program script HOST PORT` against `server`; `None` when the program is not installed.
fn run_client(program: &str, script: &str, server: &Server) -> Option<(bool, String)> {
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let addr = server.addr();
    let child = Command::new(program)
        .arg(&path)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot start {program}: {e}"),
    };
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(SCRIPT_DEADLINE) {
        Ok(out) => out.unwrap_or_else(|e| panic!("{program}: {e}")),
        Err(_) => {
            if let Ok(pid) = i32::try_from(pid) {
                // SAFETY: kill(2) on our own child, not yet reaped (its waiter thread still waits).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            panic!("{program} {script} did not finish within {SCRIPT_DEADLINE:?}");
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Some((output.status.success() && text.contains("ok"), text))
}

#[test]
fn python_http_client_grabs_waits_releases_and_reads_a_413() {
    let server = Server::start();
    match run_client("python3", "http_client.py", &server) {
        Some((ok, text)) => assert!(ok, "python3 http_client.py failed:\n{text}"),
        None => println!("skipped: python3 is not installed"),
    }
}

#[test]
fn node_fetch_grabs_waits_releases_and_reads_a_413() {
    let server = Server::start();
    match run_client("node", "fetch.mjs", &server) {
        Some((ok, text)) => assert!(ok, "node fetch.mjs failed:\n{text}"),
        None if std::env::var("WEBLOCK_REQUIRE_NODE").as_deref() == Ok("1") => {
            panic!("node is not installed, and WEBLOCK_REQUIRE_NODE=1")
        }
        None => println!("skipped: node is not installed (Debian's nodejs package has it)"),
    }
}
