//! Black-box tests of what a caller must present to change state (docs/api.md, "What each request
//! must present"): one test per row of that table, each showing the refusal without it. A lock's
//! handle — a WebMutex token, a HAL lock URL, a ticket — cannot be guessed or counted from another;
//! the administrative requests ask for the administrator; and what an API leaves open to anyone
//! reaching the server is refused only by `--auth-file`'s secret.

use crate::common;
use crate::hal_helpers;

use common::*;
use hal_helpers::*;
use serde_json::{Value, json};

/// 2^53: request-queue numbers are below it.
const NUMBER_LIMIT: u64 = 1 << 53;

/// `POST /locks/{resource}` `{"title": title}`: 201; the lock's uid.
fn hal_uid(server: &Server, resource: &str, title: &str) -> String {
    let uid = uid_of_path(&hal_lock_ok(server, resource, title));
    assert_uid_shape(&uid);
    uid
}

/// The uid `delta` away from `uid`, as 32 hex digits.
fn neighbour(uid: &str, delta: i128) -> String {
    let n = u128::from_str_radix(uid, 16).expect("hex");
    format!("{:032x}", n.wrapping_add_signed(delta))
}

/// The numbers of every request `GET /v1/locks/{name}/` lists (public), in order.
fn v1_numbers(server: &Server, name: &str) -> Vec<u64> {
    let r = server.get(&format!("/v1/locks/{name}/"));
    assert_eq!(r.status, 200, "{r}");
    let v = r.json();
    v["requests"]
        .as_array()
        .unwrap_or_else(|| panic!("requests: {v}"))
        .iter()
        .map(|u| v1_number(u.as_str().unwrap_or_default()))
        .collect()
}

fn in_use(server: &Server, id: &str) -> bool {
    server.status(id)["in_use"] == true
}

// --- WebMutex ------------------------------------------------------------------------------------

#[test]
fn webmutex_grab_of_a_held_mutex_without_its_token_gets_no_grant() {
    let server = Server::start();
    let grant = server.grab_ok(Enc::Form, &[("id", "db"), ("holder", "alice")]);
    let token = grant["token"].as_str().expect("token");
    let r = server.post("/grab", Enc::Form, &[("id", "db"), ("holder", "mallory")]);
    assert_eq!(r.status, 409, "{r}");
    assert!(r.json().get("token").is_none(), "no token shown: {r}");
    // The holder's retry, with its token, is the same grant.
    let again = server.grab_ok(Enc::Form, &[("id", "db"), ("token", token)]);
    assert_eq!(again["fence"], grant["fence"], "{again}");
}

#[test]
fn webmutex_release_and_renew_need_the_holders_token() {
    let server = Server::start();
    let grant = server.grab_ok(Enc::Form, &[("id", "db"), ("ttl", "60")]);
    for path in ["/release", "/renew"] {
        let r = server.post(path, Enc::Form, &[("id", "db")]);
        assert_eq!(r.status, 400, "{path} without a token: {r}");
        let other = new_uuid();
        let r = server.post(path, Enc::Form, &[("id", "db"), ("token", &other)]);
        assert_eq!(r.status, 409, "{path} with another token: {r}");
        assert_eq!(r.json()["status"], "fail", "{r}");
        assert!(in_use(&server, "db"), "still held after {path}");
    }
    let token = grant["token"].as_str().expect("token");
    server.release_ok(Enc::Form, "db", token);
}

#[test]
fn webmutex_reserve_gives_no_claim_on_the_id() {
    let server = Server::start();
    let r = server.post_empty("/reserve");
    assert_eq!(r.status, 200, "{r}");
    let id = r.json()["id"].as_str().expect("id").to_string();
    assert!(!in_use(&server, &id), "a reserved id is free");
    // Anyone may grab it: reserving held nothing.
    server.grab_ok(Enc::Form, &[("id", &id), ("holder", "someone else")]);
}

// --- HAL -----------------------------------------------------------------------------------------

