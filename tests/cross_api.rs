//! Black-box tests of the lock engine shared by the API dialects: a lock taken through one API is the
//! same lock every other API shows, and waiters from every API queue in one FIFO line behind a holder
//! from any of them. The APIs: WebMutex (`/grab`, `/release`, `/status`; docs/api.md), HAL
//! (`/locks/…`, `/resources/…`; shared/seeds/002_6afb4c021ad7da23.txt) and request-queue
//! (`/v1/locks/…`; shared/seeds/003_c3078c3ce007411c.txt).

use crate::common;
use crate::hal_helpers;

use std::sync::mpsc::{self, TryRecvError};
use std::time::{Duration, Instant};

use common::*;
use hal_helpers::*;
use serde_json::{Value, json};

const R: &str = "build7";

fn fence_of(v: &Value, what: &str) -> u64 {
    v["fence"]
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: `fence` should be a non-negative integer: {v}"))
}

/// The `holder` texts of `/status`'s `queue`, next in line first.
fn queue_of(status: &Value) -> Vec<String> {
    status["queue"]
        .as_array()
        .unwrap_or_else(|| panic!("/status should have a `queue` list: {status}"))
        .iter()
        .map(|w| w["holder"].as_str().unwrap_or("<no holder>").to_string())
        .collect()
}

/// `/status?id=ID` once its holder is `holder`.
fn wait_for_holder(server: &Server, id: &str, holder: &str) -> Value {
    server.wait_for_status(id, &format!("{holder} to hold {id}"), |s| {
        s["in_use"] == true && s["holder"] == holder
    })
}

fn still_waiting(rx: &mpsc::Receiver<Result<Response, String>>) -> bool {
    matches!(rx.try_recv(), Err(TryRecvError::Empty))
}

