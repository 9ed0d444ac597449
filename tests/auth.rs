//! Access control: `weblock serve --auth-file FILE` makes every request carry one of the file's
//! secrets (Bearer, or HTTP Basic with the secret as the password), on every API; the CLI sends it from
//! `WEBLOCK_AUTH` or `WEBLOCK_AUTH_FILE`; and `serve` warns when it listens beyond loopback without it.

use crate::cli_helpers;
use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cli_helpers::*;
use common::Server;

const SECRETS: &str = "# the team's secrets\n\ns3cret-one\n  s3cret-two  \n";
/// `anyone:s3cret-two`
const BASIC_GOOD: &str = "Basic YW55b25lOnMzY3JldC10d28=";
/// `anyone:wrong`
const BASIC_WRONG: &str = "Basic YW55b25lOndyb25n";

/// One GET per API, and what it answers once let in (the HAL lock and the request-queue resource do
/// not exist: 404; the HAL listings are administrative).
const APIS: &[(&str, &str, u16, &str)] = &[
    ("WebMutex", "/status?id=db", 200, "fail"),
    (
        "HAL",
        "/locks/db/0123456789abcdef0123456789abcdef",
        404,
        "error",
    ),
    ("request queue", "/v1/locks/nothing/", 404, "error"),
    ("gatekeeper", "/api/services", 200, "error"),
];

fn auth_server(sandbox: &Sandbox) -> Server {
    Server::builder()
        .secrets(&sandbox.path("secrets"), SECRETS)
        .start()
}

fn assert_401(r: &common::Response, word: &str, what: &str) {
    assert_eq!(r.status, 401, "{what}: {r}");
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="weblock", Basic realm="weblock""#),
        "{what}: {r}"
    );
    let v = r.json();
    assert_eq!(v["status"], word, "{what}: {v}");
    assert!(
        v["reason"].as_str().is_some_and(|s| !s.is_empty()),
        "{what}: {v}"
    );
}

#[test]
fn every_api_refuses_a_request_without_the_secret_or_with_a_wrong_one() {
    let sandbox = Sandbox::new("auth-401");
    let server = auth_server(&sandbox);
    for &(api, path, _, word) in APIS {
        let r = server.get(path);
        assert_401(&r, word, &format!("{api} without a secret"));
        let r = server.request(
            "GET",
            path,
            &[("Authorization", "Bearer s3cret-three")],
            b"",
        );
        assert_401(&r, word, &format!("{api} with a wrong Bearer secret"));
        let r = server.request("GET", path, &[("Authorization", BASIC_WRONG)], b"");
        assert_401(&r, word, &format!("{api} with a wrong Basic password"));
    }
    // A comment line is not a secret.
    let r = server.request(
        "GET",
        "/resources",
        &[("Authorization", "Bearer # the team's secrets")],
        b"",
    );
    assert_401(&r, "error", "a comment line as the secret");
}

#[test]
fn every_api_lets_in_a_bearer_or_basic_secret() {
    let sandbox = Sandbox::new("auth-ok");
    let server = auth_server(&sandbox);
    for &(api, path, status, _) in APIS {
        for auth in ["Bearer s3cret-one", "bearer s3cret-two", BASIC_GOOD] {
            let r = server.request("GET", path, &[("Authorization", auth)], b"");
            assert_eq!(r.status, status, "{api} with {auth:?}: {r}");
        }
    }
}

