//! Black-box tests of `--slots` and `--shared` on the `weblock` client: ten workers on a semaphore of
//! three, each logging its critical section; `grab --shared` beside another reader; a refusal of
//! another number of slots (exit 1, one line); bad values (exit 2).

use crate::cli_helpers;
use crate::common;

use std::time::Duration;

use cli_helpers::*;
use common::Server;

/// `weblock ARGS...` as the user `user`, run to its end.
fn run(sb: &Sandbox, server: &Server, user: &str, args: &[&str]) -> Outcome {
    let mut cmd = weblock_at(&server.url(""), &sb.user(user));
    cmd.args(args);
    sb.run(cmd)
}

#[test]
fn ten_cli_workers_on_three_slots_never_exceed_three_and_all_finish() {
    const WORKERS: usize = 10;
    const ROUNDS: usize = 2;
    const SLOTS: usize = 3;
    let server = Server::start();
    let sb = Sandbox::new("slots");

    // Inside, a section waits (a bounded poll, 10 s at most) until SLOTS sections have been entered
    // in all: so the first three prove that three hold at once, and the rest pass straight through.
    let section = format!(
        "echo \"enter $WEBLOCK_FENCE\" >> \"$LOG\"; n=0; \
         while [ $(grep -c enter \"$LOG\") -lt {SLOTS} ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n+1)); done; \
         echo \"leave $WEBLOCK_FENCE\" >> \"$LOG\""
    );
    let wait_grab = format!("pool --slots {SLOTS} --timeout 60s");
    let (text, events) = run_workers(
        &sb,
        &server.url(""),
        (WORKERS, ROUNDS),
        &wait_grab,
        &section,
        Duration::from_secs(60),
    );
    let (mut inside, mut most) = (Vec::new(), 0);
    for (entered, fence) in events {
        if entered {
            assert!(
                !inside.contains(&fence),
                "fence {fence} entered twice:\n{text}"
            );
            inside.push(fence);
        } else {
            let at = inside.iter().position(|&f| f == fence);
            let at = at.unwrap_or_else(|| panic!("fence {fence} left, never entered:\n{text}"));
            inside.remove(at);
        }
        assert!(
            inside.len() <= SLOTS,
            "{} inside at once:\n{text}",
            inside.len()
        );
        most = most.max(inside.len());
    }
    assert_eq!(most, SLOTS, "three held at once:\n{text}");
    let s = server.status("pool");
    assert_eq!(s["in_use"], false, "all released: {s}");
}

#[test]
fn shared_grabs_coexist_and_another_number_of_slots_is_refused() {
    let server = Server::start();
    let sb = Sandbox::new("shared");
    let a = run(
        &sb,
        &server,
        "a",
        &["grab", "db", "--shared", "--holder", "a"],
    );
    a.expect_ok();
    run(
        &sb,
        &server,
        "b",
        &["grab", "db", "--shared", "--holder", "b"],
    )
    .expect_ok();
    let s = server.status("db");
    assert_eq!(
        (s["mode"].as_str(), s["holders"].as_array().map(Vec::len)),
        (Some("shared"), Some(2))
    );

    // A writer that will not wait: no, held by the readers.
    let w = run(&sb, &server, "w", &["grab", "db"]);
    w.expect_error(1, &["db", "held by a and 1 more"]);
    // Another number of slots: no, and the line says the number in force.
    let n = run(
        &sb,
        &server,
        "n",
        &["wait-grab", "db", "--slots", "2", "--timeout", "5s"],
    );
    n.expect_error(1, &["no slots set", "asked for 2"]);

    for bad in ["0", "10001", "x"] {
        let out = run(&sb, &server, "n", &["grab", "db", "--slots", bad]);
        assert_eq!(out.code(), 2, "--slots {bad}: {out}");
    }
    run(&sb, &server, "a", &["release", "db"]).expect_ok();
    run(&sb, &server, "b", &["release", "db"]).expect_ok();
    assert_eq!(server.status("db")["in_use"], false);
}
