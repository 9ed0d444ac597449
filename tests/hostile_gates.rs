//! The gatekeeper API under hostile input: what one request may ask for costs the server time in
//! proportion to its size, never its square, so one client cannot hold a worker (and, a few at once,
//! every worker) for a minute.

use crate::common;

use std::time::{Duration, Instant};

use common::Server;

/// 100,000 gate names fit in a 1 MB body; checking them for repeats pair by pair cost a worker a
/// minute (a debug build) while every other client waited for a free worker.
#[test]
fn a_service_of_a_hundred_thousand_gates_is_created_in_linear_time() {
    let server = Server::builder().args(&["--log-format", "off"]).start();
    let names: Vec<String> = (0..100_000).map(|i| format!("\"g{i}\"")).collect();
    let body = format!("{{\"group\":\"g\",\"environments\":[{}]}}", names.join(","));
    let started = Instant::now();
    let created = server.request(
        "POST",
        "/api/services/big",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    let took = started.elapsed();
    assert_eq!(created.status, 200, "{created:?}");
    assert!(
        took < Duration::from_secs(15),
        "creating the service took {took:?}"
    );
    let repeated = server.request(
        "POST",
        "/api/services/twice",
        &[("Content-Type", "application/json")],
        br#"{"group": "g", "environments": ["a", "b", "a"]}"#,
    );
    assert_eq!(repeated.status, 400, "{repeated:?}");
}
