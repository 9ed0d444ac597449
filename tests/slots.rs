//! Black-box tests of counting semaphores and shared holders over HTTP: `slots` and `mode` on every
//! encoding of the WebMutex API (and its refusals), `/status`'s fields for several holders, shared
//! holders coexisting while an exclusive waiter holds back later shared ones, and the HAL and
//! request-queue APIs on a resource with several holders.

use crate::common;
use crate::hal_helpers;

use std::time::Duration;

use common::*;
use hal_helpers::{admin_get, admin_server, hal_post};
use serde_json::{Value, json};

/// How long a parked waiter's answer may take to arrive once it is due.
const ANSWER: Duration = Duration::from_secs(10);

/// `POST /grab` that must be refused with `status`; returns the body.
fn grab_refused(server: &Server, enc: Enc, fields: &[(&str, &str)], status: u16) -> Value {
    let r = server.post("/grab", enc, fields);
    assert_eq!(r.status, status, "grab {fields:?} ({enc:?}): {r}");
    r.assert_fail_json()
}

#[test]
fn a_semaphore_over_every_encoding_admits_n_and_refuses_another_n() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("gpu-{}", enc.name());
        let id = id.as_str();
        let a = server.grab_ok(enc, &[("id", id), ("slots", "2"), ("holder", "a")]);
        let b = server.grab_ok(enc, &[("id", id), ("slots", "2"), ("holder", "b")]);
        assert_eq!(
            (a["mode"].as_str(), b["mode"].as_str()),
            (Some("exclusive"), Some("exclusive"))
        );
        assert_ne!(a["token"], b["token"], "each holder its own token");
        assert!(num(&b["fence"], "fence") > num(&a["fence"], "fence"));

        // A plain grab joins the 2 in force: both slots are taken, so it is busy.
        let busy = grab_refused(&server, enc, &[("id", id)], 409);
        assert!(
            busy["reason"]
                .as_str()
                .is_some_and(|r| r.contains("held by a and 1 more")),
            "{busy}"
        );
        // Another number while in use: refused, saying the number in force.
        let differ = grab_refused(&server, enc, &[("id", id), ("slots", "3")], 409);
        assert_eq!(
            differ["reason"],
            format!("\"{id}\" admits 2 holders (slots=2); this request asked for 3")
        );
        assert_eq!(
            (differ["slots"].as_u64(), differ["asked"].as_u64()),
            (Some(2), Some(3))
        );

        let status = server.status(id);
        assert_eq!(status["in_use"], true);
        assert_eq!(
            (status["slots"].as_u64(), status["free"].as_u64()),
            (Some(2), Some(0))
        );
        assert_eq!(status["mode"], "exclusive");
        assert_eq!(
            status["holder"], "a",
            "the top-level fields are the oldest holder's"
        );
        assert_eq!(status["fence"], a["fence"]);
        let holders = status["holders"].as_array().expect("holders");
        let names: Vec<&str> = holders
            .iter()
            .filter_map(|h| h["holder"].as_str())
            .collect();
        assert_eq!(names, ["a", "b"], "oldest first: {status}");
        for h in holders {
            for field in ["since", "held_for", "fence", "mode"] {
                assert!(h.get(field).is_some(), "{field} in {h}");
            }
        }
        assert_no_token(&status, a["token"].as_str().expect("token"), "status");

        // One leaves: a slot is free, and shown so.
        server.release_ok(enc, id, a["token"].as_str().expect("token"));
        let status = server.status(id);
        assert_eq!(
            (status["free"].as_u64(), status["holder"].as_str()),
            (Some(1), Some("b"))
        );
        server.release_ok(enc, id, b["token"].as_str().expect("token"));
        let free = server.status(id);
        assert_eq!(free["in_use"], false);
        assert_eq!(free["holders"], json!([]));
        assert_eq!(
            (free["slots"].as_u64(), free["free"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(free["mode"], Value::Null);
    }
}

#[test]
fn bad_slots_and_modes_are_400_with_a_reason_on_every_encoding() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        for (field, value, words) in [
            ("slots", "0", "at least 1"),
            ("slots", "10001", "at most 10000"),
            ("slots", "99999999999999999999999", "slots"),
            ("slots", "two", "invalid slots"),
            ("slots", "-1", "invalid slots"),
            ("mode", "readers", "invalid mode"),
        ] {
            let body = grab_refused(&server, enc, &[("id", "x"), (field, value)], 400);
            assert!(
                body["reason"].as_str().is_some_and(|r| r.contains(words)),
                "{field}={value} ({enc:?}): {body}"
            );
            let r = server.post("/reserve", enc, &[(field, value)]);
            assert_eq!(r.status, 400, "/reserve {field}={value}: {r}");
        }
    }
    assert_eq!(server.status("x")["in_use"], false, "nothing was taken");
    // The query string counts too, and a JSON number is a number.
    let r = server.post_empty("/grab?id=q&slots=0");
    assert_eq!(r.status, 400, "{r}");
    let r = server.request(
        "POST",
        "/grab",
        &[("Content-Type", "application/json")],
        br#"{"id": "n", "slots": 4, "mode": "shared"}"#,
    );
    assert_eq!(r.status, 200, "{r}");
    let s = server.status("n");
    assert_eq!(
        (s["slots"].as_u64(), s["free"].as_u64(), s["mode"].as_str()),
        (Some(4), Some(3), Some("shared"))
    );
    let reserved = server.post("/reserve", Enc::Form, &[("slots", "3"), ("mode", "shared")]);
    assert_eq!(reserved.json()["slots"], 3, "{reserved}");
}

