//! Black-box tests of the WebMutex API (`/grab`, `/release`, `/status`, `/reserve`, `/renew`) against
//! the real `weblock serve`, as specified in docs/api.md and the original WebMutex document
//! (shared/seeds/000_b94221a01472a8af.txt). Most tests run over all three body encodings: JSON,
//! urlencoded (`curl -d`) and multipart (`curl -F`).

use crate::common;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::TryRecvError;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v}"))
}

fn fence_of(v: &Value) -> u64 {
    v["fence"]
        .as_u64()
        .unwrap_or_else(|| panic!("`fence` is not a non-negative integer in {v}"))
}

/// Asserts the shape every grant has (`/grab` 200) and returns its token.
fn assert_grant(g: &Value, id: &str, what: &str) -> String {
    assert_eq!(g["status"], "ok", "{what}: {g}");
    assert_eq!(g["id"], id, "{what}: {g}");
    let token = assert_uuid(&g["token"], &format!("{what}: token"));
    fence_of(g);
    assert!(
        g["holder"].is_string(),
        "{what}: a grant names its holder: {g}"
    );
    assert_rfc3339_millis(&g["since"], &format!("{what}: since"));
    token
}

// ---------------------------------------------------------------------------------------------------
// /grab
// ---------------------------------------------------------------------------------------------------

#[test]
fn grab_of_a_free_named_mutex_is_granted_with_token_fence_holder_and_since() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("db-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id)]);
        assert_grant(&g, &id, &format!("{enc:?} grab"));
        assert!(
            g.get("ttl").is_none(),
            "{enc:?}: no lease asked, so no `ttl`: {g}"
        );
        assert!(
            g.get("expires").is_none(),
            "{enc:?}: no lease asked, so no `expires`: {g}"
        );
    }
}

#[test]
fn a_named_mutex_exists_from_its_first_use() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("never-seen-{}", enc.name());
        let s = server.status(&id);
        assert_eq!(s["status"], "ok", "{s}");
        assert_eq!(s["id"], id.as_str(), "{s}");
        assert_eq!(s["in_use"], false, "a never-used mutex is free: {s}");
        server.grab_ok(enc, &[("id", &id)]);
        assert_eq!(server.status(&id)["in_use"], true);
    }
}

#[test]
fn grab_without_id_allocates_a_new_mutex_and_grabs_it() {
    let server = Server::start();
    let mut ids = Vec::new();
    for enc in ALL_ENCODINGS {
        let holder = format!("anon-{}", enc.name());
        let g = server.grab_ok(enc, &[("holder", &holder)]);
        let id = assert_uuid(&g["id"], &format!("{enc:?}: allocated id"));
        assert_grant(&g, &id, &format!("{enc:?} grab without id"));
        let s = server.status(&id);
        assert_eq!(s["in_use"], true, "{enc:?}: the new mutex is held: {s}");
        assert_eq!(s["holder"], holder.as_str(), "{s}");
        ids.push(id);
    }
    // No body at all.
    let r = server.post_empty("/grab");
    assert_eq!(r.status, 200, "POST /grab with no body: {r}");
    let g = r.json();
    let id = assert_uuid(&g["id"], "allocated id (no body)");
    assert_grant(&g, &id, "grab with no body");
    ids.push(id);

    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "every allocation is a new mutex: {ids:?}"
    );
}

#[test]
fn grab_with_empty_id_allocates_a_new_mutex_and_grabs_it() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let a = server.grab_ok(enc, &[("id", "")]);
        let b = server.grab_ok(enc, &[("id", "")]);
        let id_a = assert_uuid(&a["id"], &format!("{enc:?}: allocated id"));
        let id_b = assert_uuid(&b["id"], &format!("{enc:?}: allocated id"));
        assert_ne!(id_a, id_b, "{enc:?}: two empty-id grabs make two mutexes");
        assert_grant(&a, &id_a, &format!("{enc:?} empty id"));
        assert_eq!(server.status(&id_a)["in_use"], true);
        assert_eq!(server.status(&id_b)["in_use"], true);
    }
}

#[test]
fn grab_of_a_held_mutex_is_refused_with_409_saying_who_holds_it_and_since_when() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("held-{}", enc.name());
        let first = server.grab_ok(enc, &[("id", &id), ("holder", "alice@build3")]);
        let token = assert_grant(&first, &id, "first grab");
        let since = str_of(&first, "since");

        let r = server.post("/grab", enc, &[("id", &id), ("holder", "bob")]);
        assert_eq!(
            r.status, 409,
            "{enc:?}: a held mutex is refused with 409 (a 4xx for curl -f): {r}"
        );
        let v = r.assert_fail_json();
        assert_eq!(v["id"], id.as_str(), "{v}");
        assert_eq!(v["in_use"], true, "{v}");
        assert_eq!(
            v["holder"], "alice@build3",
            "the refusal says who holds it: {v}"
        );
        assert_eq!(v["since"], since, "the refusal says since when: {v}");
        assert_eq!(v["waiting"], 0, "{v}");
        let reason = str_of(&v, "reason");
        assert!(
            reason.contains("alice@build3"),
            "the reason names the holder: {reason:?}"
        );
        assert!(
            reason.contains(since),
            "the reason gives the time it was taken: {reason:?}"
        );
        assert_no_token(&v, &token, "a 409 refusal");

        let s = server.status(&id);
        assert_eq!(
            s["holder"], "alice@build3",
            "the refused grab changed nothing: {s}"
        );
    }
}

#[test]
fn grab_with_wait_of_a_free_mutex_is_granted_at_once() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("free-wait-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id), ("wait", "30")]);
        assert_grant(&g, &id, &format!("{enc:?} grab with wait"));
    }
}

