//! Identities and scopes in `--auth-file` (`NAME:SECRET SCOPE…`): each scope allowing what it names
//! and refusing the rest with a 403 that names the identity and the scope it lacks, on every API;
//! bare secrets as before; a malformed line stopping the server; SIGHUP reading the file again; an
//! identity's name as the default holder.

use crate::cli_helpers;
use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use cli_helpers::{BIN, Sandbox};
use common::{Response, Server};
use serde_json::{Value, json};

const FILE: &str = "\
# one line per team, and an administrator
team1:t1-secret lock:team1*
ops:ops-secret gate:shop
watch:watch-secret read
boss:boss-secret admin
legacy-bare-secret
alice:alice-secret lock:* gate:shop
";

fn start(sandbox: &Sandbox) -> Server {
    Server::builder()
        .secrets(&sandbox.path("secrets"), FILE)
        .start()
}

/// `method path` with `Authorization: Bearer secret` and, if given, a JSON body.
fn call(server: &Server, secret: &str, method: &str, path: &str, body: Option<Value>) -> Response {
    let auth = format!("Bearer {secret}");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    server.request(
        method,
        path,
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
}

/// A 403 in the API's words, naming the identity and the scope it lacks.
fn assert_403(r: &Response, word: &str, name: &str, scope: &str) {
    assert_eq!(r.status, 403, "{r}");
    let v = r.json();
    assert_eq!(v["status"], word, "{v}");
    let reason = v["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("{name:?}")) && reason.contains(scope),
        "the reason should name {name} and {scope}: {reason}"
    );
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .map_or("/".to_string(), |i| rest[i..].to_string())
}

fn create_service(server: &Server, name: &str) {
    let r = call(
        server,
        "boss-secret",
        "POST",
        &format!("/api/services/{name}"),
        Some(json!({"group": "g", "environments": ["live", "testing"]})),
    );
    assert_eq!(r.status, 200, "{r}");
}

#[test]
fn a_lock_glob_allows_the_locks_it_matches_on_every_lock_api() {
    let sandbox = Sandbox::new("scopes-lock");
    let server = start(&sandbox);
    let t1 = "t1-secret";
    // WebMutex: by body, by path, quoted (as `$(jq .id)` passes it).
    let r = call(&server, t1, "POST", "/grab", Some(json!({"id": "team1db"})));
    assert_eq!(r.status, 200, "{r}");
    let token = r.json()["token"].as_str().unwrap_or_default().to_string();
    let r = call(
        &server,
        t1,
        "POST",
        "/renew",
        Some(json!({"id": "team1db", "token": token})),
    );
    assert_eq!(r.status, 200, "{r}");
    let r = call(
        &server,
        t1,
        "POST",
        "/release",
        Some(json!({"id": "team1db", "token": token})),
    );
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(
        call(&server, t1, "GET", "/status?id=team1db", None).status,
        200
    );
    let r = call(&server, t1, "POST", "/grab", Some(json!({"id": "team2db"})));
    assert_403(&r, "fail", "team1", "lock:team2db");
    let r = call(&server, t1, "POST", "/grab/team2db", None);
    assert_403(&r, "fail", "team1", "lock:team2db");
    let r = server.request(
        "POST",
        "/grab",
        &[
            ("Authorization", "Bearer t1-secret"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"id=%22team2db%22",
    );
    assert_403(&r, "fail", "team1", "lock:team2db");
    // A grab without an id makes a new name: only a scope matching every name allows it.
    let r = call(&server, t1, "POST", "/grab", None);
    assert_403(&r, "fail", "team1", "lock:*");
    assert_eq!(
        call(&server, "alice-secret", "POST", "/grab", None).status,
        200
    );
    // Waiting on a lock is allowed with its scope; looking at another is not.
    let r = call(&server, t1, "GET", "/status?id=team2db&wait=0.1", None);
    assert_403(&r, "fail", "team1", "lock:team2db or read");
    let r = call(&server, t1, "GET", "/status", None);
    assert_403(&r, "fail", "team1", "read");

    // HAL: take and release by the lock's URL; another resource is refused.
    let title = json!({"title": "t", "lifetime": 60});
    let r = call(&server, t1, "POST", "/locks/team1x", Some(title.clone()));
    assert_eq!(r.status, 201, "{r}");
    let lock = path_of(r.header("location").unwrap_or_default());
    assert_eq!(call(&server, t1, "GET", &lock, None).status, 200);
    assert_eq!(call(&server, t1, "DELETE", &lock, None).status, 204);
    let r = call(&server, t1, "POST", "/locks/team2x", Some(title.clone()));
    assert_403(&r, "error", "team1", "lock:team2x");
    let r = call(
        &server,
        "alice-secret",
        "POST",
        "/locks/team2x",
        Some(title),
    );
    assert_eq!(r.status, 201, "{r}");
    let other = path_of(r.header("location").unwrap_or_default());
    let r = call(&server, t1, "DELETE", &other, None);
    assert_403(&r, "error", "team1", "lock:team2x");
    // Its uid under a resource the identity may touch: not that resource's, so 404 as ever.
    let uid = other.rsplit('/').next().unwrap_or_default();
    let r = call(&server, t1, "DELETE", &format!("/locks/team1x/{uid}"), None);
    assert_eq!(r.status, 404, "{r}");

    // Request queue: create, heartbeat, delete; another lock's requests are refused.
    let body = json!({"requester_data": {"job": 1}, "timeout": 60});
    let r = call(
        &server,
        t1,
        "POST",
        "/v1/locks/team1q/requests",
        Some(body.clone()),
    );
    assert_eq!(r.status, 201, "{r}");
    let mine = path_of(r.header("location").unwrap_or_default());
    assert_eq!(
        call(&server, t1, "PATCH", &mine, Some(json!({}))).status,
        204
    );
    assert_eq!(call(&server, t1, "DELETE", &mine, None).status, 204);
    let r = call(
        &server,
        t1,
        "POST",
        "/v1/locks/team2q/requests",
        Some(body.clone()),
    );
    assert_403(&r, "error", "team1", "lock:team2q");
    let r = call(
        &server,
        "alice-secret",
        "POST",
        "/v1/locks/team2q/requests",
        Some(body),
    );
    assert_eq!(r.status, 201, "{r}");
    let theirs = path_of(r.header("location").unwrap_or_default());
    for method in ["GET", "PATCH", "DELETE"] {
        let r = call(&server, t1, method, &theirs, Some(json!({})));
        assert_403(&r, "error", "team1", "lock:team2q");
    }
    let number = theirs
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let r = call(
        &server,
        t1,
        "DELETE",
        &format!("/v1/locks/team1q/requests/{number}/"),
        None,
    );
    assert_eq!(r.status, 404, "{r}");
    let r = call(&server, t1, "GET", "/v1/locks", None);
    assert_403(&r, "error", "team1", "read");

    // Gates are not locks.
    let r = call(&server, t1, "GET", "/api/services", None);
    assert_403(&r, "error", "team1", "read");
}

#[test]
fn a_gate_scope_allows_its_service_gates_and_tickets_only() {
    let sandbox = Sandbox::new("scopes-gate");
    let server = start(&sandbox);
    create_service(&server, "shop");
    create_service(&server, "other");
    let ops = "ops-secret";
    let close = json!({"state": "closed", "message": "testing. -Jens"});
    let r = call(
        &server,
        ops,
        "PUT",
        "/api/services/shop/live",
        Some(close.clone()),
    );
    assert_eq!(r.status, 200, "{r}");
    let open = json!({"state": "open"});
    assert_eq!(
        call(&server, ops, "PUT", "/api/services/shop/live", Some(open)).status,
        200
    );
    assert_eq!(
        call(&server, ops, "GET", "/api/services/shop", None).status,
        200
    );
    let r = call(&server, ops, "PUT", "/api/services/other/live", Some(close));
    assert_403(&r, "error", "ops", "gate:other");
    let r = call(&server, ops, "DELETE", "/api/services/other", None);
    assert_403(&r, "error", "ops", "gate:other");

    // Tickets: of its service's gates, yes; with another service's gate among them, no.
    let r = call(
        &server,
        ops,
        "PUT",
        "/api/services",
        Some(json!({"services": {"shop": ["testing"]}})),
    );
    assert_eq!(r.status, 200, "{r}");
    let mine = r.json()["ticket"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let both = json!({"services": {"shop": ["live"], "other": ["live"]}});
    let r = call(&server, ops, "PUT", "/api/services", Some(both));
    assert_403(&r, "error", "ops", "gate:other");
    assert_eq!(
        call(
            &server,
            ops,
            "DELETE",
            &format!("/api/tickets/{mine}"),
            None
        )
        .status,
        200
    );
    let r = call(
        &server,
        "boss-secret",
        "PUT",
        "/api/services",
        Some(json!({"services": {"other": ["testing"]}})),
    );
    assert_eq!(r.status, 200, "{r}");
    let theirs = r.json()["ticket"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = call(
        &server,
        ops,
        "DELETE",
        &format!("/api/tickets/{theirs}"),
        None,
    );
    assert_403(&r, "error", "ops", "gate:other");
    // Presenting another service's ticket with its own gates named is refused too.
    let r = call(
        &server,
        ops,
        "PUT",
        "/api/services",
        Some(json!({"services": {"shop": ["live"]}, "ticket": theirs})),
    );
    assert_403(&r, "error", "ops", "gate:other");
    // An unknown ticket stays a 404.
    let r = call(
        &server,
        ops,
        "DELETE",
        "/api/tickets/0b6f6c1e-7d1a-4c8e-9a57-3b0f3e1a2b3c",
        None,
    );
    assert_eq!(r.status, 404, "{r}");
    // Locks are not gates.
    let r = call(&server, ops, "POST", "/grab", Some(json!({"id": "shop"})));
    assert_403(&r, "fail", "ops", "lock:shop");
}

#[test]
fn read_allows_looking_at_everything_and_changing_nothing() {
    let sandbox = Sandbox::new("scopes-read");
    let server = start(&sandbox);
    create_service(&server, "shop");
    let w = "watch-secret";
    for path in [
        "/status",
        "/status?id=db",
        "/metrics",
        "/events",
        "/history",
        "/",
        "/api/services",
        "/api/services/shop",
        "/api/services/shop/live",
        "/v1/locks",
        "/v1/locks/db/",
    ] {
        let r = call(&server, w, "GET", path, None);
        assert!(r.status == 200 || r.status == 404, "GET {path}: {r}");
    }
    let r = call(&server, w, "POST", "/grab", Some(json!({"id": "db"})));
    assert_403(&r, "fail", "watch", "lock:db");
    let r = call(
        &server,
        w,
        "PUT",
        "/api/services/shop/live",
        Some(json!({"state": "closed"})),
    );
    assert_403(&r, "error", "watch", "gate:shop");
    let r = call(&server, w, "POST", "/locks/db", Some(json!({"title": "t"})));
    assert_403(&r, "error", "watch", "lock:db");
    let r = call(&server, w, "GET", "/resources", None);
    assert_403(&r, "error", "watch", "admin");
    let r = call(&server, w, "POST", "/break", Some(json!({"id": "db"})));
    assert_403(&r, "fail", "watch", "admin");
}

#[test]
fn admin_breaks_locks_and_makes_hal_administrative_requests_without_admin_credentials() {
    let sandbox = Sandbox::new("scopes-admin");
    let server = start(&sandbox);
    let boss = "boss-secret";
    let r = call(
        &server,
        "alice-secret",
        "POST",
        "/grab",
        Some(json!({"id": "stuck"})),
    );
    assert_eq!(r.status, 200, "{r}");
    let r = call(
        &server,
        boss,
        "POST",
        "/break",
        Some(json!({"id": "stuck"})),
    );
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["ended"], 1, "{r}");
    let r = call(
        &server,
        "alice-secret",
        "POST",
        "/locks/stuckhal",
        Some(json!({"title": "t"})),
    );
    assert_eq!(r.status, 201, "{r}");
    let r = call(&server, boss, "GET", "/resources/stuckhal", None);
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(
        call(&server, boss, "DELETE", "/resources/stuckhal", None).status,
        204
    );
    assert_eq!(
        call(&server, boss, "DELETE", "/resources", None).status,
        204
    );
    // Anyone else with a secret still needs the administrator for those.
    let r = call(
        &server,
        "alice-secret",
        "POST",
        "/break",
        Some(json!({"id": "x"})),
    );
    assert_403(&r, "fail", "alice", "admin");
    // And admin is every other scope too.
    assert_eq!(
        call(&server, boss, "POST", "/grab", Some(json!({"id": "any"}))).status,
        200
    );
    assert_eq!(call(&server, boss, "GET", "/metrics", None).status, 200);
}

#[test]
fn a_bare_secret_line_still_allows_everything_it_did() {
    let sandbox = Sandbox::new("scopes-bare");
    let server = start(&sandbox);
    create_service(&server, "shop");
    let s = "legacy-bare-secret";
    assert_eq!(
        call(&server, s, "POST", "/grab", Some(json!({"id": "db"}))).status,
        200
    );
    assert_eq!(call(&server, s, "POST", "/grab", None).status, 200);
    assert_eq!(call(&server, s, "GET", "/status", None).status, 200);
    assert_eq!(
        call(
            &server,
            s,
            "POST",
            "/locks/hal1",
            Some(json!({"title": "t"}))
        )
        .status,
        201
    );
    let r = call(&server, s, "POST", "/v1/locks/q1/requests", Some(json!({})));
    assert_eq!(r.status, 201, "{r}");
    let r = call(
        &server,
        s,
        "PUT",
        "/api/services/shop/live",
        Some(json!({"state": "closed"})),
    );
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(call(&server, s, "GET", "/metrics", None).status, 200);
    // As before, an administrative request still needs --admin-credentials (none here).
    let r = call(&server, s, "POST", "/break", Some(json!({"id": "db"})));
    assert_eq!(r.status, 403, "{r}");
    assert!(
        r.json()["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("--admin-credentials"),
        "{r}"
    );
}

#[test]
fn a_malformed_line_stops_the_server_naming_the_file_and_the_line() {
    let sandbox = Sandbox::new("scopes-malformed");
    for (text, words) in [
        (
            "a:1 read\n\nb:2 lock:x* write\n",
            &["line 3", "unknown scope", "\"write\""][..],
        ),
        ("a:1 read\n:2 read\n", &["line 2", "name"][..]),
        ("a:1 read\na:2 lock:x\n", &["line 2", "\"a\"", "line 1"][..]),
        ("a:1 lock:x/y\n", &["line 1", "lock:x/y"][..]),
    ] {
        let file = sandbox.path("secrets");
        std::fs::write(&file, text).expect("write the file");
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--auth-file"])
            .arg(&file);
        let line = sandbox.run(cmd).expect_error(2, words);
        assert!(line.contains(&file.display().to_string()), "{line}");
    }
}

#[test]
fn sighup_reads_the_file_again_and_a_bad_one_is_not_taken() {
    let sandbox = Sandbox::new("scopes-sighup");
    let file = sandbox.path("secrets");
    let server = Server::builder().secrets(&file, "t:s1 read\n").start();
    let grab = || {
        call(
            &server,
            "s1",
            "POST",
            "/grab",
            Some(json!({"id": "db", "holder": "h"})),
        )
    };
    let r = grab();
    assert_403(&r, "fail", "t", "lock:db");
    std::fs::write(&file, "t:s1 lock:d*\n").expect("rewrite");
    server.hangup();
    let deadline = Instant::now() + common::CONDITION_DEADLINE;
    let granted = loop {
        let r = grab();
        if r.status != 403 || Instant::now() >= deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(granted.status, 200, "after SIGHUP: {granted}");
    server.wait_for_stderr_line("the reload's line", |l| l.contains("read again"));
    // A malformed file is not taken: the one in force stays, and one line says why.
    std::fs::write(&file, "t:s1 lock:d* bogus\n").expect("rewrite");
    server.hangup();
    let line =
        server.wait_for_stderr_line("the failed reload's line", |l| l.contains("kept as it was"));
    assert!(line.contains("line 1") && line.contains("bogus"), "{line}");
    let r = call(&server, "s1", "POST", "/grab", Some(json!({"id": "d2"})));
    assert_eq!(r.status, 200, "{r}");
    // A secret taken out of the file is refused once the file is read again.
    std::fs::write(&file, "u:s2 read\n").expect("rewrite");
    server.hangup();
    let deadline = Instant::now() + common::CONDITION_DEADLINE;
    let refused = loop {
        let r = call(&server, "s1", "GET", "/status?id=db", None);
        if r.status == 401 || Instant::now() >= deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(refused.status, 401, "{refused}");
}

#[test]
fn an_identity_is_the_holder_of_a_request_that_names_none() {
    let sandbox = Sandbox::new("scopes-holder");
    let server = start(&sandbox);
    create_service(&server, "shop");
    let a = "alice-secret";
    assert_eq!(
        call(&server, a, "POST", "/grab", Some(json!({"id": "db"}))).status,
        200
    );
    let r = call(
        &server,
        a,
        "POST",
        "/grab",
        Some(json!({"id": "named", "holder": "job 7"})),
    );
    assert_eq!(r.status, 200, "{r}");
    let r = call(&server, a, "POST", "/v1/locks/rq/requests", Some(json!({})));
    assert_eq!(r.status, 201, "{r}");
    let status = call(&server, "watch-secret", "GET", "/status", None).json();
    let holder = |id: &str| {
        status["locks"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["id"] == id))
            .map(|l| l["holder"].clone())
    };
    assert_eq!(holder("db"), Some(json!("alice")), "{status}");
    assert_eq!(holder("named"), Some(json!("job 7")), "{status}");
    assert_eq!(holder("rq"), Some(json!("alice")), "{status}");
    let r = call(
        &server,
        a,
        "PUT",
        "/api/services",
        Some(json!({"services": {"shop": ["live"]}})),
    );
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.json()["ticket"]["holder"], "alice", "{r}");
}
