//! Several servers in `--server`/`WEBLOCK_URL` (comma-separated): the client uses the first that
//! answers and moves to the next on a connection error, staying there. The servers here are
//! independent in-memory servers, so these tests check that the client moves and ends clearly, not
//! that state is shared (that is the etcd store's business).

use crate::cli_helpers;
use crate::common;

use cli_helpers::*;
use common::Server;

#[test]
fn a_dead_first_server_is_skipped_and_the_token_is_remembered_for_the_list() {
    let live = Server::start();
    let sb = Sandbox::new("servers-dead-first");
    let alice = sb.user("alice");
    let servers = format!("http://127.0.0.1:{},{}", free_port(), live.url(""));

    let run = |args: &[&str]| {
        let mut cmd = weblock_at(&servers, &alice);
        cmd.args(args);
        sb.run(cmd)
    };
    let out = run(&["grab", "db", "--holder", "alice"]);
    out.expect_ok();
    out.token();
    let s = live.status("db");
    assert_eq!(s["holder"], "alice", "the live server holds it: {s}");

    let out = run(&["status", "db"]);
    out.expect_ok();
    assert!(out.stdout.starts_with("db: held by alice"), "{out}");

    // The token was remembered under the list, so a release through the same list finds it.
    run(&["release", "db"]).expect_ok();
    assert_eq!(live.status("db")["in_use"], false);
}

#[test]
fn a_waiting_wait_grab_moves_to_the_next_server_when_its_server_dies() {
    let first = Server::start();
    let second = Server::start();
    let sb = Sandbox::new("servers-failover");
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));

    let mut grab = weblock_at(&first.url(""), &alice);
    grab.args(["grab", "db", "--holder", "alice"]);
    sb.run(grab).expect_ok();

    let servers = format!("{},{}", first.url(""), second.url(""));
    let mut cmd = weblock_at(&servers, &bob);
    cmd.args([
        "wait-grab",
        "db",
        "--holder",
        "bob",
        "--",
        "sh",
        "-c",
        "echo \"ran with fence $WEBLOCK_FENCE\"",
    ]);
    let mut waiter = sb.spawn(cmd);
    first.wait_for_waiting("db", 1);
    assert_eq!(second.status("db")["in_use"], false);

    // The first server dies with bob parked on it: bob carries on with the second, where db is free.
    drop(first);
    let out = waiter.finish_within(FINISH);
    out.expect_ok();
    assert!(out.stdout.starts_with("ran with fence "), "{out}");
    assert_eq!(
        second.status("db")["in_use"],
        false,
        "released on the second server after the command"
    );
}