#[test]
fn a_retried_grab_with_the_same_client_token_gets_the_same_grant() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("retry-{}", enc.name());
        let token = new_uuid();
        let g1 = server.grab_ok(enc, &[("id", &id), ("token", &token)]);
        assert_eq!(
            assert_grant(&g1, &id, "first grab"),
            token,
            "the client's token is used: {g1}"
        );
        let g2 = server.grab_ok(enc, &[("id", &id), ("token", &token)]);
        assert_eq!(g2["token"], token.as_str(), "{g2}");
        assert_eq!(
            fence_of(&g2),
            fence_of(&g1),
            "the same grant again, same fence: {g1} / {g2}"
        );
        assert_eq!(g2["since"], g1["since"], "{g1} / {g2}");

        let other = server.post("/grab", enc, &[("id", &id), ("token", &new_uuid())]);
        assert_eq!(other.status, 409, "another token is still refused: {other}");
        other.assert_fail_json();
    }
}

// ---------------------------------------------------------------------------------------------------
// /release
// ---------------------------------------------------------------------------------------------------

#[test]
fn release_by_the_holder_frees_the_mutex() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("rel-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id)]);
        let token = assert_grant(&g, &id, "grab");
        let v = server.release_ok(enc, &id, &token);
        assert_eq!(v["id"], id.as_str(), "{v}");
        assert_eq!(server.status(&id)["in_use"], false);

        let again = server.grab_ok(enc, &[("id", &id)]);
        let token2 = assert_grant(&again, &id, "grab after release");
        assert_ne!(token2, token, "a new grant has a new token");
    }
}

#[test]
fn release_with_wrong_token_is_refused() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("wrong-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id), ("holder", "owner")]);
        let token = assert_grant(&g, &id, "grab");

        let r = server.post("/release", enc, &[("id", &id), ("token", &new_uuid())]);
        assert_eq!(
            r.status, 409,
            "{enc:?}: a token that does not hold the mutex is refused: {r}"
        );
        let v = r.assert_fail_json();
        let reason = str_of(&v, "reason");
        assert!(
            reason.contains("held by another token"),
            "{enc:?}: reason {reason:?}"
        );
        assert_no_token(&v, &token, "a refused release");

        let s = server.status(&id);
        assert_eq!(s["in_use"], true, "still held: {s}");
        assert_eq!(s["holder"], "owner", "{s}");
        server.release_ok(enc, &id, &token);
    }
}

#[test]
fn release_of_a_free_mutex_is_refused_as_not_held() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("nobody-{}", enc.name());
        let r = server.post("/release", enc, &[("id", &id), ("token", &new_uuid())]);
        assert_eq!(r.status, 409, "{enc:?}: {r}");
        let v = r.assert_fail_json();
        let reason = str_of(&v, "reason");
        assert!(reason.contains("is not held"), "{enc:?}: reason {reason:?}");
    }
}

#[test]
fn release_again_with_the_same_token_is_ok_until_someone_else_grabs() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("twice-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id)]);
        let token = assert_grant(&g, &id, "grab");
        server.release_ok(enc, &id, &token);
        // A client retrying after a lost answer must not fail.
        server.release_ok(enc, &id, &token);
        server.release_ok(enc, &id, &token);
        assert_eq!(server.status(&id)["in_use"], false);

        let g2 = server.grab_ok(enc, &[("id", &id)]);
        assert_grant(&g2, &id, "grab by someone else");
        let r = server.post("/release", enc, &[("id", &id), ("token", &token)]);
        assert_eq!(
            r.status, 409,
            "{enc:?}: once someone else holds it, the old token is refused: {r}"
        );
        r.assert_fail_json();
        assert_eq!(server.status(&id)["in_use"], true);
    }
}

#[test]
fn release_needs_an_id_and_a_uuid_token() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("needs-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id)]);
        let token = assert_grant(&g, &id, "grab");

        for (what, fields) in [
            ("no token", vec![("id", id.as_str())]),
            ("no id", vec![("token", token.as_str())]),
            (
                "a token that is not a UUID",
                vec![("id", id.as_str()), ("token", "not-a-uuid")],
            ),
        ] {
            let r = server.post("/release", enc, &fields);
            assert_eq!(r.status, 400, "{enc:?}: release with {what} is 400: {r}");
            r.assert_fail_json();
        }
        assert_eq!(
            server.status(&id)["in_use"],
            true,
            "{enc:?}: the bad releases changed nothing"
        );
    }
}

#[test]
fn release_of_a_waiting_token_withdraws_it_from_the_queue() {
    let server = Server::start();
    let id = "withdraw";
    let g = server.grab_ok(Enc::Json, &[("id", id)]);
    let holder_token = assert_grant(&g, id, "grab");

    let waiter_token = new_uuid();
    // The waiter's own connection stays open; what it is answered is not specified, so it is not read.
    let _waiter = spawn_grab(
        server.addr(),
        Enc::Form,
        &[("id", id), ("token", &waiter_token), ("wait", "5")],
        Duration::from_secs(8),
    );
    server.wait_for_waiting(id, 1);

    let r = server.post(
        "/release",
        Enc::Form,
        &[("id", id), ("token", &waiter_token)],
    );
    assert_eq!(r.status, 200, "a waiting token's release withdraws it: {r}");
    let v = r.json();
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["id"], id, "{v}");
    assert_eq!(v["withdrawn"], true, "{v}");
    assert_eq!(server.status(id)["waiting"], 0, "out of the queue");

    server.release_ok(Enc::Json, id, &holder_token);
    let s = server.status(id);
    assert_eq!(
        s["in_use"], false,
        "the withdrawn waiter did not get the mutex: {s}"
    );
}

// ---------------------------------------------------------------------------------------------------
// /status
// ---------------------------------------------------------------------------------------------------

