//! The client's output cut off by its reader (`weblock status | head -1`): like any Unix filter it ends
//! by SIGPIPE, quietly, not with a panic and a backtrace on stderr.

#[path = "common/cli.rs"]
mod cli_helpers;
mod common;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use cli_helpers::*;
use common::Server;

#[test]
fn output_to_a_closed_pipe_ends_by_sigpipe_without_a_panic() {
    let server = Server::start();
    let sb = Sandbox::new("closed-pipe");
    let alice = sb.user("alice");
    let mut grab = weblock_at(&server.url(""), &alice);
    grab.args(["grab", "db"]);
    sb.run(grab).expect_ok();

    let mut status = weblock_at(&server.url(""), &alice);
    status
        .args(["status"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = status.spawn().expect("spawn weblock status");
    // Its reader goes away before it has had its answer from the server, let alone printed it.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let exit = child.wait().expect("wait for weblock status");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        exit.signal(),
        Some(libc::SIGPIPE),
        "{exit:?}; stderr: {stderr}"
    );
}
