//! The dashboard: `GET /` for a browser. Its HTTP shape (who gets the page; under `--auth-file` the
//! page is served and the API behind it asks for the secret) is checked with the raw client; the page
//! itself is driven in headless Chromium through chromedriver: a lock, a waiter, a closed gate and a
//! ticket appear on it and go again without a reload, with and without `--auth-file` (the page asks
//! for the secret itself), and it says so when the server is gone. Its controls are in
//! `tests/dashboard_controls.rs`. Screenshots are left in
//! `target/dashboard.png` (everything on it) and `target/dashboard-unreachable.png`.
//!
//! Without Chromium or chromedriver installed the browser tests say they were skipped, in one line;
//! with `WEBLOCK_REQUIRE_BROWSER=1` (as CI sets) that is a failure instead.

use crate::cli_helpers;
use crate::common;
use crate::webdriver;

use std::io::Write;
use std::time::Duration;

use cli_helpers::Sandbox;
use common::{Enc, Server};
use serde_json::json;
use webdriver::Browser;

const HTML: (&str, &str) = (
    "Accept",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
);
/// How long the page may take to show a change: it polls once a second.
const SHOWN_WITHIN: Duration = Duration::from_secs(10);
const SECRET: &str = "s3cret-dash";

// ---------------------------------------------------------------------------------------------------
// Over HTTP
// ---------------------------------------------------------------------------------------------------

#[test]
fn a_browser_gets_the_page_and_a_script_gets_what_it_always_did() {
    let server = Server::start();
    let r = server.request("GET", "/", &[HTML], b"");
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'none'"), "{r}");
    let page = r.text();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page:.200}");
    // Self-contained: nothing is loaded from anywhere else.
    for external in ["src=\"http", "href=\"http", "@import", "<link"] {
        assert!(!page.contains(external), "the page refers to {external}");
    }
    let head = server.request("HEAD", "/", &[HTML], b"");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(&*page.len().to_string())
    );

    // Not a browser (curl's */*, or no Accept at all): a short JSON naming the service, its
    // version and where the docs are.
    for accept in [None, Some("*/*"), Some("application/json")] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let r = server.request("GET", "/", &headers, b"");
        assert_eq!(r.status, 200, "Accept {accept:?}: {r}");
        let v = r.json();
        assert_eq!(v["service"], "weblock", "{v}");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{v}");
        assert!(
            v["docs"]
                .as_str()
                .is_some_and(|d| d.contains("docs/api.md")),
            "{v}"
        );
    }
    let r = server.request("POST", "/", &[HTML], b"");
    assert_eq!(r.status, 405, "{r}");
    r.assert_fail_json();
    // The original gatekeeper's page paths serve the page too, to anyone.
    for path in ["/gates", "/gates/", "/index"] {
        for accept in [None, Some("*/*"), Some("text/html")] {
            let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
            let r = server.request("GET", path, &headers, b"");
            assert_eq!(r.status, 200, "GET {path}, Accept {accept:?}: {r}");
            assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
            assert!(r.text().starts_with("<!DOCTYPE html>"), "{path}");
        }
    }
}

#[test]
fn under_auth_file_the_page_is_served_and_the_api_asks_for_the_secret() {
    let sandbox = Sandbox::new("dashboard-401");
    let server = auth_server(&sandbox);
    // The page holds nothing: anyone may load it; it asks for the secret itself.
    let r = server.request("GET", "/", &[HTML], b"");
    assert_eq!(r.status, 200, "{r}");
    assert!(
        r.text().contains("data-field=\"secret\""),
        "the page has a secret prompt"
    );
    // What it reads is the API's, behind the secret as ever.
    for path in ["/status", "/api/services", "/events"] {
        let r = server.request("GET", path, &[], b"");
        assert_eq!(r.status, 401, "{path}: {r}");
        let bearer = format!("Bearer {SECRET}");
        let r = server.request("GET", path, &[("Authorization", &bearer)], b"");
        assert_eq!(r.status, 200, "{path}: {r}");
    }
    // So is what the server is, for a script.
    let r = server.request("GET", "/", &[], b"");
    assert_eq!(r.status, 401, "{r}");
}

// ---------------------------------------------------------------------------------------------------
// In a browser
// ---------------------------------------------------------------------------------------------------