#[test]
fn hal_post_of_a_held_lock_gets_no_lock_url() {
    let server = admin_server();
    hal_uid(&server, "db", "holder");
    let r = hal_post(&server, "db", r#"{"title": "other"}"#);
    assert_eq!(r.status, 408, "{r}");
    assert!(r.header("location").is_none(), "{r}");
}

#[test]
fn hal_lock_urls_cannot_be_counted_and_only_the_right_one_ends_a_lock() {
    let server = admin_server();
    let first = hal_uid(&server, "one", "first");
    let second = hal_uid(&server, "two", "second");
    let (a, b) = (
        u128::from_str_radix(&first, 16).expect("hex"),
        u128::from_str_radix(&second, 16).expect("hex"),
    );
    // Random: nothing a client could count from (a chance of 2^-58 that this fails by accident).
    assert!(
        a.abs_diff(b) > 1 << 64,
        "{first} and {second} are too close"
    );
    assert!(
        a > 1 << 64 && b > 1 << 64,
        "not counter-made: {first} {second}"
    );

    let made_up = "0123456789abcdef0123456789abcdef".to_string();
    let guesses = [
        made_up,
        neighbour(&first, 1),
        neighbour(&first, -1),
        neighbour(&second, 1),
        format!("{:032x}", 1),
        format!("{:032x}", 2),
        second.clone(), // another resource's lock
    ];
    for guess in &guesses {
        let r = server.request("DELETE", &format!("/locks/one/{guess}"), &[], b"");
        assert_eq!(r.status, 404, "DELETE of {guess}: {r}");
        assert_eq!(r.json()["status"], "error", "{r}");
        assert_eq!(server.get(&format!("/locks/one/{guess}")).status, 404);
    }
    assert!(
        in_use(&server, "one") && in_use(&server, "two"),
        "nothing freed"
    );
    let r = server.request("DELETE", &format!("/locks/one/{first}"), &[], b"");
    assert_eq!(r.status, 204, "its own URL ends it: {r}");
    assert!(!in_use(&server, "one"));
}

#[test]
fn hal_lock_cannot_be_ended_or_heartbeaten_through_its_public_request_queue_url() {
    let server = admin_server();
    let uid = hal_uid(&server, "db", "holder");
    let numbers = v1_numbers(&server, "db");
    assert_eq!(numbers.len(), 1);
    for method in ["DELETE", "PATCH", "PUT"] {
        let path = format!("/v1/locks/db/requests/{}/", numbers[0]);
        let r = server.request(method, &path, &[], b"");
        assert_eq!(r.status, 403, "{method} {path}: {r}");
        assert!(r.text().contains("HAL"), "{r}");
    }
    assert!(in_use(&server, "db"), "still held");
    assert_eq!(server.get(&format!("/locks/db/{uid}")).status, 200);
}

#[test]
fn hal_listings_show_lock_urls_only_to_the_administrator() {
    let server = admin_server();
    let uid = hal_uid(&server, "db", "holder");
    let wrong = basic("admin:wrong");
    for target in ["/resources", "/resources/db"] {
        for headers in [vec![], vec![("Authorization", wrong.as_str())]] {
            let r = server.request("GET", target, &headers, b"");
            assert_eq!(r.status, 401, "GET {target} {headers:?}: {r}");
            assert!(!r.text().contains(&uid), "{r}");
            assert_eq!(r.json()["status"], "error", "{r}");
        }
        assert_eq!(admin_get(&server, target).status, 200, "GET {target}");
    }
    assert!(admin_get(&server, "/resources/db").text().contains(&uid));
}

#[test]
fn hal_resource_deletes_need_the_administrator() {
    let server = admin_server();
    hal_uid(&server, "db", "holder");
    for target in ["/resources/db", "/resources"] {
        let r = server.request("DELETE", target, &[], b"");
        assert_eq!(r.status, 401, "DELETE {target}: {r}");
        assert!(in_use(&server, "db"), "nothing deleted by DELETE {target}");
    }
    assert_eq!(admin_delete(&server, "/resources/db").status, 204);
    assert!(!in_use(&server, "db"));
}

// --- Request queue -------------------------------------------------------------------------------

#[test]
fn request_queue_numbers_are_random_and_a_made_up_one_ends_nothing() {
    let server = Server::start();
    let (_, first) = v1_create(&server, "db", &json!("first"), 60);
    let (_, second) = v1_create(&server, "db", &json!("second"), 60);
    let (a, b) = (v1_number(&first), v1_number(&second));
    assert!(
        a < NUMBER_LIMIT && b < NUMBER_LIMIT,
        "{a} {b}: JavaScript reads them exactly"
    );
    // A chance of about 2^-33 that two random numbers are this close.
    assert!(a.abs_diff(b) > 1 << 20, "{a} and {b} are too close");
    for guess in [a + 1, a.wrapping_sub(1), b + 1, 1, 2, 3] {
        if guess == a || guess == b {
            continue;
        }
        for method in ["DELETE", "PATCH"] {
            let path = format!("/v1/locks/db/requests/{guess}/");
            let r = server.request(method, &path, &[], b"");
            assert_eq!(r.status, 404, "{method} {path}: {r}");
        }
    }
    assert_eq!(v1_get(&server, &first)["current_status"], "active");
    assert_eq!(v1_get(&server, &second)["current_status"], "waiting");
    // Its URL ends it (the API trusts its network: its listings show every URL).
    assert_eq!(server.request("DELETE", &first, &[], b"").status, 204);
    wait_for_v1_status(&server, &second, "active");
}

#[test]
fn request_queue_urls_of_a_webmutex_lock_end_nothing() {
    let server = Server::start();
    server.grab_ok(Enc::Form, &[("id", "db"), ("ttl", "60")]);
    let numbers = v1_numbers(&server, "db");
    for method in ["DELETE", "PATCH"] {
        let path = format!("/v1/locks/db/requests/{}/", numbers[0]);
        let r = server.request(method, &path, &[], b"");
        assert_eq!(r.status, 403, "{method} {path}: {r}");
    }
    assert!(in_use(&server, "db"));
}

// --- Gatekeeper ----------------------------------------------------------------------------------

fn put_json(server: &Server, target: &str, body: &Value) -> Response {
    server.request(
        "PUT",
        target,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

#[test]
fn gatekeeper_tickets_end_and_refresh_only_with_their_own_id() {
    let server = Server::start();
    let body = json!({"group": "g", "environments": ["live"]}).to_string();
    let r = server.request(
        "POST",
        "/api/services/shop",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{r}");
    let gates = json!({"services": {"shop": ["live"]}});
    let r = put_json(&server, "/api/services", &gates);
    let ticket = r.json()["ticket"]["id"]
        .as_str()
        .expect("a ticket")
        .to_string();
    // A made-up ticket neither ends nor refreshes anything.
    let made_up = new_uuid();
    let r = server.request("DELETE", &format!("/api/tickets/{made_up}"), &[], b"");
    assert_eq!(r.status, 404, "{r}");
    let presented = json!({"services": {"shop": ["live"]}, "ticket": made_up});
    let r = put_json(&server, "/api/services?queue=true", &presented);
    assert_eq!(r.status, 404, "{r}");
    assert_eq!(r.json()["reason"], "Ticket does not exist", "{r}");
    let live = server.get("/api/services/shop/live").json();
    assert_eq!(
        live["held_by"],
        ticket.as_str(),
        "still held by its ticket: {live}"
    );
    let r = server.request("DELETE", &format!("/api/tickets/{ticket}"), &[], b"");
    assert_eq!(r.status, 200, "its own id ends it: {r}");
}

// --- What every API leaves to anyone who reaches the server: refused only without the secret -----

/// A method, a target, its headers and its body.
type OpenRequest<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn requests_open_to_the_network_are_refused_without_the_access_secret() {
    let dir = TempDir::new();
    let server = Server::builder()
        .secrets(&dir.path().join("secrets"), "s3cret\n")
        .start();
    let json = [("Content-Type", "application/json")];
    let open: [OpenRequest; 9] = [
        ("POST", "/grab", &[], "id=db"),
        ("POST", "/reserve", &[], ""),
        ("POST", "/locks/db", &json, r#"{"title": "t"}"#),
        ("POST", "/v1/locks/db/requests/", &json, "{}"),
        (
            "POST",
            "/api/services/shop",
            &json,
            r#"{"group": "g", "environments": ["live"]}"#,
        ),
        (
            "PUT",
            "/api/services/shop/live",
            &json,
            r#"{"state": "closed"}"#,
        ),
        (
            "PUT",
            "/api/services",
            &json,
            r#"{"services": {"shop": ["live"]}}"#,
        ),
        ("DELETE", "/api/services/shop", &[], ""),
        (
            "DELETE",
            "/api/tickets/4ca72ee9-82b9-48c5-bf66-994ac907386b",
            &[],
            "",
        ),
    ];
    for (method, target, headers, body) in open {
        let r = server.request(method, target, headers, body.as_bytes());
        assert_eq!(r.status, 401, "{method} {target} without the secret: {r}");
    }
    // Asked with the secret: nothing was taken.
    let r = server.request(
        "GET",
        "/status?id=db",
        &[("Authorization", "Bearer s3cret")],
        b"",
    );
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["in_use"], false, "nothing was taken: {r}");
}

// --- Journals from before handles were random ----------------------------------------------------

/// A journal line as `weblock serve --state` writes it: `crc32 json`.
fn journal_line(json: &str) -> String {
    format!("{:08x} {json}\n", weblock::journal::crc32(json.as_bytes()))
}

#[test]
fn an_old_journals_locks_keep_their_counter_made_urls() {
    let dir = TempDir::new();
    let state = dir.path().join("state.journal");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    // Two acquires as journals wrote them before handles: a HAL lock (request 1) and a request-queue
    // request (request 2).
    let hal = r#"{"command":{"now":NOW,"op":{"acquire":{"resource":"old","token":"00000000-0000-0000-0000-0000000000a1","holder":"old hal lock","ttl_ms":null,"wait":"no","grace_ms":null,"meta":"{\"wait\":0}"}}}}"#;
    let queue = r#"{"command":{"now":NOW,"op":{"acquire":{"resource":"oldq","token":"00000000-0000-0000-0000-0000000000a2","holder":"\"q\"","ttl_ms":null,"wait":"forever","grace_ms":null,"meta":"{\"requester_data\":\"q\"}"}}}}"#;
    let journal: String = [hal, queue]
        .iter()
        .map(|line| journal_line(&line.replace("NOW", &now.to_string())))
        .collect();
    std::fs::write(&state, journal).expect("write the journal");
    let path = state.to_str().expect("a UTF-8 temporary path");
    let server = Server::builder().args(&["--state", path]).start();

    let old_uid = format!("{:032x}", 1);
    let r = server.get(&format!("/locks/old/{old_uid}"));
    assert_eq!(r.status, 200, "the old HAL URL: {r}");
    assert_eq!(r.json()["uid"], old_uid.as_str(), "{r}");
    let v = v1_get(&server, "/v1/locks/oldq/requests/2/");
    assert_eq!(v["current_status"], "active", "the old /v1 URL: {v}");
    // A lock taken now is named at random, next to them.
    let r = hal_post(&server, "fresh", r#"{"title": "new"}"#);
    let fresh = uid_of_path(&location_path(&r, "weblock.test"));
    assert!(
        u128::from_str_radix(&fresh, 16).expect("hex") > 1 << 64,
        "{fresh}"
    );
    // Their old URLs end them.
    let r = server.request("DELETE", &format!("/locks/old/{old_uid}"), &[], b"");
    assert_eq!(r.status, 204, "{r}");
    let r = server.request("DELETE", "/v1/locks/oldq/requests/2/", &[], b"");
    assert_eq!(r.status, 204, "{r}");
    assert!(!in_use(&server, "old") && !in_use(&server, "oldq"));
}

#[test]
fn random_lock_urls_survive_a_restart_from_the_journal() {
    let dir = TempDir::new();
    let state = dir.path().join("state.journal");
    let path = state.to_str().expect("a UTF-8 temporary path");
    let server = Server::builder().args(&["--state", path]).start();
    let uid = hal_uid(&server, "db", "holder");
    let (_, request) = v1_create(&server, "q", &json!("q"), 0);
    drop(server);
    let server = Server::builder().args(&["--state", path]).start();
    assert_eq!(server.get(&format!("/locks/db/{uid}")).status, 200);
    assert_eq!(v1_get(&server, &request)["current_status"], "active");
    let r = server.request("DELETE", &format!("/locks/db/{uid}"), &[], b"");
    assert_eq!(r.status, 204, "{r}");
}