#[test]
fn status_shows_a_held_mutex_and_never_shows_a_token() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("look-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id), ("holder", "carol")]);
        let token = assert_grant(&g, &id, "grab");

        let mut answers: Vec<(String, Value)> = Vec::new();
        answers.push(("GET /status?id=".into(), server.status(&id)));
        let r = server.post("/status", enc, &[("id", &id)]);
        assert_eq!(r.status, 200, "{enc:?}: POST /status: {r}");
        answers.push((format!("POST /status ({enc:?})"), r.json()));
        let r = server.get(&format!("/status/{id}"));
        assert_eq!(r.status, 200, "GET /status/{id}: {r}");
        answers.push(("GET /status/<id>".into(), r.json()));

        for (what, s) in &answers {
            assert_eq!(s["status"], "ok", "{what}: {s}");
            assert_eq!(s["id"], id.as_str(), "{what}: {s}");
            assert_eq!(s["in_use"], true, "{what}: {s}");
            assert_eq!(s["holder"], "carol", "{what}: {s}");
            assert_eq!(s["since"], g["since"], "{what}: {s}");
            assert_eq!(s["fence"], g["fence"], "{what}: {s}");
            assert_eq!(s["waiting"], 0, "{what}: {s}");
            assert_no_token(s, &token, what);
        }

        let all = server.get("/status");
        assert_eq!(all.status, 200, "{all}");
        assert_no_token(&all.json(), &token, "GET /status (all locks)");
        assert!(
            !all.text().contains(&token),
            "GET /status (all locks) shows the token: {all}"
        );
    }
}

#[test]
fn status_of_a_free_mutex_says_not_in_use() {
    let server = Server::start();
    let g = server.grab_ok(Enc::Form, &[("id", "was-used")]);
    let token = assert_grant(&g, "was-used", "grab");
    server.release_ok(Enc::Form, "was-used", &token);
    for id in ["was-used", "never-used"] {
        for enc in ALL_ENCODINGS {
            let r = server.post("/status", enc, &[("id", id)]);
            assert_eq!(r.status, 200, "{enc:?}: {r}");
            let s = r.json();
            assert_eq!(s["status"], "ok", "{s}");
            assert_eq!(s["id"], id, "{s}");
            assert_eq!(s["in_use"], false, "{s}");
        }
    }
}