/// Chromium, or `None` (with one line saying why) when it is not installed and not required.
fn browser(sandbox: &Sandbox) -> Option<Browser> {
    match Browser::launch(sandbox) {
        Ok(browser) => Some(browser),
        Err(why) if std::env::var("WEBLOCK_REQUIRE_BROWSER").as_deref() == Ok("1") => {
            panic!("WEBLOCK_REQUIRE_BROWSER=1, but the browser test cannot run: {why}")
        }
        Err(why) => {
            // Straight to stderr, past the test harness's capture: a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "dashboard browser test skipped: {why} (set WEBLOCK_REQUIRE_BROWSER=1 to fail instead)"
            );
            None
        }
    }
}

fn auth_server(sandbox: &Sandbox) -> Server {
    Server::builder()
        .secrets(&sandbox.path("secrets"), &format!("{SECRET}\n"))
        .start()
}

/// Proves later that the page was never reloaded: a reload forgets it.
fn mark_page(browser: &Browser) {
    browser.execute(
        "window.weblockTestMark = 'same page'; return null;",
        json!([]),
    );
}

fn assert_same_page(browser: &Browser) {
    let mark = browser.execute("return window.weblockTestMark || null;", json!([]));
    assert_eq!(mark, json!("same page"), "the page was reloaded");
}

/// Saves a screenshot as `target/NAME`, to be looked at.
fn save_screenshot(browser: &Browser, name: &str) {
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join(name);
    std::fs::write(&shot, &png).unwrap_or_else(|e| panic!("write {}: {e}", shot.display()));
}

fn gate_put(server: &Server, path: &str, body: serde_json::Value, auth: &[(&str, &str)]) {
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend_from_slice(auth);
    let r = server.request("PUT", path, &headers, body.to_string().as_bytes());
    assert_eq!(r.status, 200, "PUT {path} {body}: {r}");
}

#[test]
fn the_page_follows_locks_gates_and_tickets_without_a_reload() {
    let sandbox = Sandbox::new("dashboard");
    let server = Server::start();
    let Some(browser) = browser(&sandbox) else {
        return;
    };
    browser.goto(&server.url("/"));
    browser.wait_for_text("#conn", SHOWN_WITHIN, "the page to say it is live", |t| {
        t.starts_with("live")
    });
    mark_page(&browser);
    let empty = browser.text("#locks");
    assert!(empty.contains("No lock is held"), "{empty}");

    // A lock with a lease, and a waiter behind it.
    let grant = server.grab_ok(
        Enc::Form,
        &[
            ("id", "db"),
            ("holder", "alice@build3 pid 42"),
            ("ttl", "300"),
        ],
    );
    let token = grant["token"].as_str().expect("a token").to_string();
    browser.wait_for_text("#locks", SHOWN_WITHIN, "lock db held by alice", |t| {
        t.contains("db") && t.contains("alice@build3 pid 42")
    });
    let waiter = common::spawn_grab(
        server.addr(),
        Enc::Form,
        &[("id", "db"), ("holder", "bob@ci7 pid 77"), ("wait", "60")],
        Duration::from_secs(30),
    );
    browser.wait_for_text("#locks", SHOWN_WITHIN, "bob waiting for db", |t| {
        t.contains("bob@ci7 pid 77") && t.contains("waiting")
    });
    // A semaphore says how full it is, and lists every holder.
    let gpu_tokens: Vec<String> = ["gpu job 1", "gpu job 2"]
        .iter()
        .map(|holder| {
            let grant = server.grab_ok(
                Enc::Form,
                &[("id", "gpu"), ("holder", holder), ("slots", "3")],
            );
            grant["token"].as_str().expect("a token").to_string()
        })
        .collect();
    browser.wait_for_text("#locks", SHOWN_WITHIN, "gpu, 2 of 3 held", |t| {
        t.contains("2 of 3 held") && t.contains("gpu job 1") && t.contains("gpu job 2")
    });

    // A closed gate with a message, and a ticket waiting for it.
    let created = server.request(
        "POST",
        "/api/services/shop",
        &[("Content-Type", "application/json")],
        br#"{"group": "team12", "environments": ["testing", "live"]}"#,
    );
    assert_eq!(created.status, 200, "{created}");
    gate_put(
        &server,
        "/api/services/shop/live",
        json!({"state": "closed", "message": "testing the release. -Jens"}),
        &[],
    );
    let queued = server.request(
        "PUT",
        "/api/services?queue=true",
        &[("Content-Type", "application/json")],
        br#"{"services": {"shop": ["live"]}}"#,
    );
    let ticket = queued.json()["ticket"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a queued ticket: {queued}"))
        .to_string();
    let gates = browser.wait_for_text("#gates", SHOWN_WITHIN, "gate shop:live closed", |t| {
        t.contains("closed") && t.contains("testing the release. -Jens")
    });
    assert!(
        gates.contains("team12") && gates.contains("testing"),
        "{gates}"
    );
    browser.wait_for_text("#tickets", SHOWN_WITHIN, "the queued ticket", |t| {
        t.contains(&ticket) && t.contains("shop:live")
    });
    for (counter, n) in [
        ("#n-locks", "2"),
        ("#n-waiting", "1"),
        ("#n-gates", "1"),
        ("#n-tickets", "1"),
    ] {
        assert_eq!(browser.text(counter), n, "{counter}");
    }

    // Everything is on the page: this is the picture to look at.
    save_screenshot(&browser, "dashboard.png");

    // Released: the waiter holds it now, then nobody.
    server.release_ok(Enc::Form, "db", &token);
    let answer = common::recv_within(&waiter, Duration::from_secs(10), "bob's grant")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer.status, 200, "{answer}");
    let bob_token = answer.json()["token"]
        .as_str()
        .expect("a token")
        .to_string();
    browser.wait_for_text("#locks", SHOWN_WITHIN, "bob holding db, alice gone", |t| {
        t.contains("bob@ci7 pid 77") && !t.contains("alice") && !t.contains("waiting")
    });
    server.release_ok(Enc::Form, "db", &bob_token);
    for token in &gpu_tokens {
        server.release_ok(Enc::Form, "gpu", token);
    }
    browser.wait_for_text("#locks", SHOWN_WITHIN, "no lock held", |t| {
        t.contains("No lock is held")
    });

    // The gate opened: the ticket is granted when it calls, and goes when deleted.
    gate_put(
        &server,
        "/api/services/shop/live",
        json!({"state": "open"}),
        &[],
    );
    browser.wait_for_text("#gates", SHOWN_WITHIN, "gate shop:live open", |t| {
        !t.contains("closed")
    });
    let r = server.request("DELETE", &format!("/api/tickets/{ticket}"), &[], b"");
    assert_eq!(r.status, 200, "{r}");
    browser.wait_for_text("#tickets", SHOWN_WITHIN, "no ticket", |t| {
        t.contains("No ticket is live")
    });
    assert_same_page(&browser);

    // The server goes away: the page says so, and keeps what it showed.
    drop(server);
    browser.wait_for_text(
        "#conn",
        SHOWN_WITHIN,
        "the page to see the server gone",
        |t| t.contains("server unreachable"),
    );
    let banner = browser.text("#banner");
    assert!(banner.contains("Cannot reach"), "{banner}");
    save_screenshot(&browser, "dashboard-unreachable.png");
    assert_same_page(&browser);
}

