//! The dashboard's controls, end to end in headless Chromium: each one clicked as a user would (its
//! `data-action`, its `data-field` inputs, its `data-action="confirm"` button), then checked through
//! the API; a page on another site that tries to change state through its visitor's browser; the
//! layout at 400 px (a screenshot is left as `CARGO_TARGET_TMPDIR/dashboard-400px.png`).
//!
//! Without Chromium or chromedriver the tests say they were skipped, in one line; with
//! `WEBLOCK_REQUIRE_BROWSER=1` that is a failure.

use crate::cli_helpers;
use crate::common;
use crate::webdriver;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use cli_helpers::Sandbox;
use common::{Enc, Server};
use serde_json::{Value, json};
use webdriver::Browser;

const SHOWN_WITHIN: Duration = Duration::from_secs(10);
const ADMIN: &str = "root:hunter2-admin";
const JSON: (&str, &str) = ("Content-Type", "application/json");

fn browser(sandbox: &Sandbox) -> Option<Browser> {
    match Browser::launch(sandbox) {
        Ok(browser) => Some(browser),
        Err(why) if std::env::var("WEBLOCK_REQUIRE_BROWSER").as_deref() == Ok("1") => {
            panic!("WEBLOCK_REQUIRE_BROWSER=1, but the browser test cannot run: {why}")
        }
        Err(why) => {
            let _ = writeln!(
                std::io::stderr(),
                "dashboard browser test skipped: {why} (set WEBLOCK_REQUIRE_BROWSER=1 to fail instead)"
            );
            None
        }
    }
}

fn admin_server(sandbox: &Sandbox, extra: &[&str]) -> Server {
    let creds = sandbox.path("admin");
    std::fs::write(&creds, format!("{ADMIN}\n")).expect("write the admin credentials");
    let mut args = vec!["--admin-credentials", creds.to_str().expect("UTF-8 path")];
    args.extend_from_slice(extra);
    Server::builder().args(&args).start()
}

fn live(browser: &Browser, server: &Server) {
    browser.goto(&server.url("/"));
    browser.wait_for_text("#conn", SHOWN_WITHIN, "the page to say it is live", |t| {
        t.starts_with("live")
    });
}

/// Opens a control's dialog, fills its fields, checks what it says will happen, confirms, and waits
/// for the page to say it was done.
fn act(browser: &Browser, control: &str, fields: &[(&str, &str)], says: &[&str]) {
    browser.click(control);
    let text = browser.wait_for_text("#dialog", SHOWN_WITHIN, "the dialog", |t| !t.is_empty());
    for s in says {
        assert!(
            text.contains(s),
            "{control}: the dialog should say {s:?}:\n{text}"
        );
    }
    for (field, value) in fields {
        browser.type_into(&format!("#dialog [data-field={field}]"), value);
    }
    browser.click("#dialog [data-action=confirm]");
    let deadline = std::time::Instant::now() + SHOWN_WITHIN;
    while browser.execute(
        "return document.getElementById('dialog').hidden;",
        json!([]),
    ) != json!(true)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{control}: the dialog did not close; it reads:\n{}",
            browser.text("#dialog")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let notice = browser.execute(
        "var n = document.getElementById('notice'); return [n.textContent, n.className];",
        json!([]),
    );
    assert_eq!(notice[1], "", "{control}: {notice}");
}

fn gate(server: &Server, gate: &str) -> Value {
    let r = server.get(&format!("/api/services/{gate}"));
    assert_eq!(r.status, 200, "{r}");
    r.json()
}