/// The answer of a waiter that is due now.
fn answer_of(rx: &mpsc::Receiver<Result<Response, String>>, what: &str) -> Response {
    recv_within(rx, ANSWER_DEADLINE, what).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// `/v1/locks/{R}/owner/`: 200, the owner request's number.
fn v1_owner(server: &Server) -> u64 {
    v1_owner_of(server, R)
}

/// `/v1/locks/{name}/owner/`: 200, the owner request's number.
fn v1_owner_of(server: &Server, name: &str) -> u64 {
    let r = server.get(&format!("/v1/locks/{name}/owner/"));
    assert_eq!(r.status, 200, "GET /v1/locks/{name}/owner/: {r}");
    let v = r.json();
    v1_number(
        v["request"]
            .as_str()
            .unwrap_or_else(|| panic!("owner/ names its request: {v}")),
    )
}

#[test]
fn three_apis_contend_on_one_resource_in_one_fifo_line() {
    let server = admin_server();
    let addr = server.addr();

    // 1. A WebMutex holder.
    let grant = server.grab_ok(Enc::Json, &[("id", R), ("holder", "wm-holder")]);
    let wm_token = grant["token"].as_str().expect("token").to_string();
    let f1 = fence_of(&grant, "the WebMutex holder's grant");
    let s = server.status(R);
    assert_eq!(s["holder"], "wm-holder", "{s}");
    assert_eq!(fence_of(&s, "/status"), f1, "{s}");

    // 2. A HAL waiter, queued behind it.
    let hal_waiter = spawn_hal(addr, R, r#"{"title": "hal-waiter", "wait": 30}"#);
    server.wait_for_waiting(R, 1);

    // 3. A request-queue waiter: 202, queued.
    let v1_data = json!({"who": "v1-waiter"});
    let v1_text = v1_data.to_string();
    let (status, v1_path) = v1_create(&server, R, &v1_data, 600);
    assert_eq!(status, 202, "the /v1 request waits behind the holder");
    server.wait_for_waiting(R, 2);

    // 4. Another WebMutex waiter.
    let wm_waiter = spawn_grab(
        addr,
        Enc::Json,
        &[("id", R), ("holder", "wm-waiter"), ("wait", "30")],
        WAITER_READ_TIMEOUT,
    );
    let s = server.wait_for_waiting(R, 3);

    // Every view agrees: WebMutex /status…
    assert_eq!(s["in_use"], true, "{s}");
    assert_eq!(s["holder"], "wm-holder", "{s}");
    assert_eq!(
        queue_of(&s),
        ["hal-waiter", v1_text.as_str(), "wm-waiter"],
        "{s}"
    );

    // …the HAL listing…
    let locks = hal_locks(&server, R);
    assert_eq!(
        titles(&locks),
        ["wm-holder", "hal-waiter", v1_text.as_str(), "wm-waiter"],
        "{locks:?}"
    );
    let actives: Vec<&Value> = locks.iter().map(|l| &l["active"]).collect();
    assert_eq!(
        actives,
        [&json!(true), &json!(false), &json!(false), &json!(false)]
    );
    let uids: Vec<String> = locks
        .iter()
        .map(|l| l["uid"].as_str().expect("uid").to_string())
        .collect();
    uids.iter().for_each(|u| assert_uid_shape(u));
    let hal_resources = hal_json(&admin_get(&server, "/resources"), "GET /resources");
    assert_eq!(
        hal_resources["_embedded"]["resources"],
        json!([{"_links": {"self": {"href": format!("/resources/{R}")}}, "name": R}]),
        "{hal_resources}"
    );

    // …the request-queue views (the same requests, in the same order, by their numbers)…
    let r = server.get(&format!("/v1/locks/{R}/"));
    assert_eq!(r.status, 200, "{r}");
    let v = r.json();
    let numbers: Vec<u64> = v["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|u| v1_number(u.as_str().expect("a URL")))
        .collect();
    assert_eq!(numbers.len(), 4, "/v1 lists the same requests: {v}");
    assert_eq!(
        numbers[2],
        v1_number(&v1_path),
        "the /v1 request third in line"
    );
    assert_eq!(
        v1_number(v["owner"].as_str().expect("an owner")),
        numbers[0],
        "{v}"
    );
    // A uid is no number, and no number a uid: neither tells the other.
    for (uid, number) in uids.iter().zip(&numbers) {
        assert_ne!(*uid, format!("{number:032x}"), "{v}");
    }
    assert_eq!(v1_owner(&server), numbers[0]);
    let v1_doc = v1_get(&server, &v1_path);
    assert_eq!(v1_doc["current_status"], "waiting", "{v1_doc}");
    assert_eq!(v1_doc["requester_data"], v1_data, "{v1_doc}");

    // …and the HAL lock URL of the WebMutex holder.
    let holder_doc = hal_json(
        &server.get(&format!("/locks/{R}/{}", locks[0]["uid"].as_str().unwrap())),
        "the WebMutex holder through HAL",
    );
    assert_eq!(holder_doc["title"], "wm-holder", "{holder_doc}");
    assert_eq!(holder_doc["active"], true, "{holder_doc}");

    // Release 1: WebMutex /release → the HAL waiter is answered 201.
    server.release_ok(Enc::Json, R, &wm_token);
    let r = answer_of(&hal_waiter, "the HAL waiter, after the WebMutex release");
    assert_eq!(r.status, 201, "{r}");
    let hal_path = location_path(&r, "weblock.test");
    assert_eq!(uid_of_path(&hal_path), uids[1]);
    let s = wait_for_holder(&server, R, "hal-waiter");
    let f2 = fence_of(&s, "/status of the HAL holder");
    assert_eq!(queue_of(&s), [v1_text.as_str(), "wm-waiter"], "{s}");
    assert_eq!(v1_owner(&server), numbers[1]);
    assert_eq!(v1_get(&server, &v1_path)["current_status"], "waiting");
    assert!(
        still_waiting(&wm_waiter),
        "the WebMutex waiter is third in line"
    );

    // Release 2: HAL DELETE of the lock URL → the /v1 request becomes active on its own.
    let r = server.request("DELETE", &hal_path, &[], b"");
    assert_eq!(r.status, 204, "{r}");
    let v1_doc = wait_for_v1_status(&server, &v1_path, "active");
    let types: Vec<&str> = v1_doc["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .map(|s| s["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(types, ["waiting", "active"], "{v1_doc}");
    let s = wait_for_holder(&server, R, &v1_text);
    let f3 = fence_of(&s, "/status of the /v1 holder");
    assert_eq!(queue_of(&s), ["wm-waiter"], "{s}");
    assert_eq!(v1_owner(&server), numbers[2]);
    let locks = hal_locks(&server, R);
    assert_eq!(titles(&locks), [v1_text.as_str(), "wm-waiter"], "{locks:?}");
    assert_eq!(locks[0]["active"], true);
    assert!(
        still_waiting(&wm_waiter),
        "the WebMutex waiter is next, not yet"
    );

    // Release 3: /v1 DELETE of the request URL → the WebMutex waiter's grant.
    let r = server.request("DELETE", &v1_path, &[], b"");
    assert_eq!(r.status, 204, "{r}");
    let r = answer_of(&wm_waiter, "the WebMutex waiter, after the /v1 DELETE");
    assert_eq!(r.status, 200, "{r}");
    let g = r.json();
    assert_eq!(g["status"], "ok", "{g}");
    assert_eq!(g["holder"], "wm-waiter", "{g}");
    let f4 = fence_of(&g, "the WebMutex waiter's grant");
    let s = server.status(R);
    assert_eq!(s["holder"], "wm-waiter", "{s}");
    assert_eq!(fence_of(&s, "/status"), f4, "{s}");
    assert_eq!(s["waiting"], 0, "{s}");
    assert_eq!(v1_owner(&server), numbers[3]);
    assert_eq!(v1_get(&server, &v1_path)["current_status"], "released");

    assert!(
        f1 < f2 && f2 < f3 && f3 < f4,
        "fences grow with every grant: {f1} {f2} {f3} {f4}"
    );

    // The last release leaves the resource free in every view.
    server.release_ok(Enc::Json, R, g["token"].as_str().expect("token"));
    let s = server.status(R);
    assert_eq!(s["in_use"], false, "{s}");
    assert!(hal_locks(&server, R).is_empty());
    let r = server.get(&format!("/v1/locks/{R}/owner/"));
    assert_eq!(r.status, 404, "no owner any more: {r}");
}

#[test]
fn a_hal_lock_whose_lifetime_runs_out_hands_over_to_a_v1_waiter() {
    let server = admin_server();
    let r = hal_post(&server, R, r#"{"title": "short-lived", "lifetime": 1}"#);
    assert_eq!(r.status, 201, "{r}");
    let hal_path = location_path(&r, "weblock.test");
    let (status, v1_path) = v1_create(&server, R, &json!({"job": 42}), 0);
    assert_eq!(status, 202, "it waits behind the HAL lock");
    let s = server.status(R);
    assert_eq!(s["holder"], "short-lived", "{s}");
    assert_eq!(queue_of(&s), [r#"{"job":42}"#], "{s}");
    let f1 = fence_of(&s, "/status of the HAL holder");

    // The HAL lock's lifetime runs out (one second): the /v1 request becomes active by itself.
    let v1_doc = wait_for_v1_status(&server, &v1_path, "active");
    assert_eq!(v1_doc["requester_data"], json!({"job": 42}), "{v1_doc}");
    assert_eq!(server.get(&hal_path).status, 404, "the HAL lock is gone");
    assert_eq!(v1_owner(&server), v1_number(&v1_path));
    let s = server.status(R);
    assert_eq!(s["holder"], r#"{"job":42}"#, "{s}");
    assert!(fence_of(&s, "/status of the /v1 holder") > f1, "{s}");
    let locks = hal_locks(&server, R);
    assert_eq!(titles(&locks), [r#"{"job":42}"#], "{locks:?}");
    assert_eq!(locks[0]["active"], true);
}

#[test]
fn every_api_refuses_or_queues_behind_a_holder_from_another() {
    let server = admin_server();
    // HAL holds: WebMutex is 409, HAL wait 0 is 408, /v1 is queued.
    let hal_path = hal_lock_ok(&server, "shared", "hal-holder");
    let r = server.post("/grab", Enc::Form, &[("id", "shared")]);
    assert_eq!(r.status, 409, "{r}");
    assert_eq!(r.json()["holder"], "hal-holder", "{r}");
    assert_eq!(
        hal_post(&server, "shared", r#"{"title": "x", "wait": 0}"#).status,
        408
    );
    let (status, v1_path) = v1_create(&server, "shared", &json!("queued"), 0);
    assert_eq!(status, 202);
    // Withdrawn again through its own API.
    assert_eq!(server.request("DELETE", &v1_path, &[], b"").status, 204);
    server.request("DELETE", &hal_path, &[], b"");

    // /v1 holds: HAL is 408, WebMutex 409.
    let (status, v1_path) = v1_create(&server, "shared", &json!("v1-holder"), 0);
    assert_eq!(status, 201, "a free resource is granted at once");
    assert_eq!(hal_post(&server, "shared", r#"{"title": "x"}"#).status, 408);
    let r = server.post("/grab", Enc::Json, &[("id", "shared")]);
    assert_eq!(r.status, 409, "{r}");
    assert_eq!(r.json()["holder"], r#""v1-holder""#, "{r}");
    // The /v1 holder's request is a HAL lock too, at the URL of its uid (not of its number).
    let uid = hal_locks(&server, "shared")[0]["uid"]
        .as_str()
        .expect("uid")
        .to_string();
    let made_up = format!("{:032x}", v1_number(&v1_path));
    assert_eq!(server.get(&format!("/locks/shared/{made_up}")).status, 404);
    let doc = hal_json(
        &server.get(&format!("/locks/shared/{uid}")),
        "the /v1 holder through HAL",
    );
    assert_eq!(doc["active"], true, "{doc}");
    assert_eq!(doc["title"], r#""v1-holder""#, "{doc}");
    server.request("DELETE", &v1_path, &[], b"");
    assert_eq!(server.status("shared")["in_use"], false);
}

#[test]
fn an_administrator_deleting_the_resource_ends_waiters_of_every_api() {
    let (server, _dir) = server_with_admin();
    let addr = server.addr();
    let grant = server.grab_ok(Enc::Json, &[("id", R), ("holder", "wm-holder")]);
    let token = grant["token"].as_str().expect("token").to_string();
    let wm_waiter = spawn_grab(
        addr,
        Enc::Form,
        &[("id", R), ("holder", "wm-waiter"), ("wait", "30")],
        WAITER_READ_TIMEOUT,
    );
    server.wait_for_waiting(R, 1);
    let (_, v1_path) = v1_create(&server, R, &json!("v1-waiter"), 0);
    server.wait_for_waiting(R, 2);
    let hal_waiter = spawn_hal(addr, R, r#"{"title": "hal-waiter", "wait": 30}"#);
    server.wait_for_waiting(R, 3);

    let asked = Instant::now();
    let r = admin_delete(&server, &format!("/resources/{R}"));
    assert_eq!(r.status, 204, "{r}");
    let r = answer_of(&wm_waiter, "the WebMutex waiter");
    assert_eq!(r.status, 409, "{r}");
    r.assert_fail_json();
    let r = answer_of(&hal_waiter, "the HAL waiter");
    assert_eq!(r.status, 409, "{r}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "answered at the deletion, not at the end of their waits"
    );
    let v1_doc = v1_get(&server, &v1_path);
    assert_ne!(v1_doc["current_status"], "waiting", "{v1_doc}");
    assert_ne!(v1_doc["current_status"], "active", "{v1_doc}");
    let s = server.status(R);
    assert_eq!(s["in_use"], false, "{s}");
    assert_eq!(server.get(&format!("/v1/locks/{R}/owner/")).status, 404);
    assert!(hal_locks(&server, R).is_empty());
    // The WebMutex holder lost its lock: its release is refused.
    let r = server.post("/release", Enc::Json, &[("id", R), ("token", &token)]);
    assert_eq!(r.status, 409, "{r}");
    r.assert_fail_json();
}

#[test]
fn a_lease_taken_through_one_api_shows_as_the_same_lease_in_the_others() {
    // docs/api.md: durations may be fractional; "locks taken through other APIs show their lease as
    // `lifetime`" (HAL), and a /v1 request shows its `timeout`. A 2.5 s WebMutex lease is 2.5 s there.
    let server = admin_server();
    let grant = server.grab_ok(
        Enc::Json,
        &[("id", "leased"), ("holder", "wm"), ("ttl", "2.5")],
    );
    assert_eq!(grant["ttl"], json!(2.5), "{grant}");
    let locks = hal_locks(&server, "leased");
    assert_eq!(locks.len(), 1, "{locks:?}");
    let since = hal_time_ms(&locks[0]["active_since"], "active_since");
    let expires = hal_time_ms(&locks[0]["active_expires"], "active_expires");
    assert_eq!(expires - since, 2500, "{locks:?}");
    let v1 = v1_get(
        &server,
        &format!(
            "/v1/locks/leased/requests/{}/",
            v1_owner_of(&server, "leased")
        ),
    );
    assert_eq!(v1["current_status"], "active", "{v1}");
    assert_eq!(
        locks[0]["lifetime"],
        json!(2.5),
        "the HAL lifetime of a 2.5 s WebMutex lease: {locks:?}"
    );
    assert_eq!(
        v1["timeout"],
        json!(2.5),
        "the /v1 timeout of a 2.5 s WebMutex lease: {v1}"
    );
}

#[test]
fn a_hal_resource_name_is_a_webmutex_id_too() {
    // docs/api.md: WebMutex ids are 1 to 128 characters "so a HAL resource name and a /v1/locks resource
    // name are WebMutex ids too, and name the same lock". A HAL name that is no WebMutex id must then
    // be refused by the HAL API, or else be one that /status can name.
    let server = admin_server();
    for len in [128, 129, 200] {
        let name = "a".repeat(len);
        let r = hal_post(&server, &name, r#"{"title": "long name"}"#);
        if r.status == 400 {
            continue;
        }
        assert_eq!(r.status, 201, "{len} letters: {r}");
        let r = server.get(&format!("/status?id={name}"));
        assert_eq!(
            r.status, 200,
            "a HAL lock on a {len}-letter name, seen through WebMutex /status: {r}"
        );
        let s = r.json();
        assert_eq!(s["in_use"], true, "{s}");
        assert_eq!(s["holder"], "long name", "{s}");
    }
}

#[test]
fn a_webmutex_lock_cannot_be_ended_through_a_public_url_only_by_its_token() {
    let server = admin_server();
    let grant = server.post("/grab", Enc::Form, &[("id", "guarded"), ("ttl", "60")]);
    assert_eq!(grant.status, 200, "{grant}");
    let token = grant.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Its /v1 URL is public, and its HAL uid is shown to an administrator.
    let locks = hal_locks(&server, "guarded");
    let uid = locks[0]["uid"].as_str().unwrap_or_default().to_string();
    let number = v1_owner_of(&server, "guarded");
    for (method, path) in [
        ("DELETE", format!("/locks/guarded/{uid}")),
        ("DELETE", format!("/v1/locks/guarded/requests/{number}/")),
        ("PATCH", format!("/v1/locks/guarded/requests/{number}/")),
    ] {
        let r = server.request(method, &path, &[], b"");
        assert_eq!(r.status, 403, "{method} {path}: {r}");
        assert_eq!(r.json()["status"], "error", "{r}");
    }
    assert_eq!(server.status("guarded")["in_use"], true, "still held");
    let r = server.post(
        "/release",
        Enc::Form,
        &[("id", "guarded"), ("token", &token)],
    );
    assert_eq!(r.status, 200, "its token still releases it: {r}");
}

#[test]
fn an_empty_resource_name_in_an_admin_delete_deletes_nothing() {
    let (server, _dir) = server_with_admin();
    hal_lock_ok(&server, "kept", "holder");
    let r = admin_delete(&server, "/resources/");
    assert_eq!(r.status, 400, "{r}");
    assert_eq!(hal_locks(&server, "kept").len(), 1, "nothing was deleted");
}

/// `POST /break` (the WebMutex side of `DELETE /resources/{id}`, for any id): the administrator only,
/// every holder and waiter ended, and the answer says whom it ended.
#[test]
fn break_ends_a_dashed_mutex_for_the_administrator_only_and_names_its_holder() {
    let (server, _dir) = server_with_admin();
    let addr = server.addr();
    let id = "db-1.main";
    server.grab_ok(Enc::Json, &[("id", id), ("holder", "wm-holder")]);
    let waiter = spawn_grab(
        addr,
        Enc::Form,
        &[("id", id), ("holder", "wm-waiter"), ("wait", "30")],
        WAITER_READ_TIMEOUT,
    );
    server.wait_for_waiting(id, 1);

    let break_with = |auth: Option<&str>, body: &str| {
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        let auth = auth.map(basic);
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        server.request("POST", "/break", &headers, body.as_bytes())
    };
    let r = break_with(None, "id=db-1.main");
    assert_eq!(r.status, 401, "{r}");
    let r = break_with(Some("admin:wrong"), "id=db-1.main");
    assert_eq!(r.status, 401, "{r}");
    assert_eq!(server.status(id)["holder"], "wm-holder", "still held");
    let r = break_with(Some(ADMIN_USER_PASSWORD), "id=");
    assert_eq!(r.status, 400, "an empty id is not every mutex: {r}");

    let r = break_with(Some(ADMIN_USER_PASSWORD), "id=db-1.main");
    assert_eq!(r.status, 200, "{r}");
    let v = r.json();
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["holder"], "wm-holder", "whom it ended: {v}");
    assert_eq!(v["ended"], 2, "the holder and the waiter: {v}");
    let r = answer_of(&waiter, "the WebMutex waiter");
    assert_eq!(r.status, 409, "{r}");
    assert_eq!(server.status(id)["in_use"], false);

    let r = break_with(Some(ADMIN_USER_PASSWORD), "id=db-1.main");
    assert_eq!(r.status, 409, "nothing to break: {r}");
}