#[test]
fn under_auth_file_the_page_asks_for_the_secret_once_and_polls_with_it() {
    let sandbox = Sandbox::new("dashboard-auth");
    let server = auth_server(&sandbox);
    let Some(browser) = browser(&sandbox) else {
        return;
    };
    browser.goto(&server.url("/"));
    browser.wait_for_text("#conn", SHOWN_WITHIN, "the page to ask for a secret", |t| {
        t == "secret needed"
    });
    mark_page(&browser);
    // A wrong secret is refused, and the page says so.
    browser.type_into("#auth [data-field=secret]", "not-it");
    browser.click("#auth [data-action=login]");
    browser.wait_for_text("#banner", SHOWN_WITHIN, "the wrong secret refused", |t| {
        t.contains("refused")
    });
    browser.type_into("#auth [data-field=secret]", SECRET);
    browser.click("#auth [data-action=login]");
    browser.wait_for_text("#conn", SHOWN_WITHIN, "the page to say it is live", |t| {
        t.starts_with("live")
    });
    // Kept for this tab only.
    let kept = browser.execute(
        "return [sessionStorage.getItem('weblock.secret'), localStorage.length];",
        json!([]),
    );
    assert_eq!(kept, json!([SECRET, 0]));
    let bearer = format!("Bearer {SECRET}");
    let (ct, body) = Enc::Form.encode(&[("id", "deploy"), ("holder", "carol")]);
    let r = server.request(
        "POST",
        "/grab",
        &[("Content-Type", &ct), ("Authorization", &bearer)],
        &body,
    );
    assert_eq!(r.status, 200, "{r}");
    browser.wait_for_text("#locks", SHOWN_WITHIN, "lock deploy held by carol", |t| {
        t.contains("deploy") && t.contains("carol")
    });
    assert_same_page(&browser);
}