#[test]
fn every_control_acts_through_the_api() {
    let sandbox = Sandbox::new("dash-controls");
    let server = admin_server(&sandbox, &[]);
    let Some(browser) = browser(&sandbox) else {
        return;
    };
    live(&browser, &server);

    // A service with its gates.
    act(
        &browser,
        "[data-action=create-service]",
        &[
            ("name", "shop"),
            ("group", "team12"),
            ("gates", "live, testing"),
        ],
        &["New service"],
    );
    let svc = server.get("/api/services/shop").json();
    assert_eq!(svc["group"], "team12", "{svc}");
    let mut gates: Vec<&String> = svc["environments"]
        .as_object()
        .expect("gates")
        .keys()
        .collect();
    gates.sort();
    assert_eq!(gates, ["live", "testing"]);

    // Closed with a message, shown with when it was set; then opened.
    act(
        &browser,
        "[data-action=close-gate][data-service=shop][data-gate=live]",
        &[("message", "testing the release. -Jens")],
        &["Close gate shop:live"],
    );
    let g = gate(&server, "shop/live");
    assert_eq!(
        (g["state"].as_str(), g["message"].as_str()),
        (Some("closed"), Some("testing the release. -Jens"))
    );
    browser.wait_for_text("#gates", SHOWN_WITHIN, "the message and its time", |t| {
        t.contains("testing the release. -Jens") && t.contains("set ") && t.contains(" ago")
    });
    browser.wait_for_text(
        "#changes",
        SHOWN_WITHIN,
        "the change in recent changes",
        |t| t.contains("gate closed shop:live") && t.contains("service created shop"),
    );
    act(
        &browser,
        "[data-action=open-gate][data-service=shop][data-gate=live]",
        &[("message", "released")],
        &["Open gate shop:live"],
    );
    let g = gate(&server, "shop/live");
    assert_eq!(
        (g["state"].as_str(), g["message"].as_str()),
        (Some("open"), Some("released"))
    );

    // A ticket waiting behind a ticket: ending the first lets the second through.
    let take = |queue: bool| {
        let path = if queue {
            "/api/services?queue=true"
        } else {
            "/api/services"
        };
        let body: &[u8] = if queue {
            br#"{"services": {"shop": ["live"]}, "holder": "carol@ci7 pid 9"}"#
        } else {
            br#"{"services": {"shop": ["live"]}}"#
        };
        let r = server.request("PUT", path, &[JSON], body);
        r.json()["ticket"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("a ticket: {r}"))
            .to_string()
    };
    let first = take(false);
    let second = take(true);
    browser.wait_for_text(
        "#tickets",
        SHOWN_WITHIN,
        "both tickets, and who asked",
        |t| t.contains(&first) && t.contains(&second) && t.contains("carol@ci7 pid 9"),
    );
    browser.wait_for_text("#gates", SHOWN_WITHIN, "carol in the gate's queue", |t| {
        t.contains("carol@ci7 pid 9")
    });
    act(
        &browser,
        &format!("[data-action=end-ticket][data-ticket=\"{first}\"]"),
        &[],
        &[&first, "shop:live"],
    );
    let r = server.request("DELETE", &format!("/api/tickets/{first}"), &[], b"");
    assert_eq!(r.status, 404, "the ticket was ended: {r}");
    // The queue lists ticket objects, as the original gatekeeper does.
    let queue: Vec<Value> = gate(&server, "shop/live")["queue"]
        .as_array()
        .map(|q| q.iter().map(|t| t["id"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(queue, [json!(second.clone())]);

    // A lock held and waited for: ended by the administrator, whom the page asks for.
    let grant = server.grab_ok(
        Enc::Form,
        &[("id", "db"), ("holder", "alice@build3 pid 42")],
    );
    assert!(grant["token"].is_string());
    let waiter = common::spawn_grab(
        server.addr(),
        Enc::Form,
        &[("id", "db"), ("holder", "bob"), ("wait", "60")],
        Duration::from_secs(30),
    );
    server.wait_for_waiting("db", 1);
    browser.wait_for_text("#locks", SHOWN_WITHIN, "bob waiting", |t| t.contains("bob"));
    // A wrong password first: refused, the lock still held, the dialog still open.
    browser.click("[data-action=end-holder][data-lock=db]");
    let text = browser.wait_for_text("#dialog", SHOWN_WITHIN, "the dialog", |t| !t.is_empty());
    assert!(
        text.contains("alice@build3 pid 42") && text.contains("1 request waiting"),
        "{text}"
    );
    browser.type_into("#dialog [data-field=user]", "root");
    browser.type_into("#dialog [data-field=password]", "wrong");
    browser.click("#dialog [data-action=confirm]");
    browser.wait_for_text("#dialog-error", SHOWN_WITHIN, "the refusal", |t| {
        t.contains("wrong administrator")
    });
    assert_eq!(server.status("db")["in_use"], true);
    browser.type_into("#dialog [data-field=password]", "hunter2-admin");
    browser.click("#dialog [data-action=confirm]");
    browser.wait_for_text("#notice", SHOWN_WITHIN, "the lock ended", |t| {
        t.contains("Ended lock db")
    });
    assert_eq!(server.status("db")["in_use"], false);
    let answer = common::recv_within(&waiter, Duration::from_secs(10), "bob's answer")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer.status, 409, "the waiter was ended too: {answer}");

    // The service deleted: the dialog names its gates and the ticket that ends with it.
    act(
        &browser,
        "[data-action=delete-service][data-service=shop]",
        &[],
        &["live, testing", &second, "carol@ci7 pid 9"],
    );
    assert_eq!(server.get("/api/services/shop").status, 404);
    browser.wait_for_text(
        "#changes",
        SHOWN_WITHIN,
        "the deletion in recent changes",
        |t| t.contains("service deleted shop") && t.contains("delete db"),
    );
}

#[test]
fn under_auth_file_the_controls_carry_the_secret_and_the_administrator() {
    let sandbox = Sandbox::new("dash-controls-auth");
    let secrets = sandbox.path("secrets");
    std::fs::write(&secrets, "team-secret\n").expect("write secrets");
    let server = admin_server(&sandbox, &["--auth-file", secrets.to_str().expect("UTF-8")]);
    let bearer = ("Authorization", "Bearer team-secret");
    let r = server.request(
        "POST",
        "/api/services/shop",
        &[JSON, bearer],
        br#"{"group": "g", "environments": ["live"]}"#,
    );
    assert_eq!(r.status, 200, "{r}");
    let Some(browser) = browser(&sandbox) else {
        return;
    };
    browser.goto(&server.url("/"));
    browser.type_into("#auth [data-field=secret]", "team-secret");
    browser.click("#auth [data-action=login]");
    browser.wait_for_text("#conn", SHOWN_WITHIN, "live", |t| t.starts_with("live"));
    act(
        &browser,
        "[data-action=close-gate][data-service=shop][data-gate=live]",
        &[("message", "frozen")],
        &["shop:live"],
    );
    let g = server.request("GET", "/api/services/shop/live", &[bearer], b"");
    assert_eq!(g.json()["state"], "closed", "{g}");
    let (ct, body) = Enc::Form.encode(&[("id", "db"), ("holder", "carol")]);
    let r = server.request("POST", "/grab", &[("Content-Type", &ct), bearer], &body);
    assert_eq!(r.status, 200, "{r}");
    browser.wait_for_text("#locks", SHOWN_WITHIN, "carol", |t| t.contains("carol"));
    act(
        &browser,
        "[data-action=end-holder][data-lock=db]",
        &[("user", "root"), ("password", "hunter2-admin")],
        &["carol"],
    );
    let r = server.request("GET", "/status?id=db", &[bearer], b"");
    assert_eq!(r.json()["in_use"], false, "{r}");
}

/// A page on another site (`localhost:OTHER`, while the dashboard is `127.0.0.1:PORT`) that submits
/// plain HTML forms to the server, and tries `fetch` with no-cors and a PUT: nothing changes.
#[test]
fn a_page_on_another_site_cannot_change_anything() {
    let sandbox = Sandbox::new("dash-csrf");
    let server = Server::start();
    let r = server.request(
        "POST",
        "/api/services/shop",
        &[JSON],
        br#"{"group": "g", "environments": ["live"]}"#,
    );
    assert_eq!(r.status, 200, "{r}");
    let Some(browser) = browser(&sandbox) else {
        return;
    };
    let target = format!("http://{}", server.addr());
    let evil = format!(
        r#"<!DOCTYPE html><html><body>
<form method="POST" action="{target}/grab"><input name="id" value="db"><input name="holder" value="evil"></form>
<script>
fetch("{target}/api/services/shop/live", {{method: "POST", mode: "no-cors", body: '{{"state": "closed"}}'}});
fetch("{target}/api/services/shop/live", {{method: "PUT", body: '{{"state": "closed"}}', headers: {{"Content-Type": "application/json"}}}})
  .catch(function () {{}})
  .then(function () {{ document.forms[0].submit(); }});
</script></body></html>"#
    );
    let page = serve_once_forever(evil);
    browser.goto(&format!("http://localhost:{page}/"));
    // The form's answer is what the browser shows now: the server's refusal.
    let shown = browser.wait_for_text("body", SHOWN_WITHIN, "the refusal", |t| {
        t.contains("cross-site request refused")
    });
    assert!(shown.contains("403") || shown.contains("fail"), "{shown}");
    assert_eq!(server.status("db")["in_use"], false, "no lock was taken");
    let g = server.get("/api/services/shop/live").json();
    assert_eq!(g["state"], "open", "the gate stays open: {g}");
    let metrics = server.get("/metrics").text();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("weblock_requests_total{api=\"webmutex\",code=\"403\"} ")),
        "the form's POST reached the server and was refused"
    );
}

