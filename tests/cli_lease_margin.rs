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
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut grabs = 0;
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let Ok(clone) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(clone);
            while let Some((path, body)) = read_request(&mut reader) {
                log.lock().expect("the log").push((path.clone(), body));
                match path.as_str() {
                    "/grab" => {
                        grabs += 1;
                        let (fence, left) = if grabs == 1 { (7, 0.2) } else { (9, 2.999) };
                        let grant = format!(
                            r#"{{"status":"ok","id":"L","token":"t","fence":{fence},"holder":"h","ttl":3,"expires":"2026-01-01T00:00:00.000Z","ttl_left":{left}}}"#
                        );
                        answer(&mut stream, "200 OK", &grant);
                    }
                    "/renew" => answer(
                        &mut stream,
                        "409 Conflict",
                        r#"{"status":"fail","reason":"mutex L is held by another token"}"#,
                    ),
                    _ => answer(&mut stream, "200 OK", r#"{"status":"ok"}"#),
                }
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
