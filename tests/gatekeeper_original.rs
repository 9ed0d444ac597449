//! The gatekeeper API as clients of the original service (otto-de/gatekeeper, the version its
//! document describes) use it, against the real `weblock serve`: the service document beside
//! `"status": "ok"` in the answers to a create and a gate's change, `state_timestamp` from the
//! creation, queues of ticket objects, the original's 404 for a ticket that no longer exists, the
//! document's exact phrases in `reason`, and `PUT /api/services/{service}`.

use crate::common;

use common::{Response, Server};
use serde_json::{Value, json};

fn call(server: &Server, method: &str, target: &str, body: &Value) -> Response {
    server.request(
        method,
        target,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

fn get(server: &Server, target: &str) -> Value {
    let r = server.get(target);
    assert_eq!(r.status, 200, "GET {target}: {r}");
    r.json()
}

/// Asserts `{"status": "error", "reason": phrase}`, the phrase exactly (clients compare it).
fn assert_phrase(r: &Response, code: u16, phrase: &str, what: &str) {
    assert_eq!(r.status, code, "{what}: {r}");
    let v = r.json();
    assert_eq!(v["status"], "error", "{what}: {r}");
    assert_eq!(v["reason"], phrase, "{what}: {r}");
}

#[test]
fn a_create_and_a_gates_change_answer_with_the_service_document() {
    let server = Server::start();
    let r = call(
        &server,
        "POST",
        "/api/services/shop",
        &json!({"group": "team12", "environments": ["develop", "live"]}),
    );
    assert_eq!(r.status, 200, "{r}");
    let v = r.json();
    assert_eq!(v["status"], "ok", "the document's word: {v}");
    assert_eq!(v["name"], "shop", "{v}");
    assert_eq!(v["group"], "team12", "{v}");
    for env in ["develop", "live"] {
        let g = &v["environments"][env];
        assert_eq!(g["state"], "open", "{v}");
        assert_eq!(g["message"], "", "{v}");
        assert_eq!(g["message_timestamp"], "", "{v}");
        assert_eq!(g["queue"], json!([]), "{v}");
        // Stamped at the creation, as the original does.
        let stamp = g["state_timestamp"].as_str().unwrap_or_default();
        assert!(stamp.ends_with("+0000") && stamp.len() == 24, "{v}");
    }
    assert_eq!(
        get(&server, "/api/services/shop")["environments"],
        v["environments"],
        "the answer is the service as GET shows it"
    );

    let r = call(
        &server,
        "PUT",
        "/api/services/shop/develop",
        &json!({"state": "closed", "message": "testing. -Jens"}),
    );
    assert_eq!(r.status, 200, "{r}");
    let v = r.json();
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["name"], "shop", "{v}");
    assert_eq!(v["environments"]["develop"]["state"], "closed", "{v}");
    assert_eq!(v["environments"]["develop"]["message"], "testing. -Jens");
    assert_eq!(v["environments"]["live"]["state"], "open", "{v}");
}

#[test]
fn errors_carry_the_documents_exact_phrases() {
    let server = Server::start();
    let create = json!({"group": "team12", "environments": ["live"]});
    assert_eq!(
        call(&server, "POST", "/api/services/shop", &create).status,
        200
    );
    let r = call(&server, "POST", "/api/services/shop", &create);
    assert_phrase(
        &r,
        400,
        "Gate with this name already exists",
        "create twice",
    );
    let r = server.request(
        "POST",
        "/api/services/other",
        &[("Content-Type", "application/json")],
        b"{\"group\": ",
    );
    assert_phrase(&r, 400, "Json was not valid", "truncated JSON");
    let r = server.get("/api/services/nosuch");
    assert_phrase(&r, 404, "Gate not found", "GET of an unknown service");
    let r = server.request("DELETE", "/api/services/nosuch", &[], b"");
    assert_phrase(&r, 404, "Gate not found", "DELETE of an unknown service");
    let r = server.get("/api/services/shop/nogate");
    assert_phrase(&r, 404, "Environment not found", "GET of an unknown gate");
    let r = call(
        &server,
        "PUT",
        "/api/services/shop/nogate",
        &json!({"state": "open"}),
    );
    assert_phrase(&r, 404, "Environment not found", "PUT of an unknown gate");
    let r = call(
        &server,
        "PUT",
        "/api/services/shop/live",
        &json!({"state": "ajar"}),
    );
    assert_phrase(&r, 400, "state must be open or closed", "a bad state");
    let r = call(
        &server,
        "PUT",
        "/api/services",
        &json!({"services": {"nosuch": ["live"]}}),
    );
    assert_phrase(
        &r,
        404,
        "Gate not found",
        "test-and-set of an unknown service",
    );
    let r = server.request(
        "DELETE",
        &format!("/api/tickets/{}", common::new_uuid()),
        &[],
        b"",
    );
    assert_phrase(
        &r,
        404,
        "Ticket does not exist",
        "DELETE of an unknown ticket",
    );
}

#[test]
fn a_gate_named_alone_not_in_a_list_is_taken_as_the_original_does() {
    let server = Server::start();
    let create = json!({"group": "team12", "environments": ["live"]});
    assert_eq!(
        call(&server, "POST", "/api/services/shop", &create).status,
        200
    );
    let r = call(
        &server,
        "PUT",
        "/api/services",
        &json!({"services": {"shop": "live"}}),
    );
    assert_eq!(r.status, 200, "{r}");
    let v = r.json();
    assert_eq!(v["status"], "ok", "{v}");
    let gate = &get(&server, "/api/services/shop")["environments"]["live"];
    assert_eq!(gate["held_by"], v["ticket"]["id"], "{gate}");
    let r = call(&server, "PUT", "/api/services/shop/live", &json!({}));
    assert_phrase(
        &r,
        400,
        "state must be open or closed",
        "neither state nor message",
    );
}

#[test]
fn a_ticket_that_no_longer_exists_is_404_when_presented() {
    let server = Server::start();
    let create = json!({"group": "team12", "environments": ["live"]});
    assert_eq!(
        call(&server, "POST", "/api/services/shop", &create).status,
        200
    );
    let take = json!({"services": {"shop": ["live"]}});
    let r = call(&server, "PUT", "/api/services", &take);
    let ticket = r.json()["ticket"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(r.json()["status"], "ok", "{r}");
    let r = server.request("DELETE", &format!("/api/tickets/{ticket}"), &[], b"");
    assert_eq!(r.status, 200, "{r}");
    for queue in ["", "?queue=true"] {
        let presented = json!({"services": {"shop": ["live"]}, "ticket": ticket});
        let r = call(&server, "PUT", &format!("/api/services{queue}"), &presented);
        assert_phrase(
            &r,
            404,
            "Ticket does not exist",
            "a deleted ticket presented",
        );
        let nonsense = json!({"services": {"shop": ["live"]}, "ticket": "not-a-ticket"});
        let r = call(&server, "PUT", &format!("/api/services{queue}"), &nonsense);
        assert_phrase(
            &r,
            404,
            "Ticket does not exist",
            "a malformed ticket presented",
        );
    }
    // Nothing was taken by them.
    let gate = &get(&server, "/api/services/shop")["environments"]["live"];
    assert_eq!(gate["state"], "open", "{gate}");
    assert_eq!(gate["queue"], json!([]), "{gate}");
}

#[test]
fn queues_list_ticket_objects() {
    let server = Server::start();
    let create = json!({"group": "team12", "environments": ["live"]});
    assert_eq!(
        call(&server, "POST", "/api/services/shop", &create).status,
        200
    );
    let take = json!({"services": {"shop": ["live"]}});
    let held = call(&server, "PUT", "/api/services", &take).json();
    let queued = call(&server, "PUT", "/api/services?queue=true", &take).json();
    assert_eq!(queued["status"], "queue", "{queued}");
    let gate = &get(&server, "/api/services/shop")["environments"]["live"];
    assert_eq!(
        gate["queue"],
        json!([held["ticket"], queued["ticket"]]),
        "the holder first, then the waiting ticket, each as the test-and-set showed it"
    );
    for t in gate["queue"].as_array().into_iter().flatten() {
        let keys: Vec<&String> = t
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["expiration_date", "id", "link", "updated"], "{t}");
    }
    // The one-gate view too.
    let live = get(&server, "/api/services/shop/live");
    assert_eq!(live["queue"], gate["queue"], "{live}");
}

#[test]
fn put_of_a_service_updates_its_group_and_gates_at_once() {
    let server = Server::start();
    let create = json!({"group": "team12", "environments": ["develop", "live"]});
    assert_eq!(
        call(&server, "POST", "/api/services/shop", &create).status,
        200
    );
    let r = call(
        &server,
        "PUT",
        "/api/services/shop",
        &json!({"group": "team13", "environments": {
            "develop": {"state": "closed", "message": "testing"},
            "live": {"message": "frozen until Monday"}}}),
    );
    assert_eq!(r.status, 200, "{r}");
    let v = r.json();
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["group"], "team13", "{v}");
    assert_eq!(v["environments"]["develop"]["state"], "closed", "{v}");
    assert_eq!(v["environments"]["develop"]["message"], "testing", "{v}");
    assert_eq!(v["environments"]["live"]["state"], "open", "{v}");
    assert_eq!(v["environments"]["live"]["message"], "frozen until Monday");
    let now = get(&server, "/api/services/shop");
    assert_eq!(now["group"], "team13", "{now}");

    // All or nothing: an unknown gate changes nothing.
    let r = call(
        &server,
        "PUT",
        "/api/services/shop",
        &json!({"group": "team14", "environments": {
            "develop": {"state": "open"}, "nogate": {"state": "open"}}}),
    );
    assert_phrase(&r, 404, "Environment not found", "an unknown gate");
    let after = get(&server, "/api/services/shop");
    assert_eq!(after, now, "nothing changed");
    let r = call(
        &server,
        "PUT",
        "/api/services/nosuch",
        &json!({"group": "x"}),
    );
    assert_phrase(&r, 404, "Gate not found", "an unknown service");
    let r = call(
        &server,
        "PUT",
        "/api/services/shop",
        &json!({"environments": {"develop": {"state": "ajar"}}}),
    );
    assert_phrase(&r, 400, "state must be open or closed", "a bad state");
    let r = call(
        &server,
        "PUT",
        "/api/services/shop",
        &json!({"name": "renamed"}),
    );
    assert_eq!(r.status, 400, "weblock does not rename services: {r}");
    assert_eq!(get(&server, "/api/services/shop"), now, "nothing changed");
}
