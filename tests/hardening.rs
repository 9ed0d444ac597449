//! Edges a review found in the dashboard, the event list and the gatekeeper (each test failed before
//! its fix): the page is not framed by other sites, `/events` after a restart is not silence, and a
//! ticket that survived a service's deletion is presented as its client made it.
use crate::common;

use common::{Enc, Server};
use serde_json::{Value, json};

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
    let server = Server::builder().args(&["--log-format", "off"]).start();
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

/// `PUT /api/services` as the gatekeeper's clients send it, presenting `ticket` with a JSON body.
fn test_and_set(server: &Server, services: &Value, ticket: Option<&str>) -> common::Response {
    let mut body = json!({ "services": services });
    if let Some(t) = ticket {
        body["ticket"] = t.into();
    }
    server.request(
        "PUT",
        "/api/services?queue=true",
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

fn ticket_of(r: &common::Response, status: &str) -> String {
    assert_eq!(r.status, 200, "{r}");
    let v = r.json();
    assert_eq!(v["status"], status, "{v}");
    v["ticket"]["id"].as_str().expect("a ticket id").to_string()
}

/// A ticket waiting for gates of two services survives the deletion of one (it keeps its place at
/// the other's gates, docs/api.md). Its client still presents it with the gates it was made for, as
/// every gatekeeper client (and `weblock gate enter`) does: that call must find the ticket, not
/// answer 404 `Gate not found` for the deleted service, which left the survivor unreachable in its
/// queue (blocking everyone behind it until it expired) and its client told its gates are gone.
#[test]
fn a_ticket_that_survived_a_service_deletion_is_presented_as_its_client_made_it() {
    let server = Server::start();
    for (service, gate) in [("shop", "live"), ("pipeline", "meta")] {
        let r = server.request(
            "POST",
            &format!("/api/services/{service}"),
            &[("Content-Type", "application/json")],
            json!({"group": "g", "environments": [gate]})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(r.status, 200, "{r}");
    }
    let both = json!({"shop": ["live"], "pipeline": ["meta"]});
    let holder = ticket_of(
        &test_and_set(&server, &json!({"pipeline": ["meta"]}), None),
        "ok",
    );
    let waiting = ticket_of(&test_and_set(&server, &both, None), "queue");

    let r = server.request("DELETE", "/api/services/shop", &[], b"");
    assert_eq!(r.status, 200, "{r}");
    // Still its turn's next: presented as it was made, it is still queued.
    let r = test_and_set(&server, &both, Some(&waiting));
    assert_eq!(
        ticket_of(&r, "queue"),
        waiting,
        "the survivor presented with its own gates"
    );
    let r = server.request("DELETE", &format!("/api/tickets/{holder}"), &[], b"");
    assert_eq!(r.status, 200, "{r}");
    let r = test_and_set(&server, &both, Some(&waiting));
    assert_eq!(ticket_of(&r, "ok"), waiting, "its turn: granted");

    // A newcomer naming the deleted service is still 404, as the original answers.
    let r = test_and_set(&server, &both, None);
    assert_eq!(r.status, 404, "{r}");
}

/// Tickets need no connection to stay, so no connection limit bounds them: a call that would make a
/// new one past the bound (here 3, by the test knob) is refused with 503, while the tickets that
/// exist are still presented, and a new one is made again once one ends.
#[test]
fn live_tickets_are_bounded_and_the_ones_that_exist_still_work() {
    let server = Server::builder()
        .stderr(common::Stderr::Drained)
        .envs(&[("WEBLOCK_MAX_LIVE_TICKETS", "3")])
        .start();
    let created = server.request(
        "POST",
        "/api/services/shop",
        &[("Content-Type", "application/json")],
        br#"{"group": "g", "environments": ["live"]}"#,
    );
    assert_eq!(created.status, 200, "{created}");
    let gates = json!({"shop": ["live"]});
    let holder = ticket_of(&test_and_set(&server, &gates, None), "ok");
    let waiting: Vec<String> = (0..2)
        .map(|_| ticket_of(&test_and_set(&server, &gates, None), "queue"))
        .collect();
    let refused = test_and_set(&server, &gates, None);
    assert_eq!(refused.status, 503, "{refused}");
    assert!(
        refused.json()["reason"]
            .as_str()
            .is_some_and(|r| r.contains("too many live tickets")),
        "{refused}"
    );
    // The ones that exist are still presented.
    assert_eq!(
        ticket_of(&test_and_set(&server, &gates, Some(&waiting[0])), "queue"),
        waiting[0]
    );
    let ended = server.request("DELETE", &format!("/api/tickets/{holder}"), &[], b"");
    assert_eq!(ended.status, 200, "{ended}");
    ticket_of(&test_and_set(&server, &gates, None), "queue");
}
