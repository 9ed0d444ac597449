//! `wait-grab` never starts CMD on a lease it cannot trust. A grant that reaches it with less than two
//! thirds of its lease left (by the server's count, `ttl_left`) is renewed first; a renewal refused
//! ("held by another token": the grant went stale on its way) sends it back to waiting, and CMD runs
//! only on the next grant. The server here is a script, so that the stale grant comes every time.

use crate::cli_helpers;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use cli_helpers::*;

/// One request as the script saw it: its path and its body.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// The paths of the requests the script answered, in order.
fn paths_of(seen: &Seen) -> Vec<String> {
    seen.lock()
        .expect("the log")
        .iter()
        .map(|(p, _)| p.clone())
        .collect()
}

/// Reads one request (head and `Content-Length` body); `None` when the client closed.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, String::from_utf8_lossy(&body).into_owned()))
}

fn answer(stream: &mut TcpStream, status: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
}

/// A scripted server: the first grab is granted with 0.2 s of a 3 s lease left (it went stale on its
/// way), the renewal of that grant is refused, the next grab is a fresh grant; releases are fine.
fn scripted_server() -> (String, Seen) {
    script(|path, grabs| match path {
        "/grab" => {
            let (fence, left) = if grabs == 1 { (7, 0.2) } else { (9, 2.999) };
            let grant = format!(
                r#"{{"status":"ok","id":"L","token":"t","fence":{fence},"holder":"h","ttl":3,"expires":"2026-01-01T00:00:00.000Z","ttl_left":{left}}}"#
            );
            ("200 OK", grant)
        }
        "/renew" => (
            "409 Conflict",
            r#"{"status":"fail","reason":"mutex L is held by another token"}"#.to_string(),
        ),
        _ => ("200 OK", r#"{"status":"ok"}"#.to_string()),
    })
}

/// A server answering each request by `answer(path, grabs so far)`: its status line and JSON body.
fn script(
    answer_by: impl Fn(&str, usize) -> (&'static str, String) + Send + 'static,
) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut grabs = 0;
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            let Ok(clone) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(clone);
            while let Some((path, body)) = read_request(&mut reader) {
                log.lock().expect("the log").push((path.clone(), body));
                if path == "/grab" {
                    grabs += 1;
                }
                let (status, body) = answer_by(&path, grabs);
                answer(&mut stream, status, &body);
            }
        }
    });
    (url, seen)
}

#[test]
fn a_grant_with_too_little_lease_left_is_renewed_first_and_a_stale_one_is_waited_out() {
    let sb = Sandbox::new("lease-margin");
    let (url, seen) = scripted_server();
    let mut cmd = weblock_at(&url, &sb.user("alice"));
    cmd.args([
        "wait-grab",
        "L",
        "--ttl",
        "3s",
        "--timeout",
        "20s",
        "--",
        "sh",
        "-c",
        "echo ran with $WEBLOCK_FENCE",
    ]);
    let outcome = sb.run(cmd);
    outcome.expect_code(0);
    assert_eq!(
        outcome.stdout.trim(),
        "ran with 9",
        "CMD ran once, on the fresh grant only: {outcome}"
    );
    assert!(
        outcome.stderr.contains("could not be renewed") && outcome.stderr.contains("waiting again"),
        "the stale grant is reported: {outcome}"
    );
    let paths = paths_of(&seen);
    assert_eq!(paths, ["/grab", "/renew", "/grab", "/release"], "{paths:?}");
}

#[test]
fn a_fresh_grant_starts_the_command_at_once() {
    let sb = Sandbox::new("lease-fresh");
    let (url, seen) = scripted_server();
    // Spend the script's stale grant on a plain grab first (no lease: nothing to renew).
    let mut grab = weblock_at(&url, &sb.user("bob"));
    grab.args(["grab", "L"]);
    sb.run(grab).expect_code(0);
    let mut cmd = weblock_at(&url, &sb.user("alice"));
    cmd.args(["wait-grab", "L", "--ttl", "3s", "--", "true"]);
    sb.run(cmd).expect_ok();
    let paths = paths_of(&seen);
    assert_eq!(
        paths,
        ["/grab", "/grab", "/release"],
        "no renewal first: {paths:?}"
    );
}

