//! The client's output cut off by its reader (`weblock status | head -1`): like any Unix filter it ends
//! by SIGPIPE, quietly, not with a panic and a backtrace on stderr.

use crate::cli_helpers;
use crate::common;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use cli_helpers::*;
use common::Server;
use unicode_width::UnicodeWidthStr;

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

/// `weblock status` shows what others typed: a holder's name in Chinese takes two columns a character,
/// and a gate's message may hold a line break or a terminal's escape sequence. The tables stay aligned
/// on the screen, one row a line, and nothing reaches the terminal as a control character.
#[test]
fn status_tables_stay_aligned_with_wide_names_and_show_control_characters_escaped() {
    let server = Server::start();
    let sb = Sandbox::new("wide-status");
    let alice = sb.user("alice");
    let weblock = |args: &[&str]| {
        let mut cmd = weblock_at(&server.url(""), &alice);
        cmd.args(args);
        sb.run(cmd)
    };
    weblock(&["grab", "db", "--holder", "张三的构建机"]).expect_ok();
    weblock(&["grab", "cache", "--holder", "alice"]).expect_ok();
    weblock(&[
        "gate", "create", "shop", "--group", "g", "--env", "live", "--env", "测试",
    ])
    .expect_ok();
    let closed = server.request(
        "PUT",
        "/api/services/shop/live",
        &[("Content-Type", "application/json")],
        br#"{"state": "closed", "message": "line one\nFAKE  row\u001b[31mred"}"#,
    );
    assert_eq!(closed.status, 200, "{closed:?}");

    let out = weblock(&["status"]);
    out.expect_ok();
    assert!(
        !out.stdout.chars().any(|c| c.is_control() && c != '\n'),
        "a control character reached the terminal: {out}"
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    // The column where `field` (0-based, fields without blanks) of a line starts, on the screen.
    let column = |line: &str, field: usize| {
        let mut in_field = false;
        let mut seen = 0;
        for (at, c) in line.char_indices() {
            if c != ' ' && !in_field {
                if seen == field {
                    return line[..at].width();
                }
                seen += 1;
            }
            in_field = c != ' ';
        }
        panic!("no field {field} in {line:?}")
    };
    let held_for = column(lines[0], 2);
    for row in &lines[1..3] {
        assert_eq!(
            column(row, 2),
            held_for,
            "HELD FOR misaligned:\n{}",
            out.stdout
        );
    }
    let gates: Vec<&str> = lines
        .iter()
        .skip_while(|l| !l.starts_with("GATE"))
        .copied()
        .collect();
    assert_eq!(gates.len(), 3, "one row a gate:\n{}", out.stdout);
    let state = column(gates[0], 1);
    for row in &gates[1..] {
        assert_eq!(column(row, 1), state, "STATE misaligned:\n{}", out.stdout);
    }
    assert!(
        gates
            .iter()
            .any(|g| g.contains(r"line one\nFAKE  row\u{1b}[31mred")),
        "the message, escaped:\n{}",
        out.stdout
    );
}

/// `weblock gate show`: one line a gate, its state in one column however its name is written.
#[test]
fn gate_show_aligns_states_under_non_ascii_gate_names() {
    let server = Server::start();
    let sb = Sandbox::new("wide-gates");
    let alice = sb.user("alice");
    let weblock = |args: &[&str]| {
        let mut cmd = weblock_at(&server.url(""), &alice);
        cmd.args(args);
        sb.run(cmd)
    };
    weblock(&[
        "gate", "create", "shop", "--group", "g", "--env", "live", "--env", "测试", "--env", "prüf",
    ])
    .expect_ok();
    let out = weblock(&["gate", "show", "shop"]);
    out.expect_ok();
    let starts: Vec<usize> = out
        .stdout
        .lines()
        .skip(1)
        .map(|line| {
            let at = line
                .find("open")
                .unwrap_or_else(|| panic!("no state in {line:?}"));
            line[..at].width()
        })
        .collect();
    assert_eq!(starts.len(), 3, "{out}");
    assert!(
        starts.iter().all(|&s| s == starts[0]),
        "{starts:?}:\n{}",
        out.stdout
    );
}
