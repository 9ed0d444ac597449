//! Issue #17: a server that is away. `--timeout` holds to within about half a second whatever the
//! server does (here: a listener that accepts and never answers), one-shot commands give up within
//! 5 s, and a wait that retries for ever says so on stderr, terminal or not. Real binary.

use crate::cli_helpers;

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use cli_helpers::*;

/// A server that accepts every connection and never answers (nor reads).
fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local_addr"));
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    url
}

/// Runs every `args` side by side against `url`; each must end with `code` within `within` of its
/// start.
fn all_end_within(url: &str, cases: &[&[&str]], code: i32, within: Duration) {
    let sb = Sandbox::new("deadlines");
    let alice = sb.user("alice");
    let mut procs: Vec<(Instant, Proc)> = cases
        .iter()
        .map(|args| {
            let mut cmd = weblock_at(url, &alice);
            cmd.args(*args);
            (Instant::now(), sb.spawn(cmd))
        })
        .collect();
    for (started, p) in &mut procs {
        let out = p.finish_within(FINISH);
        let took = started.elapsed();
        out.expect_error(code, &["no answer in time", url]);
        assert!(took <= within, "took {took:?}, more than {within:?}: {out}");
    }
}

#[test]
fn timeouts_hold_against_a_server_that_accepts_and_never_answers() {
    let url = black_hole();
    let ticket_gate = "shop:live";
    all_end_within(
        &url,
        &[
            &["wait-grab", "db", "--timeout", "1s", "--", "true"],
            &["grab", "db", "--wait", "1s"],
            &["wait", "db", "--timeout", "1s"],
            &["wait", ticket_gate, "--timeout", "1s"],
            &[
                "gate",
                "enter",
                ticket_gate,
                "--queue",
                "--timeout",
                "1s",
                "--",
                "true",
            ],
        ],
        4,
        // The timeout, half a second, and room for a loaded machine to start a process.
        Duration::from_millis(1000 + 500 + 400),
    );
}

#[test]
fn one_shot_commands_give_up_within_five_seconds() {
    let url = black_hole();
    let token = uuid::Uuid::new_v4().to_string();
    all_end_within(
        &url,
        &[
            &["status", "db"],
            &["status"],
            &["grab", "db"],
            &["release", "db", "--token", &token],
            &["renew", "db", "--token", &token],
            &["gate", "show"],
        ],
        4,
        Duration::from_millis(5000 + 400),
    );
}

#[test]
fn a_wait_that_retries_an_absent_server_says_so_then_gets_the_job_done() {
    let sb = Sandbox::new("away");
    let alice = sb.user("alice");
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .expect("an address");
    let url = format!("http://{listen}");
    let marker = sb.path("ran");

    // stderr is a file here, not a terminal: the line must come all the same.
    let mut cmd = weblock_at(&url, &alice);
    cmd.args(["wait-grab", "db", "--", "touch", &marker.to_string_lossy()]);
    let mut wg = sb.spawn(cmd);
    let err = sb.path("proc-0.err");
    let said = |s: &str| {
        s.contains(&format!("no answer from the weblock server at {url}"))
            && s.contains("still trying")
    };
    wait_until(
        Duration::from_secs(10),
        "a line saying the server is away",
        || fs::read_to_string(&err).is_ok_and(|s| said(&s)),
    );

    let _server = OwnServer::start(&sb, listen);
    let out = wg.finish_within(FINISH);
    out.expect_code(0);
    assert!(marker.exists(), "the command ran once the server came");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line, not one per try: {out}");
    assert!(lines[0].starts_with("weblock: ") && said(lines[0]), "{out}");
}