#[test]
fn shared_holders_coexist_and_an_exclusive_waiter_holds_back_later_ones() {
    let server = Server::start();
    let reader = |holder: &str| {
        server.grab_ok(
            Enc::Form,
            &[("id", "db"), ("mode", "shared"), ("holder", holder)],
        )
    };
    let (r1, r2) = (reader("r1"), reader("r2"));
    let s = server.status("db");
    assert_eq!(
        (s["mode"].as_str(), s["holders"].as_array().map(Vec::len)),
        (Some("shared"), Some(2))
    );
    assert_eq!(
        (s["slots"].clone(), s["free"].clone()),
        (Value::Null, Value::Null),
        "unbounded"
    );

    // A writer waits; a reader after it waits too, though it could hold beside the readers.
    let writer = spawn_grab(
        server.addr(),
        Enc::Form,
        &[("id", "db"), ("holder", "w"), ("wait", "30")],
        ANSWER * 3,
    );
    server.wait_for_waiting("db", 1);
    let late = spawn_grab(
        server.addr(),
        Enc::Form,
        &[
            ("id", "db"),
            ("mode", "shared"),
            ("holder", "r3"),
            ("wait", "30"),
        ],
        ANSWER * 3,
    );
    let s = server.wait_for_waiting("db", 2);
    let queue: Vec<&str> = s["queue"]
        .as_array()
        .expect("queue")
        .iter()
        .filter_map(|w| w["holder"].as_str())
        .collect();
    assert_eq!(queue, ["w", "r3"]);
    assert_eq!(
        grab_refused(&server, Enc::Form, &[("id", "db"), ("mode", "shared")], 409)["in_use"],
        true,
        "a reader that would not wait is busy too"
    );

    server.release_ok(Enc::Form, "db", r1["token"].as_str().expect("token"));
    assert_eq!(
        server.status("db")["waiting"],
        2,
        "the writer waits for every reader"
    );
    server.release_ok(Enc::Form, "db", r2["token"].as_str().expect("token"));
    let w = recv_within(&writer, ANSWER, "the writer's grant").expect("an answer");
    assert_eq!(w.status, 200, "{w}");
    let w = w.json();
    assert_eq!(w["mode"], "exclusive");
    let s = server.status("db");
    assert_eq!(
        (s["holder"].as_str(), s["waiting"].as_u64()),
        (Some("w"), Some(1)),
        "{s}"
    );

    server.release_ok(Enc::Form, "db", w["token"].as_str().expect("token"));
    let r3 = recv_within(&late, ANSWER, "the late reader's grant").expect("an answer");
    assert_eq!(
        (r3.status, r3.json()["mode"].as_str()),
        (200, Some("shared")),
        "{r3}"
    );
}

#[test]
fn the_listing_shows_slots_free_mode_and_holders() {
    let server = Server::start();
    server.grab_ok(Enc::Form, &[("id", "a"), ("slots", "3"), ("holder", "x")]);
    server.grab_ok(Enc::Form, &[("id", "b"), ("mode", "shared")]);
    let r = server.get("/status");
    assert_eq!(r.status, 200, "{r}");
    let locks = r.json()["locks"].clone();
    assert_eq!(locks[0]["id"], "a");
    assert_eq!(
        (locks[0]["slots"].as_u64(), locks[0]["free"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(locks[0]["holders"][0]["holder"], "x");
    assert_eq!(
        (locks[1]["mode"].as_str(), locks[1]["free"].clone()),
        (Some("shared"), Value::Null)
    );
}

#[test]
fn hal_and_request_queue_take_slots_and_show_every_holder() {
    let server = admin_server();
    for title in ["one", "two"] {
        let r = hal_post(
            &server,
            "pool",
            &json!({"title": title, "slots": 2}).to_string(),
        );
        assert_eq!(r.status, 201, "{r}");
    }
    let r = hal_post(
        &server,
        "pool",
        &json!({"title": "three", "slots": 3}).to_string(),
    );
    assert_eq!(r.status, 409, "{r}");
    assert!(r.text().contains("admits 2 holders (slots=2)"), "{r}");
    let r = hal_post(
        &server,
        "pool",
        &json!({"title": "bad", "mode": "both"}).to_string(),
    );
    assert_eq!(r.status, 400, "{r}");
    let listing = admin_get(&server, "/resources/pool");
    let locks = listing.json()["_embedded"]["locks"].clone();
    let active: Vec<&Value> = locks
        .as_array()
        .expect("locks")
        .iter()
        .filter(|l| l["active"] == true)
        .collect();
    assert_eq!(active.len(), 2, "both holders are active locks: {listing}");
    assert!(active.iter().all(|l| l["mode"] == "exclusive"));

    // The same resource through the request-queue API: a shared request names other slots: refused.
    let rq = |body: Value| {
        server.request(
            "POST",
            "/v1/locks/readers/requests/",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    };
    for n in 0..2 {
        let r = rq(json!({"requester_data": {"n": n}, "mode": "shared"}));
        assert_eq!(r.status, 201, "{r}");
    }
    let r = rq(json!({"requester_data": {}, "slots": 5, "mode": "shared"}));
    assert_eq!(r.status, 409, "{r}");
    assert!(r.text().contains("no slots set"), "{r}");
    let r = rq(json!({"requester_data": {}, "slots": 0}));
    assert_eq!(r.status, 400, "{r}");
    let r = rq(json!({"requester_data": {"writer": true}}));
    assert_eq!(r.status, 202, "a writer waits for the readers: {r}");
    let resource = server.get("/v1/locks/readers/");
    let doc = resource.json();
    assert_eq!(doc["owners"].as_array().map(Vec::len), Some(2), "{doc}");
    assert_eq!(doc["owner"], doc["owners"][0], "the owner is the oldest");
}