/// Serves `html` to every request on a port of its own (a thread for the test's life).
fn serve_once_forever(html: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 8192];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
                html.len()
            );
        }
    });
    port
}

#[test]
fn at_400_px_the_page_is_cards_without_sideways_scrolling() {
    let sandbox = Sandbox::new("dash-narrow");
    let server = Server::start();
    let r = server.request(
        "POST",
        "/api/services/shop",
        &[JSON],
        br#"{"group": "team12", "environments": ["testing", "live"]}"#,
    );
    assert_eq!(r.status, 200, "{r}");
    let r = server.request(
        "PUT",
        "/api/services/shop/live",
        &[JSON],
        br#"{"state": "closed", "message": "testing the release. -Jens"}"#,
    );
    assert_eq!(r.status, 200, "{r}");
    server.grab_ok(
        Enc::Form,
        &[
            ("id", "db"),
            ("holder", "alice@build3 pid 42"),
            ("ttl", "300"),
        ],
    );
    let Some(browser) = browser(&sandbox) else {
        return;
    };
    browser.set_window_size(400, 900);
    live(&browser, &server);
    browser.wait_for_text("#gates", SHOWN_WITHIN, "the closed gate", |t| {
        t.contains("testing the release")
    });
    let layout = browser.execute(
        "var th = document.querySelector('#locks thead');
         var td = document.querySelector('#locks td');
         return {width: window.innerWidth, scroll: document.documentElement.scrollWidth,
                 thead: th ? getComputedStyle(th).display : null,
                 td: td ? getComputedStyle(td).display : null,
                 label: td ? getComputedStyle(td, '::before').content : null};",
        json!([]),
    );
    assert!(
        layout["width"].as_u64().is_some_and(|w| w <= 400),
        "{layout}"
    );
    assert!(
        layout["scroll"].as_u64() <= layout["width"].as_u64(),
        "nothing wider than the window: {layout}"
    );
    assert_eq!(layout["thead"], "none", "no table headings: {layout}");
    assert_eq!(
        layout["td"], "flex",
        "a cell a line, its label first: {layout}"
    );
    assert_eq!(layout["label"], "\"Lock\"", "each line labelled: {layout}");
    // The lock's last hour, drawn inline from GET /history.
    let plot = browser.execute(
        "var t = document.querySelector('#locks svg.plot title'); return t ? t.textContent : null;",
        json!([]),
    );
    assert!(
        plot.as_str().is_some_and(|t| t.contains("1 grants")),
        "a plot of db's last hour: {plot}"
    );
    // The controls are there, and usable.
    browser.click("[data-action=close-gate][data-service=shop][data-gate=testing]");
    browser.find("#dialog [data-action=confirm]", SHOWN_WITHIN);
    browser.click("#dialog [data-action=cancel]");
    browser.execute("window.scrollTo(0, 0); return null;", json!([]));
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-400px.png");
    std::fs::write(&shot, &png).unwrap_or_else(|e| panic!("write {}: {e}", shot.display()));
}