#[test]
fn administrative_requests_still_need_the_administrator() {
    let sandbox = Sandbox::new("auth-admin");
    let secrets = sandbox.path("secrets");
    std::fs::write(&secrets, SECRETS).unwrap();
    let admin = sandbox.path("admin");
    std::fs::write(&admin, "admin:adm1n\n").unwrap();
    let server = Server::builder()
        .args(&[
            "--auth-file",
            secrets.to_str().unwrap(),
            "--admin-credentials",
            admin.to_str().unwrap(),
        ])
        .start();
    // The access secret is not the administrator's password, for the listings too.
    for (method, target) in [("DELETE", "/resources/db"), ("GET", "/resources")] {
        let r = server.request(
            method,
            target,
            &[("Authorization", "Bearer s3cret-one")],
            b"",
        );
        assert_eq!(r.status, 401, "{method} {target}: {r}");
        assert_eq!(
            r.header("www-authenticate"),
            Some(r#"Basic realm="weblock admin""#),
            "{r}"
        );
    }
    // The administrator's credentials (`admin:adm1n`) let the request in, and are checked as before.
    let r = server.request(
        "DELETE",
        "/resources/db",
        &[("Authorization", "Basic YWRtaW46YWRtMW4=")],
        b"",
    );
    assert_eq!(r.status, 404, "no such resource, but let in: {r}");
}

#[test]
fn serve_refuses_an_auth_file_without_secrets() {
    let sandbox = Sandbox::new("auth-empty");
    let file = sandbox.path("empty");
    std::fs::write(&file, "# nothing yet\n\n").unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--auth-file"])
        .arg(&file);
    sandbox
        .run(cmd)
        .expect_error(2, &["--auth-file", "no secret"]);
}

fn cli(server: &Server, sandbox: &Sandbox) -> Command {
    let mut cmd = weblock_at(&server.url(""), &sandbox.user("alice"));
    cmd.env_remove("WEBLOCK_AUTH")
        .env_remove("WEBLOCK_AUTH_FILE");
    cmd
}

#[test]
fn the_cli_sends_the_secret_from_weblock_auth_or_weblock_auth_file() {
    let sandbox = Sandbox::new("auth-cli");
    let server = auth_server(&sandbox);

    let mut grab = cli(&server, &sandbox);
    grab.args(["grab", "db"]).env("WEBLOCK_AUTH", "s3cret-one");
    let token = sandbox.run(grab).expect_code(0).token();

    let file = sandbox.path("client-secret");
    std::fs::write(&file, "# mine\n\ns3cret-two\n").unwrap();
    let mut status = cli(&server, &sandbox);
    status
        .args(["--json", "status", "db"])
        .env("WEBLOCK_AUTH_FILE", &file);
    let out = sandbox.run(status);
    out.expect_ok();
    assert_eq!(out.json()["in_use"], true, "{out}");
    assert!(!out.stdout.contains("s3cret"), "{out}");

    let mut release = cli(&server, &sandbox);
    release
        .args(["release", "db", "--token", &token])
        .env("WEBLOCK_AUTH", "s3cret-one");
    sandbox.run(release).expect_ok();
}

#[test]
fn the_cli_without_the_secret_or_with_a_wrong_one_exits_6_saying_what_to_set() {
    let sandbox = Sandbox::new("auth-cli-no");
    let server = auth_server(&sandbox);

    let mut grab = cli(&server, &sandbox);
    grab.args(["grab", "db"]);
    let line = sandbox
        .run(grab)
        .expect_error(6, &["401", "refused access", "WEBLOCK_AUTH"]);
    assert!(!line.contains("s3cret"), "{line}");

    let mut status = cli(&server, &sandbox);
    status.args(["status", "db"]).env("WEBLOCK_AUTH", "guess");
    let line = sandbox
        .run(status)
        .expect_error(6, &["401", "refused access", "not one of the server's"]);
    assert!(
        !line.contains("guess"),
        "the secret is never printed: {line}"
    );
}

/// `weblock serve ARGS`: what it printed on stderr by the time its `listening on` line came.
fn serve_stderr(args: &[&str]) -> String {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weblock serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(10));
    // The warning is written before the address line, so it is all there now.
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("weblock serve printed no `listening on` line within 10 s");
    assert!(line.starts_with("listening on http://"), "{line:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

#[test]
fn serve_warns_when_it_listens_beyond_loopback_without_auth() {
    let stderr = serve_stderr(&["--listen", "0.0.0.0:0"]);
    assert!(
        stderr.contains("warning") && stderr.contains("--auth-file"),
        "{stderr:?}"
    );

    let stderr = serve_stderr(&["--listen", "127.0.0.1:0"]);
    assert!(!stderr.contains("warning"), "loopback: {stderr:?}");

    let sandbox = Sandbox::new("auth-warn");
    let file = sandbox.path("secrets");
    std::fs::write(&file, SECRETS).unwrap();
    let stderr = serve_stderr(&[
        "--listen",
        "0.0.0.0:0",
        "--auth-file",
        file.to_str().unwrap(),
    ]);
    assert!(!stderr.contains("warning"), "with --auth-file: {stderr:?}");
}

/// A client that waits for `100 Continue` before sending its body hears of a missing or wrong secret
/// at once, instead of being asked for the body first; with the right secret it is asked, and answered.
#[test]
fn a_refused_secret_is_said_before_the_body_is_asked_for() {
    let sandbox = Sandbox::new("auth-expect");
    let server = auth_server(&sandbox);
    let body = b"id=expecting&holder=patient";
    let len = body.len().to_string();
    for (secret, wanted) in [
        (None, 401),
        (Some("Bearer wrong"), 401),
        (Some("Bearer s3cret-one"), 100),
    ] {
        let mut headers = vec![
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", len.as_str()),
            ("Expect", "100-continue"),
        ];
        if let Some(secret) = secret {
            headers.push(("Authorization", secret));
        }
        let mut c = server.connect();
        c.send(&common::build_request(
            "POST", "/grab", "HTTP/1.1", &headers, b"",
        ));
        let first = c
            .try_read_any_response("POST")
            .unwrap_or_else(|e| panic!("{secret:?}: no answer to the head alone: {e}"));
        assert_eq!(first.status, wanted, "{secret:?}: {first}");
        if wanted == 401 {
            assert_401(&first, "fail", "a refused secret before the body");
            continue;
        }
        c.send(body);
        let r = c.read_response();
        assert_eq!(r.status, 200, "{r}");
        assert_eq!(r.json()["id"], "expecting", "{r}");
    }
}
