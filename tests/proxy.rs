//! Behind a proxy: `serve --public-url` is the base of every absolute URL the server writes (HAL's
//! `Location`, request-queue URLs, gatekeeper ticket links), and `--trusted-proxy CIDR` makes
//! `X-Forwarded-Proto`/`X-Forwarded-Host` count, from peers in those ranges only.

use crate::cli_helpers;
use crate::common;

use std::process::Command;

use cli_helpers::{BIN, Sandbox};
use common::{Response, Server};
use serde_json::{Value, json};

const FORWARDED: &[(&str, &str)] = &[
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "locks.example.org"),
];

fn send(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> Response {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    server.request(method, path, &h, body.as_bytes())
}

/// Every absolute URL the server wrote for one of each kind of request, answers' headers and bodies.
fn urls_written(server: &Server, headers: &[(&str, &str)]) -> Vec<String> {
    let mut urls = Vec::new();
    let r = send(
        server,
        "POST",
        "/locks/res1",
        headers,
        json!({"title": "t"}),
    );
    assert_eq!(r.status, 201, "{r}");
    urls.push(r.header("location").unwrap_or_default().to_string());

    let r = send(
        server,
        "POST",
        "/v1/locks/q1/requests",
        headers,
        json!({"timeout": 60}),
    );
    assert_eq!(r.status, 201, "{r}");
    urls.push(r.header("location").unwrap_or_default().to_string());
    urls.push(r.json()["url"].as_str().unwrap_or_default().to_string());
    let listed = send(server, "GET", "/v1/locks", headers, Value::Null).json();
    let resource = send(server, "GET", "/v1/locks/q1/", headers, Value::Null).json();
    for v in [&listed["locks"], &resource["requests"], &resource["owners"]] {
        for url in v.as_array().into_iter().flatten() {
            urls.push(url.as_str().unwrap_or_default().to_string());
        }
    }
    urls.push(resource["owner"].as_str().unwrap_or_default().to_string());

    let r = send(
        server,
        "POST",
        "/api/services/shop",
        headers,
        json!({"group": "g", "environments": ["live"]}),
    );
    assert_eq!(r.status, 200, "{r}");
    let r = send(
        server,
        "PUT",
        "/api/services",
        headers,
        json!({"services": {"shop": ["live"]}}),
    );
    assert_eq!(r.status, 200, "{r}");
    urls.push(
        r.json()["ticket"]["link"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    );
    // The gate's queue, alone and in its service: a link per ticket.
    let gate = send(
        server,
        "GET",
        "/api/services/shop/live",
        headers,
        Value::Null,
    )
    .json();
    let service = send(server, "GET", "/api/services/shop", headers, Value::Null).json();
    let queues = [
        gate["queue"].clone(),
        service
            .pointer("/environments/live/queue")
            .cloned()
            .unwrap_or_default(),
    ];
    for queue in queues {
        let links: Vec<String> = queue
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t["link"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(links.len(), 1, "{gate} / {service}");
        urls.extend(links);
    }
    urls
}

fn assert_all_start_with(urls: &[String], base: &str) {
    assert!(urls.len() >= 8, "{urls:?}");
    for url in urls {
        assert!(
            url.starts_with(&format!("{base}/")),
            "{url:?} should start with {base}/ (all: {urls:?})"
        );
    }
}

#[test]
fn the_public_url_is_in_every_url_written() {
    let server = Server::builder()
        .args(&[
            "--public-url",
            "https://locks.example.org:8443/",
            "--trusted-proxy",
            "127.0.0.1/32",
        ])
        .start();
    // Even a trusted proxy's forwarded headers do not override it.
    let urls = urls_written(&server, FORWARDED);
    assert_all_start_with(&urls, "https://locks.example.org:8443");
}

#[test]
fn forwarded_headers_count_from_a_trusted_proxy() {
    let server = Server::builder()
        .args(&[
            "--trusted-proxy",
            "10.0.0.0/8",
            "--trusted-proxy",
            "127.0.0.1/32",
        ])
        .start();
    assert_all_start_with(
        &urls_written(&server, FORWARDED),
        "https://locks.example.org",
    );
    // Without them, the Host the client used, as before.
    let plain = Server::builder()
        .args(&["--trusted-proxy", "127.0.0.1/32"])
        .start();
    assert_all_start_with(&urls_written(&plain, &[]), "http://weblock.test");
}

#[test]
fn forwarded_headers_are_ignored_from_anyone_else() {
    for args in [
        &[][..],
        &[
            "--trusted-proxy",
            "10.0.0.0/8",
            "--trusted-proxy",
            "::1/128",
        ][..],
    ] {
        let server = Server::builder().args(args).start();
        assert_all_start_with(&urls_written(&server, FORWARDED), "http://weblock.test");
    }
}

#[test]
fn a_public_url_with_a_path_or_a_bad_range_stops_the_server() {
    let sandbox = Sandbox::new("proxy-bad-options");
    for (args, words) in [
        (
            &["--public-url", "https://locks.example.org/base"][..],
            &["--public-url", "path"][..],
        ),
        (
            &["--public-url", "locks.example.org"][..],
            &["--public-url", "http"][..],
        ),
        (
            &["--public-url", "https://h?x=1"][..],
            &["--public-url", "query"][..],
        ),
        (
            &["--trusted-proxy", "10.0.0.1/8"][..],
            &["--trusted-proxy", "prefix"][..],
        ),
        (
            &["--trusted-proxy", "10.0.0.0/33"][..],
            &["--trusted-proxy", "33"][..],
        ),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
        let out = sandbox.run(cmd);
        out.expect_code(2);
        let text = out.stderr.clone();
        for w in words {
            assert!(text.contains(w), "{args:?}: {w:?} not in {text}");
        }
    }
}
