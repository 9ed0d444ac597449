//! The poller's contract, on whichever backend this OS has: one-shot arming, hang-ups reported even
//! with unread bytes, and a hang-up-only interest that unread bytes do not wake.
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use super::{Interest, Poller, Ready};

/// Long enough for loopback to deliver; the waits end as soon as the event comes.
const SOON: Duration = Duration::from_secs(2);
/// For "nothing happens": a short look.
const BRIEFLY: Duration = Duration::from_millis(50);

/// One wait for one ready connection.
fn one(poller: &Poller, timeout: Duration) -> Option<Ready> {
    let mut ready = Vec::new();
    poller.wait(timeout, &mut ready, 1);
    ready.first().copied()
}

fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let client = TcpStream::connect(listener.local_addr().expect("an address")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    server.set_nonblocking(true).expect("non-blocking");
    (client, server)
}

#[test]
fn a_read_interest_fires_once_per_arming() {
    let poller = Poller::new(true).expect("a poller");
    let (mut client, server) = pair();
    poller.add(&server, 7, Interest::Read).expect("added");
    assert!(one(&poller, BRIEFLY).is_none(), "nothing sent yet");
    client.write_all(b"GET").expect("sent");
    let ready = one(&poller, SOON).expect("readable");
    assert_eq!(ready.key, 7);
    assert!(!ready.hung_up);
    // One-shot: disarmed until re-armed, however much more arrives.
    client.write_all(b" /").expect("sent");
    assert!(one(&poller, BRIEFLY).is_none(), "disarmed after its event");
    poller.rearm(&server, 7, Interest::Read).expect("re-armed");
    assert_eq!(one(&poller, SOON).map(|r| r.key), Some(7));
    poller.remove(&server);
}

#[test]
fn a_hang_up_is_reported_even_with_unread_bytes() {
    let poller = Poller::new(true).expect("a poller");
    let (mut client, server) = pair();
    client.write_all(b"bytes, then gone").expect("sent");
    drop(client);
    poller.add(&server, 3, Interest::Read).expect("added");
    let ready = one(&poller, SOON).expect("an event");
    assert!(
        ready.hung_up,
        "the end of the stream is said with the bytes"
    );
}

#[test]
fn a_hang_up_interest_ignores_unread_bytes_and_wakes_at_the_end() {
    let poller = Poller::new(true).expect("a poller");
    let (mut client, server) = pair();
    client.write_all(b"sent after the request").expect("sent");
    poller.add(&server, 5, Interest::HangUp).expect("added");
    assert!(
        one(&poller, BRIEFLY).is_none(),
        "unread bytes do not wake it"
    );
    drop(client);
    let ready = one(&poller, SOON).expect("the hang-up");
    assert_eq!(ready.key, 5);
    assert!(ready.hung_up);
}

#[test]
fn a_write_interest_fires_when_there_is_room_and_replaces_the_read_interest() {
    let poller = Poller::new(true).expect("a poller");
    let (mut client, server) = pair();
    poller.add(&server, 9, Interest::Read).expect("added");
    poller.rearm(&server, 9, Interest::Write).expect("re-armed");
    let ready = one(&poller, SOON).expect("writable");
    assert_eq!(ready.key, 9);
    // The read interest went with the re-arming: bytes arriving now wake nobody.
    client.write_all(b"more").expect("sent");
    assert!(
        one(&poller, BRIEFLY).is_none(),
        "armed for one thing at a time"
    );
}

#[test]
fn one_wait_hands_over_several_ready_connections_each_once() {
    let poller = Poller::new(true).expect("a poller");
    let (mut a_client, a) = pair();
    let (mut b_client, b) = pair();
    poller.add(&a, 1, Interest::Read).expect("added");
    poller.add(&b, 2, Interest::Read).expect("added");
    a_client.write_all(b"a").expect("sent");
    b_client.write_all(b"b").expect("sent");
    // Loopback delivers both before long; wait until one wait sees both (or fail at the deadline).
    let mut keys = Vec::new();
    let deadline = std::time::Instant::now() + SOON;
    while keys.len() < 2 && std::time::Instant::now() < deadline {
        let mut ready = Vec::new();
        poller.wait(BRIEFLY, &mut ready, 8);
        keys.extend(ready.iter().map(|r| r.key));
    }
    keys.sort_unstable();
    assert_eq!(keys, vec![1, 2], "each ready connection once");
    let mut ready = Vec::new();
    poller.wait(BRIEFLY, &mut ready, 8);
    assert!(ready.is_empty(), "both disarmed after their events");
}

#[test]
fn a_persistent_poller_reports_unread_bytes_again_without_a_rearm() {
    let poller = Poller::new(false).expect("a poller");
    let (mut client, mut server) = pair();
    poller.add(&server, 4, Interest::Read).expect("added");
    assert!(one(&poller, BRIEFLY).is_none(), "nothing sent yet");
    client.write_all(b"GET").expect("sent");
    assert_eq!(one(&poller, SOON).map(|r| r.key), Some(4));
    // Level-triggered: still readable, still reported, with no re-arm in between.
    assert_eq!(one(&poller, SOON).map(|r| r.key), Some(4));
    let mut buf = [0u8; 16];
    assert_eq!(std::io::Read::read(&mut server, &mut buf).expect("read"), 3);
    assert!(one(&poller, BRIEFLY).is_none(), "nothing left to read");
    poller
        .rearm(&server, 4, Interest::HangUp)
        .expect("re-armed");
    client.write_all(b" /").expect("sent");
    assert!(
        one(&poller, BRIEFLY).is_none(),
        "bytes do not wake a hang-up interest"
    );
    drop(client);
    let ready = one(&poller, SOON).expect("the hang-up");
    assert!(ready.hung_up);
}
