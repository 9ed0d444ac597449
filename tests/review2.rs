//! Found in the second review of issues 16 and 20: each test failed before its fix.
use crate::common;

use common::{Enc, Server};

/// The dashboard's buttons act as its visitor, with the page's own origin: a page on another site
/// that frames it (invisibly, under a decoy) gets them clicked, and the cross-site refusal never
/// sees a foreign Origin. The page must refuse to be framed by anyone.
#[test]
fn the_dashboard_refuses_to_be_framed_by_another_site() {
    let server = Server::start();
    for (path, headers) in [
        ("/", vec![("Accept", "text/html")]),
        ("/gates", vec![]),
        ("/index", vec![]),
    ] {
        let r = server.request("GET", path, &headers, b"");
        assert_eq!(r.status, 200, "{path}: {r}");
        let csp = r.header("Content-Security-Policy").unwrap_or("");
        assert!(
            csp.split(';').any(|d| d.trim() == "frame-ancestors 'none'"),
            "{path}: the page may be framed (CSP {csp:?})"
        );
        assert_eq!(
            r.header("X-Frame-Options"),
            Some("DENY"),
            "{path}: older browsers read X-Frame-Options"
        );
    }
}

/// `since` is the last seq a caller saw, but seqs are each server's own and start again at 1 when it
/// restarts (the ring is in memory): a script that kept its `since` across a restart, or asks
/// another server of a `--store` group, must not hear nothing until the new numbers catch up.
#[test]
fn events_since_a_seq_this_server_never_gave_are_not_silence() {
    let server = Server::start_with(&["--log-format", "off"]);
    let grant = server.grab_ok(Enc::Form, &[("id", "db")]);
    let token = grant["token"].as_str().expect("a token").to_string();
    server.release_ok(Enc::Form, "db", &token);
    let now = server.get("/events").json();
    let next = now["next"].as_u64().expect("next");
    assert_eq!(now["events"].as_array().map(Vec::len), Some(2), "{now}");

    // A seq from before a restart: far beyond anything this server numbered.
    let stale = server
        .get(&format!("/events?since={}", next + 1_000))
        .json();
    let seqs: Vec<u64> = stale["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [next - 2, next - 1], "everything kept: {stale}");
    assert_eq!(
        stale["missed"], true,
        "what came after it is unknown: {stale}"
    );
    assert_eq!(stale["next"].as_u64(), Some(next));

    // The seq of the last change seen (next - 1) is still "nothing new", not a restart.
    let caught_up = server.get(&format!("/events?since={}", next - 1)).json();
    assert_eq!(caught_up["events"].as_array().map(Vec::len), Some(0));
    assert_eq!(caught_up["missed"], false);
}