/// `--timeout` bounds the whole wait, the renewal of a stale grant and any wait after it included:
/// a grant that comes with too little lease, whose renewal the server cannot answer (503, retried),
/// ends the wait at the timeout (exit 3, what the grant may still hold given back), not when that
/// lease runs out, and not as "busy" (exit 1) from a last look with no time left.
#[test]
fn the_timeout_holds_when_a_stale_grant_cannot_be_renewed() {
    let sb = Sandbox::new("lease-timeout");
    let (url, seen) = script(|path, grabs| {
        match path {
        "/grab" if grabs == 1 => (
            "200 OK",
            r#"{"status":"ok","id":"L","token":"t","fence":7,"holder":"h","ttl":30,"expires":"2026-01-01T00:00:00.000Z","ttl_left":4}"#.to_string(),
        ),
        "/grab" => (
            "409 Conflict",
            r#"{"status":"fail","reason":"mutex L is held by another token","id":"L","in_use":true,"holder":"other","fence":8}"#.to_string(),
        ),
        "/renew" => (
            "503 Service Unavailable",
            r#"{"status":"fail","reason":"cannot confirm now"}"#.to_string(),
        ),
        _ => ("200 OK", r#"{"status":"ok"}"#.to_string()),
    }
    });
    let mut cmd = weblock_at(&url, &sb.user("alice"));
    cmd.args([
        "wait-grab",
        "L",
        "--ttl",
        "30s",
        "--timeout",
        "1s",
        "--",
        "echo",
        "ran",
    ]);
    let started = std::time::Instant::now();
    let outcome = sb.run(cmd);
    let took = started.elapsed();
    outcome.expect_code(3);
    assert_eq!(outcome.stdout.trim(), "", "CMD never ran: {outcome}");
    assert!(
        took < std::time::Duration::from_millis(3_500),
        "ended at the 1 s timeout, not when the 4 s left of the stale lease ran out: {took:?} {outcome}"
    );
    let paths = paths_of(&seen);
    assert_eq!(
        paths.first().map(String::as_str),
        Some("/grab"),
        "{paths:?}"
    );
    assert_eq!(
        paths.last().map(String::as_str),
        Some("/release"),
        "what the stale grant may still hold is given back: {paths:?}"
    );
}

/// A command that ends while its lock's renewal goes unanswered (the server fails it: 503, retried)
/// is not outlived by weblock until the lease's end: the renewal is given up when the command ends,
/// the lock is released, and weblock exits with the command's code. (It used to wait for the renewal
/// to run out at the lease's end, with a second Ctrl-C ignored meanwhile.)
#[test]
fn weblock_does_not_wait_out_a_failing_renewal_after_its_command_ended() {
    let sb = Sandbox::new("lease-renewal-ends");
    let (url, seen) = script(|path, _| {
        match path {
        "/grab" => (
            "200 OK",
            r#"{"status":"ok","id":"L","token":"t","fence":7,"holder":"h","ttl":9,"expires":"2026-01-01T00:00:00.000Z","ttl_left":8.999}"#.to_string(),
        ),
        "/renew" => (
            "503 Service Unavailable",
            r#"{"status":"fail","reason":"cannot confirm now"}"#.to_string(),
        ),
        _ => ("200 OK", r#"{"status":"ok"}"#.to_string()),
    }
    });
    let mut cmd = weblock_at(&url, &sb.user("alice"));
    // Renewals are due every 3 s; the command ends during the first, 6 s before the lease does.
    cmd.args([
        "wait-grab",
        "L",
        "--ttl",
        "9s",
        "--",
        "sh",
        "-c",
        "sleep 3.5; exit 4",
    ]);
    let started = std::time::Instant::now();
    let outcome = sb.run(cmd);
    let took = started.elapsed();
    outcome.expect_code(4);
    assert!(
        took < std::time::Duration::from_millis(6_500),
        "weblock ended soon after its command (3.5 s), not at the lease's end (9 s): {took:?} {outcome}"
    );
    let paths = paths_of(&seen);
    assert_eq!(
        paths.last().map(String::as_str),
        Some("/release"),
        "{paths:?}"
    );
}