#[test]
fn status_without_id_lists_held_mutexes_sorted_by_id() {
    let server = Server::start();
    let mut tokens = Vec::new();
    for id in ["m-bravo", "m-alpha", "m-charlie"] {
        let g = server.grab_ok(Enc::Json, &[("id", id)]);
        tokens.push(assert_grant(&g, id, "grab"));
    }
    // Released: free and nobody waiting, so not listed.
    server.release_ok(Enc::Json, "m-charlie", &tokens[2]);
    // Reserved or merely looked at: nothing stored, so not listed.
    let reserved = server.post_empty("/reserve").json();
    let reserved_id = str_of(&reserved, "id").to_string();
    server.status("m-looked-at");

    for r in [server.get("/status"), server.post_empty("/status")] {
        assert_eq!(r.status, 200, "{r}");
        let v = r.json();
        assert_eq!(v["status"], "ok", "{v}");
        let locks = v["locks"]
            .as_array()
            .unwrap_or_else(|| panic!("`locks` is not an array: {v}"));
        let ids: Vec<&str> = locks
            .iter()
            .map(|l| l["id"].as_str().unwrap_or("?"))
            .collect();
        assert_eq!(
            ids,
            ["m-alpha", "m-bravo"],
            "held mutexes, sorted by id (not {reserved_id}): {v}"
        );
        for l in locks {
            assert_eq!(l["in_use"], true, "{v}");
        }
        for t in &tokens {
            assert_no_token(&v, t, "GET /status (all locks)");
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// /reserve
// ---------------------------------------------------------------------------------------------------

#[test]
fn reserve_returns_a_fresh_uuid_id_left_free() {
    let server = Server::start();
    let a = server.post_empty("/reserve");
    let b = server.post_empty("/reserve");
    assert_eq!(a.status, 200, "{a}");
    assert_eq!(b.status, 200, "{b}");
    let (a, b) = (a.json(), b.json());
    assert_eq!(a["status"], "ok", "{a}");
    let id_a = assert_uuid(&a["id"], "reserved id");
    let id_b = assert_uuid(&b["id"], "reserved id");
    assert_ne!(id_a, id_b, "each reserve is a new id");
    assert!(a.get("token").is_none(), "reserve grabs nothing: {a}");

    let s = server.status(&id_a);
    assert_eq!(s["in_use"], false, "a reserved mutex is left free: {s}");
    let g = server.grab_ok(Enc::Multipart, &[("id", &id_a)]);
    assert_grant(&g, &id_a, "grab of a reserved id");
}

// ---------------------------------------------------------------------------------------------------
// Ids: from the path, quoted, validated
// ---------------------------------------------------------------------------------------------------

#[test]
fn id_may_come_from_the_path_with_or_without_trailing_slash() {
    let server = Server::start();
    for (n, slash) in ["", "/"].into_iter().enumerate() {
        for enc in ALL_ENCODINGS {
            let id = format!("path-{}-{n}", enc.name());
            let what = format!("{enc:?}, /<request>/{id}{slash}");

            let r = server.post(
                &format!("/grab/{id}{slash}"),
                enc,
                &[("holder", "via-path"), ("ttl", "60")],
            );
            assert_eq!(r.status, 200, "{what}: grab: {r}");
            let g = r.json();
            let token = assert_grant(&g, &id, &what);

            for r in [
                server.get(&format!("/status/{id}{slash}")),
                server.post_empty(&format!("/status/{id}{slash}")),
            ] {
                assert_eq!(r.status, 200, "{what}: status: {r}");
                let s = r.json();
                assert_eq!(s["id"], id.as_str(), "{what}: {s}");
                assert_eq!(s["in_use"], true, "{what}: {s}");
                assert_eq!(s["holder"], "via-path", "{what}: {s}");
            }

            let r = server.post(&format!("/renew/{id}{slash}"), enc, &[("token", &token)]);
            assert_eq!(r.status, 200, "{what}: renew: {r}");
            assert_eq!(r.json()["status"], "ok", "{what}: renew: {r}");

            let r = server.post(&format!("/release/{id}{slash}"), enc, &[("token", &token)]);
            assert_eq!(r.status, 200, "{what}: release: {r}");
            assert_eq!(r.json()["status"], "ok", "{what}: release: {r}");
            assert_eq!(server.status(&id)["in_use"], false, "{what}: released");
        }
    }
}

#[test]
fn quoted_id_and_token_name_the_same_mutex_as_unquoted() {
    // The seed's loop passes `$(jq .id < mutex)`, quotes included.
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("quoted-{}", enc.name());
        let quoted_id = format!("\"{id}\"");
        let g = server.grab_ok(enc, &[("id", &quoted_id)]);
        let token = assert_grant(&g, &id, &format!("{enc:?}: grab of {quoted_id}"));

        let s = server.status(&id);
        assert_eq!(
            s["in_use"], true,
            "{enc:?}: {quoted_id} and {id} are one mutex: {s}"
        );
        let r = server.post("/grab", enc, &[("id", &id)]);
        assert_eq!(r.status, 409, "{enc:?}: {r}");

        let quoted_token = format!("\"{token}\"");
        let r = server.post(
            "/release",
            enc,
            &[("id", &quoted_id), ("token", &quoted_token)],
        );
        assert_eq!(
            r.status, 200,
            "{enc:?}: release with quoted id and token: {r}"
        );
        assert_eq!(server.status(&id)["in_use"], false);
    }
}

#[test]
fn ids_outside_the_alphabet_or_longer_than_128_characters_are_400() {
    let server = Server::start();
    let too_long = "x".repeat(129);
    let longest = "y".repeat(128);
    for enc in ALL_ENCODINGS {
        for bad in [
            "has space",
            "slash/inside",
            "semi;colon",
            "ümlaut",
            "star*",
            too_long.as_str(),
        ] {
            let r = server.post("/grab", enc, &[("id", bad)]);
            assert_eq!(r.status, 400, "{enc:?}: id {bad:?} is refused: {r}");
            r.assert_fail_json();
        }
        for good in ["Res.o_u:r-ce9", longest.as_str()] {
            let r = server.post("/status", enc, &[("id", good)]);
            assert_eq!(r.status, 200, "{enc:?}: id {good:?} is valid: {r}");
        }
    }
    let g = server.grab_ok(Enc::Json, &[("id", &longest)]);
    assert_grant(&g, &longest, "grab of a 128-character id");
    let r = server.get("/status?id=has%20space");
    assert_eq!(r.status, 400, "{r}");
    r.assert_fail_json();
}

// ---------------------------------------------------------------------------------------------------
// Errors: methods, paths, bodies, values
// ---------------------------------------------------------------------------------------------------

#[test]
fn wrong_method_is_405_with_an_allow_header() {
    let server = Server::start();
    for (method, path, allowed) in [
        ("GET", "/grab", &["POST"][..]),
        ("GET", "/grab/db", &["POST"][..]),
        ("DELETE", "/grab", &["POST"][..]),
        ("GET", "/release", &["POST"][..]),
        ("GET", "/reserve", &["POST"][..]),
        ("GET", "/renew", &["POST"][..]),
        ("PUT", "/status", &["GET", "POST"][..]),
        ("DELETE", "/status/db", &["GET", "POST"][..]),
    ] {
        let r = server.request(method, path, &[], b"");
        assert_eq!(r.status, 405, "{method} {path}: {r}");
        let allow = r
            .header("allow")
            .unwrap_or_else(|| panic!("{method} {path}: no Allow header: {r}"));
        let listed: Vec<String> = allow
            .split(',')
            .map(|m| m.trim().to_ascii_uppercase())
            .collect();
        for m in allowed {
            assert!(
                listed.iter().any(|x| x == m),
                "{method} {path}: Allow {allow:?} lacks {m}"
            );
        }
        r.assert_fail_json();
    }
    assert_eq!(
        server.status("db")["in_use"],
        false,
        "the refused methods touched nothing"
    );
}

#[test]
fn unknown_path_is_404_with_a_json_reason() {
    let server = Server::start();
    for (method, path) in [
        ("GET", "/nope"),
        ("POST", "/grabber"),
        ("POST", "/lock"),
        ("GET", "/statuses"),
    ] {
        let r = server.request(method, path, &[], b"");
        assert_eq!(r.status, 404, "{method} {path}: {r}");
        r.assert_fail_json();
    }
}

#[test]
fn malformed_bodies_are_400() {
    let server = Server::start();
    let b = "XyZb0undary";
    let cases: Vec<(&str, Option<String>, Vec<u8>)> = vec![
        (
            "truncated JSON",
            Some("application/json".into()),
            b"{\"id\": \"db\"".to_vec(),
        ),
        (
            "not JSON at all",
            Some("application/json".into()),
            b"id=db".to_vec(),
        ),
        ("untyped body starting with {", None, b"{\"id\": ".to_vec()),
        (
            "multipart without a boundary parameter",
            Some("multipart/form-data".into()),
            multipart_body(b, &[("id", "db")]),
        ),
        (
            "multipart body without its boundary",
            Some(format!("multipart/form-data; boundary={b}")),
            b"id=db and no boundary anywhere".to_vec(),
        ),
        (
            "multipart cut short",
            Some(format!("multipart/form-data; boundary={b}")),
            format!("--{b}\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\ndb").into_bytes(),
        ),
    ];
    for path in ["/grab", "/release", "/status"] {
        for (what, ct, body) in &cases {
            let mut headers = Vec::new();
            if let Some(ct) = ct {
                headers.push(("Content-Type", ct.as_str()));
            }
            let r = server.request("POST", path, &headers, body);
            assert_eq!(r.status, 400, "POST {path} with {what}: {r}");
            r.assert_fail_json();
        }
    }
    assert_eq!(
        server.status("db")["in_use"],
        false,
        "no malformed grab took the mutex"
    );
}

#[test]
fn json_body_that_is_not_an_object_is_400() {
    // Parameters are named fields; a JSON array, string or number carries none and is not an empty
    // parameter set (which would allocate a new mutex on /grab).
    let server = Server::start();
    for body in [&b"[\"db\"]"[..], b"\"db\"", b"42", b"null"] {
        for path in ["/grab", "/release", "/status"] {
            let r = server.request("POST", path, &[("Content-Type", "application/json")], body);
            assert_eq!(
                r.status,
                400,
                "POST {path} with JSON body {}: {r}",
                String::from_utf8_lossy(body)
            );
            r.assert_fail_json();
        }
    }
    let all = server.get("/status").json();
    assert_eq!(
        all["locks"],
        serde_json::json!([]),
        "no mutex was allocated: {all}"
    );
}

#[test]
fn out_of_range_or_unparsable_parameters_are_400() {
    let server = Server::start();
    let long_holder = "h".repeat(257);
    for enc in ALL_ENCODINGS {
        let id = format!("values-{}", enc.name());
        for (what, key, value) in [
            ("a wait that is not a number", "wait", "soon"),
            ("a negative wait", "wait", "-1"),
            ("a wait over 86400 s", "wait", "86401"),
            ("a zero ttl", "ttl", "0"),
            ("a negative ttl", "ttl", "-3"),
            ("a ttl over 30 days", "ttl", "2592001"),
            ("a ttl that is not a number", "ttl", "never"),
            ("a holder over 256 bytes", "holder", long_holder.as_str()),
            ("a holder with a terminal escape", "holder", "evil\u{1b}[2J"),
            ("a holder with a line break", "holder", "two\nlines"),
            ("a client token that is not a UUID", "token", "my-token"),
        ] {
            let r = server.post("/grab", enc, &[("id", &id), (key, value)]);
            assert_eq!(r.status, 400, "{enc:?}: grab with {what}: {r}");
            r.assert_fail_json();
        }
        assert_eq!(
            server.status(&id)["in_use"],
            false,
            "{enc:?}: no refused grab took the mutex"
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// Extensions: wait (FIFO), ttl, renew, holder, fence
// ---------------------------------------------------------------------------------------------------

#[test]
fn a_waiter_is_answered_when_the_mutex_is_released_to_it() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("handover-{}", enc.name());
        let first = server.grab_ok(enc, &[("id", &id), ("holder", "first")]);
        let first_token = assert_grant(&first, &id, "first grab");

        let rx = spawn_grab(
            server.addr(),
            enc,
            &[("id", &id), ("wait", "10"), ("holder", "second")],
            Duration::from_secs(15),
        );
        let s = server.wait_for_waiting(&id, 1);
        assert_eq!(s["holder"], "first", "{s}");
        assert!(
            rx.try_recv().is_err(),
            "{enc:?}: the waiter is not answered while the mutex is held"
        );

        server.release_ok(enc, &id, &first_token);
        let r = recv_within(
            &rx,
            Duration::from_secs(5),
            "the waiter's grant after the release",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 200, "{enc:?}: {r}");
        let g = r.json();
        let token = assert_grant(&g, &id, "the waiter's grant");
        assert_ne!(token, first_token);
        assert_eq!(g["holder"], "second", "{g}");
        assert!(
            fence_of(&g) > fence_of(&first),
            "the hand-over is a new grant: {first} / {g}"
        );

        let s = server.status(&id);
        assert_eq!(s["holder"], "second", "{s}");
        assert_eq!(s["waiting"], 0, "{s}");
    }
}

#[test]
fn waiters_are_served_in_fifo_order() {
    let server = Server::start();
    let id = "fifo";
    let g = server.grab_ok(Enc::Json, &[("id", id), ("holder", "w-first")]);
    let mut token = assert_grant(&g, id, "first grab");
    let mut fence = fence_of(&g);

    // Each waiter joins only once the previous one shows in the queue, so the arrival order is known.
    let n = 5;
    let mut waiters = Vec::new();
    for i in 0..n {
        let enc = ALL_ENCODINGS[i % ALL_ENCODINGS.len()];
        let holder = format!("w{i}");
        let rx = spawn_grab(
            server.addr(),
            enc,
            &[("id", id), ("wait", "20"), ("holder", &holder)],
            Duration::from_secs(25),
        );
        server.wait_for_waiting(id, i as u64 + 1);
        waiters.push((holder, rx));
    }

    for i in 0..n {
        server.release_ok(Enc::Form, id, &token);
        let (holder, rx) = &waiters[i];
        let r = recv_within(
            rx,
            Duration::from_secs(5),
            &format!("waiter {holder}, next in line"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 200, "{holder}: {r}");
        let g = r.json();
        token = assert_grant(&g, id, holder);
        assert_eq!(g["holder"], holder.as_str(), "{g}");
        assert!(fence_of(&g) > fence, "fences grow with each hand-over: {g}");
        fence = fence_of(&g);

        for (later, rx) in &waiters[i + 1..] {
            assert!(
                matches!(rx.try_recv(), Err(TryRecvError::Empty)),
                "{later} was answered before its turn (after {holder})"
            );
        }
        let s = server.status(id);
        assert_eq!(s["holder"], holder.as_str(), "{s}");
        assert_eq!(s["waiting"], (n - 1 - i) as u64, "{s}");
    }
    server.release_ok(Enc::Form, id, &token);
    assert_eq!(server.status(id)["in_use"], false);
}

#[test]
fn a_wait_that_runs_out_answers_409_timed_out() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("timeout-{}", enc.name());
        let first = server.grab_ok(enc, &[("id", &id), ("holder", "keeper")]);
        let token = assert_grant(&first, &id, "grab");

        let r = server.post("/grab", enc, &[("id", &id), ("wait", "0.3")]);
        assert_eq!(r.status, 409, "{enc:?}: {r}");
        let v = r.assert_fail_json();
        assert_eq!(v["timed_out"], true, "{v}");
        assert!(str_of(&v, "reason").starts_with("timed out after"), "{v}");
        assert_eq!(v["in_use"], true, "{v}");
        assert_eq!(v["holder"], "keeper", "{v}");
        assert_eq!(v["since"], first["since"], "{v}");
        assert_no_token(&v, &token, "a timed-out refusal");

        let s = server.status(&id);
        assert_eq!(s["waiting"], 0, "the timed-out waiter left the queue: {s}");
        assert_eq!(s["holder"], "keeper", "{s}");
    }
}

#[test]
fn a_waiting_client_that_hangs_up_leaves_the_queue() {
    let server = Server::start();
    let id = "hangup";
    let g = server.grab_ok(Enc::Form, &[("id", id)]);
    let token = assert_grant(&g, id, "grab");

    let mut conn = server.connect();
    let (ct, body) = Enc::Form.encode(&[("id", id), ("wait", "30"), ("holder", "gone")]);
    conn.send_request("POST", "/grab", &[("Content-Type", ct.as_str())], &body);
    server.wait_for_waiting(id, 1);
    drop(conn);
    server.wait_for_waiting(id, 0);

    server.release_ok(Enc::Form, id, &token);
    let s = server.status(id);
    assert_eq!(
        s["in_use"], false,
        "the client that hung up never got it: {s}"
    );
}

#[test]
fn lease_expires_and_frees_the_mutex() {
    let server = Server::start();
    let mut grants = Vec::new();
    for enc in ALL_ENCODINGS {
        let id = format!("lease-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id), ("ttl", "0.5")]);
        let token = assert_grant(&g, &id, "grab with ttl");
        assert_eq!(num(&g["ttl"], "ttl"), 0.5, "{g}");
        let expires = assert_rfc3339_millis(&g["expires"], "expires");
        assert!(
            expires.as_str() > str_of(&g, "since"),
            "expires after since: {g}"
        );
        let s = server.status(&id);
        assert_eq!(s["in_use"], true, "{s}");
        assert_eq!(num(&s["ttl"], "ttl"), 0.5, "{s}");
        assert_eq!(s["expires"], g["expires"], "{s}");
        grants.push((enc, id, token));
    }

    // The scenario: nobody releases or renews, and the half-second lease runs out.
    thread::sleep(Duration::from_millis(1200));

    for (enc, id, token) in grants {
        let s = server.status(&id);
        assert_eq!(s["in_use"], false, "{enc:?}: the lease ran out: {s}");
        let r = server.post("/release", enc, &[("id", &id), ("token", &token)]);
        assert_eq!(
            r.status, 409,
            "{enc:?}: the expired token no longer holds it: {r}"
        );
        r.assert_fail_json();
        let g = server.grab_ok(enc, &[("id", &id)]);
        assert_grant(&g, &id, "grab after expiry");
    }
}

#[test]
fn lease_expiry_hands_the_mutex_to_the_next_waiter() {
    let server = Server::start();
    let id = "lease-handover";
    let first = server.grab_ok(
        Enc::Json,
        &[("id", id), ("ttl", "0.5"), ("holder", "lapsed")],
    );
    let first_token = assert_grant(&first, id, "grab with ttl");

    let rx = spawn_grab(
        server.addr(),
        Enc::Multipart,
        &[("id", id), ("wait", "10"), ("holder", "patient")],
        Duration::from_secs(15),
    );
    server.wait_for_waiting(id, 1);

    // Nobody releases: the lease running out is what hands the mutex over.
    let r = recv_within(
        &rx,
        Duration::from_secs(5),
        "the waiter, granted when the lease runs out",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{r}");
    let g = r.json();
    assert_grant(&g, id, "grant after expiry");
    assert_eq!(g["holder"], "patient", "{g}");
    assert!(fence_of(&g) > fence_of(&first), "{first} / {g}");

    let r = server.post(
        "/release",
        Enc::Json,
        &[("id", id), ("token", &first_token)],
    );
    assert_eq!(r.status, 409, "the lapsed holder's token is refused: {r}");
    r.assert_fail_json();
    assert_eq!(server.status(id)["holder"], "patient");
}

#[test]
fn renew_keeps_a_lease_alive_past_its_ttl() {
    let server = Server::start();
    let mut grants = Vec::new();
    for enc in ALL_ENCODINGS {
        let id = format!("renew-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id), ("ttl", "1")]);
        let token = assert_grant(&g, &id, "grab with ttl");
        grants.push((enc, id, token, g));
    }

    // The scenario: heartbeats every 0.3 s for 1.5 s, longer than the 1 s lease.
    let mut last_expires: Vec<String> = grants
        .iter()
        .map(|(_, _, _, g)| str_of(g, "expires").to_string())
        .collect();
    for _ in 0..5 {
        thread::sleep(Duration::from_millis(300));
        for (n, (enc, id, token, g)) in grants.iter().enumerate() {
            let r = server.post("/renew", *enc, &[("id", id), ("token", token)]);
            assert_eq!(r.status, 200, "{enc:?}: renew: {r}");
            let v = r.json();
            assert_eq!(v["status"], "ok", "{v}");
            assert_eq!(v["id"], id.as_str(), "{v}");
            assert_no_token(&v, token, "a renew answer");
            assert_eq!(
                fence_of(&v),
                fence_of(g),
                "a renewal is the same grant: {v}"
            );
            assert_eq!(num(&v["ttl"], "ttl"), 1.0, "the ttl in force is kept: {v}");
            let expires = assert_rfc3339_millis(&v["expires"], "expires");
            assert!(
                expires > last_expires[n],
                "the lease runs from now: {expires} after {}",
                last_expires[n]
            );
            last_expires[n] = expires;
        }
    }
    for (enc, id, token, _) in &grants {
        let s = server.status(id);
        assert_eq!(
            s["in_use"], true,
            "{enc:?}: still held thanks to the renewals: {s}"
        );
        server.release_ok(*enc, id, token);
    }
}

#[test]
fn renew_with_ttl_sets_a_new_lease_length() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("renew-ttl-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id), ("ttl", "1")]);
        let token = assert_grant(&g, &id, "grab with ttl");
        let r = server.post(
            "/renew",
            enc,
            &[("id", &id), ("token", &token), ("ttl", "30")],
        );
        assert_eq!(r.status, 200, "{enc:?}: {r}");
        assert_eq!(num(&r.json()["ttl"], "ttl"), 30.0, "{r}");
        assert_eq!(num(&server.status(&id)["ttl"], "ttl"), 30.0);
    }
}

#[test]
fn renew_by_a_token_that_does_not_hold_the_mutex_is_refused() {
    let server = Server::start();
    for enc in ALL_ENCODINGS {
        let id = format!("renew-wrong-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id), ("ttl", "30")]);
        let token = assert_grant(&g, &id, "grab with ttl");
        let r = server.post("/renew", enc, &[("id", &id), ("token", &new_uuid())]);
        assert_eq!(r.status, 409, "{enc:?}: {r}");
        let v = r.assert_fail_json();
        assert_no_token(&v, &token, "a refused renew");
        assert_eq!(server.status(&id)["in_use"], true);
    }
}

#[test]
fn renew_after_the_lease_ran_out_is_refused_and_says_it_expired() {
    let server = Server::start();
    let mut grants = Vec::new();
    for enc in ALL_ENCODINGS {
        let id = format!("renew-late-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id), ("ttl", "0.3")]);
        grants.push((enc, id.clone(), assert_grant(&g, &id, "grab with ttl")));
    }
    // The scenario: the 0.3 s lease runs out before the heartbeat.
    thread::sleep(Duration::from_millis(900));
    for (enc, id, token) in grants {
        let r = server.post("/renew", enc, &[("id", &id), ("token", &token)]);
        assert_eq!(r.status, 409, "{enc:?}: {r}");
        let v = r.assert_fail_json();
        let reason = str_of(&v, "reason").to_ascii_lowercase();
        assert!(
            reason.contains("expire"),
            "{enc:?}: the reason says the lease expired: {v}"
        );
        assert_eq!(server.status(&id)["in_use"], false);
    }
}

#[test]
fn holder_text_is_shown_in_status_and_defaults_to_the_client_ip() {
    let server = Server::start();
    let longest = "h".repeat(256);
    for enc in ALL_ENCODINGS {
        for holder in ["alice@build3 pid 4242", longest.as_str()] {
            let id = format!("holder-{}-{}", enc.name(), holder.len());
            let g = server.grab_ok(enc, &[("id", &id), ("holder", holder)]);
            assert_eq!(g["holder"], holder, "{enc:?}: {g}");
            assert_eq!(server.status(&id)["holder"], holder, "{enc:?}");
        }
        let id = format!("holder-default-{}", enc.name());
        let g = server.grab_ok(enc, &[("id", &id)]);
        assert_eq!(
            g["holder"], "127.0.0.1",
            "{enc:?}: the default holder is the client's IP: {g}"
        );
        assert_eq!(server.status(&id)["holder"], "127.0.0.1");
    }
}

#[test]
fn every_grant_carries_a_fence_that_grows_across_mutexes() {
    let server = Server::start();
    let mut fences = Vec::new();
    let a = server.grab_ok(Enc::Json, &[("id", "fence-a")]);
    let a_token = assert_grant(&a, "fence-a", "grab a");
    fences.push(fence_of(&a));
    let b = server.grab_ok(Enc::Form, &[("id", "fence-b")]);
    fences.push(fence_of(&b));
    let new = server.grab_ok(Enc::Multipart, &[("id", "")]);
    fences.push(fence_of(&new));
    server.release_ok(Enc::Json, "fence-a", &a_token);
    let a2 = server.grab_ok(Enc::Multipart, &[("id", "fence-a"), ("ttl", "30")]);
    fences.push(fence_of(&a2));
    let c = server.grab_ok(Enc::Form, &[("id", "fence-c"), ("wait", "5")]);
    fences.push(fence_of(&c));
    assert!(
        fences.windows(2).all(|w| w[0] < w[1]),
        "fences strictly grow: {fences:?}"
    );
}

// ---------------------------------------------------------------------------------------------------
// Real clients: the seed's curl loop, and a waiting curl killed before its turn
// ---------------------------------------------------------------------------------------------------

/// A scratch directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("weblock-test-{tag}-{}", new_uuid()));
        fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// One CI job of the seed's example, as close to the document as possible: the same `curl -f -X POST
/// .../grab -F "id=$mutex"` retry loop, the same `$(jq .id < mutex)` and `$(jq .token < mymutex)`
/// (without `-r`, quotes kept). Added: a bound on the retries, a marker once the job has been refused,
/// and a check that no two jobs are ever in the critical section together.
const SEED_JOB: &str = r#"
set -u
url=$1; dir=$2; job=$3
mkdir -p "$dir/job$job" && cd "$dir/job$job" || exit 2

mutex=$(jq .id < ../mutex)

tries=0
while ! curl -sS -f -X POST "$url/grab" -F "id=$mutex" >mymutex; do
    tries=$((tries + 1))
    touch "../refused.$job"
    if [ "$tries" -ge 100 ]; then echo "job $job: still refused after $tries tries" >&2; exit 3; fi
    sleep 0.1
done

token=$(jq .token < mymutex)

# The critical section (the seed's artifactory download / update / upload).
mkdir ../inside 2>/dev/null || { echo "job $job: another job is in the critical section" >&2; exit 4; }
echo "$job" >> ../order
sleep 0.2
rmdir ../inside

curl -sS -f -X POST "$url/release" -F "id=$mutex" -F "token=$token" >released || { echo "job $job: release failed" >&2; exit 5; }
"#;

#[test]
fn seed_curl_loop_with_form_fields_lets_one_job_at_a_time_through() {
    let server = Server::start();
    let url = server.url("");
    let dir = TempDir::new("seed");

    // "reserve a new mutex (only needs to be done once)"
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#"cd "$2" && curl -sS -X POST "$1/reserve" > mutex"#)
        .args(["reserve", &url, dir.0.to_str().unwrap()])
        .output()
        .expect("run bash (is it installed?)");
    assert!(out.status.success(), "reserve with curl: {out:?}");
    let reserved: Value =
        serde_json::from_slice(&fs::read(dir.0.join("mutex")).unwrap()).expect("mutex is JSON");
    let id = assert_uuid(&reserved["id"], "reserved id");

    // Someone holds it while the jobs start, so each of them goes round the retry loop at least once.
    let g = server.grab_ok(Enc::Form, &[("id", &id), ("holder", "the test")]);
    let token = assert_grant(&g, &id, "grab by the test");

    let jobs = 3;
    let mut children = Vec::new();
    for job in 0..jobs {
        let log = fs::File::create(dir.0.join(format!("job{job}.log"))).unwrap();
        let child = Command::new("bash")
            .arg("-c")
            .arg(SEED_JOB)
            .args(["seed-job", &url, dir.0.to_str().unwrap(), &job.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run bash");
        children.push(child);
    }

    let deadline = Instant::now() + Duration::from_secs(10);
    while !(0..jobs).all(|j| dir.0.join(format!("refused.{j}")).exists()) {
        assert!(
            Instant::now() < deadline,
            "the jobs' `curl -f` was not refused (4xx) while the mutex was held"
        );
        thread::sleep(Duration::from_millis(20));
    }
    server.release_ok(Enc::Form, &id, &token);

    let deadline = Instant::now() + Duration::from_secs(20);
    for (job, child) in children.iter_mut().enumerate() {
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "job {job} did not finish: {}",
                    fs::read_to_string(dir.0.join(format!("job{job}.log"))).unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        let log = fs::read_to_string(dir.0.join(format!("job{job}.log"))).unwrap_or_default();
        assert!(status.success(), "job {job} failed ({status}): {log}");
        let released: Value =
            serde_json::from_slice(&fs::read(dir.0.join(format!("job{job}/released"))).unwrap())
                .unwrap_or_else(|e| panic!("job {job}: release answer is not JSON: {e}"));
        assert_eq!(released["status"], "ok", "job {job}: {released}");
    }

    let order = fs::read_to_string(dir.0.join("order")).unwrap();
    let mut ran: Vec<&str> = order.lines().collect();
    ran.sort();
    assert_eq!(
        ran,
        ["0", "1", "2"],
        "each job went through the critical section once: {order:?}"
    );
    let s = server.status(&id);
    assert_eq!(s["in_use"], false, "all released: {s}");
}

fn spawn_waiting_curl(server: &Server, id: &str, holder: &str) -> std::process::Child {
    Command::new("curl")
        .args(["-sS", "-X", "POST", &server.url("/grab")])
        .args([
            "-d",
            &format!("id={id}"),
            "-d",
            "wait=30",
            "-d",
            &format!("holder={holder}"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run curl (is it installed?)")
}

#[test]
fn a_waiting_curl_killed_before_its_turn_never_becomes_the_holder() {
    let server = Server::start();
    let id = "doomed-alone";
    let g = server.grab_ok(Enc::Form, &[("id", id), ("holder", "first")]);
    let token = assert_grant(&g, id, "grab");

    let mut curl = spawn_waiting_curl(&server, id, "doomed");
    server.wait_for_waiting(id, 1);
    curl.kill().expect("kill curl");
    curl.wait().expect("reap curl");

    // Released at once, maybe before the server noticed the hang-up: it must check before handing over.
    server.release_ok(Enc::Form, id, &token);
    let s = server.wait_for_status(id, "the mutex to be free", |s| {
        assert_ne!(
            s["holder"], "doomed",
            "the killed curl became the holder: {s}"
        );
        s["in_use"] == false
    });
    assert_eq!(s["waiting"].as_u64().unwrap_or(0), 0, "{s}");
    let g = server.grab_ok(Enc::Form, &[("id", id)]);
    assert_grant(&g, id, "grab after the dead waiter");
}

#[test]
fn a_waiting_curl_killed_before_its_turn_is_skipped_for_the_next_waiter() {
    let server = Server::start();
    let id = "doomed-then-next";
    let g = server.grab_ok(Enc::Form, &[("id", id), ("holder", "first")]);
    let token = assert_grant(&g, id, "grab");

    let mut curl = spawn_waiting_curl(&server, id, "doomed");
    server.wait_for_waiting(id, 1);
    let rx = spawn_grab(
        server.addr(),
        Enc::Form,
        &[("id", id), ("wait", "10"), ("holder", "next")],
        Duration::from_secs(15),
    );
    server.wait_for_waiting(id, 2);

    curl.kill().expect("kill curl");
    curl.wait().expect("reap curl");
    server.release_ok(Enc::Form, id, &token);

    let r = recv_within(
        &rx,
        Duration::from_secs(5),
        "the live waiter behind the killed curl",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{r}");
    let g2 = r.json();
    assert_grant(&g2, id, "the next waiter's grant");
    assert_eq!(g2["holder"], "next", "{g2}");
    let s = server.status(id);
    assert_eq!(s["holder"], "next", "{s}");
    assert_eq!(s["waiting"], 0, "{s}");
}
