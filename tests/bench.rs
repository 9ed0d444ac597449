//! `weblock bench --server URL` against a server of the test's own: its uncontended run drives many
//! connections from one thread (`bench/pairs.rs`), counts the pairs the server answered, and gives
//! back every lock it took, the deadline's last pairs too.

use crate::cli_helpers::{Sandbox, weblock_at};
use crate::common::Server;

#[test]
fn the_uncontended_run_counts_pairs_and_leaves_no_lock_held() {
    let server = Server::start();
    let sb = Sandbox::new("bench");
    let mut cmd = weblock_at(&server.url(""), &sb.user("state"));
    cmd.args([
        "bench",
        "--server",
        &server.url(""),
        "--clients",
        "1,5",
        "--duration",
        "300ms",
        "--waiters",
        "0",
        "--parked",
        "0",
        "--no-durable",
        "--json",
    ]);
    let out = sb.run(cmd);
    out.expect_code(0);
    let report = out.json();
    let runs = report["uncontended"].as_array().expect("uncontended runs");
    assert_eq!(runs.len(), 2, "{report}");
    for (run, clients) in runs.iter().zip([1, 5]) {
        assert_eq!(run["clients"], clients, "{report}");
        let pairs = run["pairs_per_sec"].as_f64().expect("a rate");
        assert!(pairs > 0.0, "no pair was counted: {report}");
    }
    let status = server.get("/status").json();
    assert_eq!(
        status["locks"],
        serde_json::json!([]),
        "a lock was left held: {status}"
    );
}
