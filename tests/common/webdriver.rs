//! A small W3C WebDriver client (over `ureq`) that drives headless Chromium through `chromedriver`, for
//! the dashboard's test. `Browser::launch` says why it cannot run (no browser installed) instead of
//! failing; the caller decides whether that is a skip or a failure (`WEBLOCK_REQUIRE_BROWSER=1`).
//!
//! chromedriver runs in its own process group (`cli::Sandbox::spawn`), with its own free port and a
//! fresh Chromium profile in the sandbox; on drop the session is deleted (Chromium quits) and the group
//! is killed, also when the test fails.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::cli_helpers::{Proc, Sandbox, free_port};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long chromedriver may take to answer `/status`, and any one WebDriver call.
const STARTUP: Duration = Duration::from_secs(20);
const CALL: Duration = Duration::from_secs(30);

/// The flags the dashboard's browser runs with: headless, as root (no sandbox), and quiet (no calls
/// home, no first-run pages, no component updates).
const CHROME_ARGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
];

pub struct Browser {
    agent: ureq::Agent,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    // Dropped after `Drop::drop` ran (which deletes the session): chromedriver's group is killed, then
    // the profile directory removed.
    _driver: Proc,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session with a fresh profile in `sandbox`. `Err`
    /// says why not when Chromium or chromedriver is not installed.
    pub fn launch(sandbox: &Sandbox) -> Result<Browser, String> {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(bin).exists() {
                return Err(format!(
                    "{bin} is not installed (Debian: apt-get install chromium chromium-driver)"
                ));
            }
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(CALL))
            .build()
            .into();
        let port = free_port();
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()]);
        let mut driver = sandbox.spawn(cmd);
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + STARTUP;
        loop {
            let ready = call(&agent, "GET", &format!("{base}/status"), None)
                .is_ok_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(driver.is_running(), "chromedriver exited at start");
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on port {port} within {STARTUP:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = sandbox.path("chromium-profile");
        let mut args: Vec<String> = CHROME_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push("--window-size=1280,900".into());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let created = call(
            &agent,
            "POST",
            &format!("{base}/session"),
            Some(&capabilities),
        )
        .unwrap_or_else(|e| panic!("cannot create a WebDriver session: {e}"));
        let id = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"))
            .to_string();
        Ok(Browser {
            agent,
            session: format!("{base}/session/{id}"),
            _driver: driver,
        })
    }

    /// A WebDriver command on this session; panics on an error answer.
    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}{path}", self.session);
        match call(&self.agent, method, &url, body) {
            Ok(v) => v["value"].clone(),
            Err(e) => panic!("WebDriver {method} {path}: {e}"),
        }
    }

    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(&json!({"url": url})));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page and returns its value.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// The rendered text of the first element matching `selector` (empty if there is none).
    pub fn text(&self, selector: &str) -> String {
        let v = self.execute(
            "var e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            json!([selector]),
        );
        v.as_str().unwrap_or_default().to_string()
    }

    /// Polls the text of `selector` until `pred` holds, for at most `within`; returns that text, or
    /// panics with `what` and the last text seen. The page is never reloaded: it must change by itself.
    pub fn wait_for_text(
        &self,
        selector: &str,
        within: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.text(selector);
            if pred(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {what}; {selector} reads:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The WebDriver id of the first element matching `selector`, waiting up to `within` for it.
    pub fn find(&self, selector: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let found = self.execute(
                "var e = document.querySelector(arguments[0]); return e && e.offsetParent !== null;",
                json!([selector]),
            );
            if found == json!(true) {
                let v = self.command(
                    "POST",
                    "/element",
                    Some(&json!({"using": "css selector", "value": selector})),
                );
                let id = v
                    .as_object()
                    .and_then(|o| o.values().next())
                    .and_then(Value::as_str);
                return id
                    .unwrap_or_else(|| panic!("no element id in {v}"))
                    .to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no visible element {selector} within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the first visible element matching `selector` (waited for up to 10 s), as a user would.
    /// The page re-draws as events come: an element found just before a re-draw is gone ("stale")
    /// when clicked, and the new one is found and clicked instead, a few times at most.
    pub fn click(&self, selector: &str) {
        for _ in 0..5 {
            let id = self.find(selector, Duration::from_secs(10));
            let path = format!("/element/{id}/click");
            let url = format!("{}{path}", self.session);
            match call(&self.agent, "POST", &url, Some(&json!({}))) {
                Ok(_) => return,
                Err(e) if e.contains("stale element reference") => continue,
                Err(e) => panic!("WebDriver POST {path}: {e}"),
            }
        }
        panic!("{selector} was re-drawn under every click");
    }

    /// Types `text` into the first visible element matching `selector` (after clearing it).
    pub fn type_into(&self, selector: &str, text: &str) {
        let id = self.find(selector, Duration::from_secs(10));
        self.command("POST", &format!("/element/{id}/clear"), Some(&json!({})));
        self.command(
            "POST",
            &format!("/element/{id}/value"),
            Some(&json!({"text": text})),
        );
    }

    /// Sets the window's size in CSS pixels.
    pub fn set_window_size(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "/window/rect",
            Some(&json!({"width": width, "height": height})),
        );
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self.command("GET", "/screenshot", None);
        let encoded = encoded.as_str().expect("a screenshot is a base64 string");
        weblock::base64::decode(encoded).expect("the screenshot is valid base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium quits with its session; chromedriver's process group is killed after (`Proc`).
        let _ = call(&self.agent, "DELETE", &self.session, None);
    }
}

fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let result = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, body) => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.cloned().unwrap_or_else(|| json!({})).to_string()),
    };
    let mut response = result.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
    if status != 200 {
        return Err(format!("{status}: {}", v["value"]));
    }
    Ok(v)
}
