//! Fences: one engine-wide counter, strictly increasing, never repeated; idempotent grabs.

use super::*;
use crate::engine::Event;

/// Every fence handed out by a command, in order: in its reply (a new grant) and in its events.
fn new_fences(outcome: &Outcome) -> Vec<u64> {
    let mut fences = Vec::new();
    for event in &outcome.events {
        if let Event::Granted(grant) = event {
            fences.push(grant.fence);
        }
    }
    if let Reply::Granted {
        grant,
        again: false,
    } = &outcome.reply
    {
        fences.push(grant.fence);
    }
    fences
}

#[test]
fn fences_strictly_increase_and_never_repeat() {
    let mut engine = Engine::new();
    let script = [
        grab("a", 1, None, Wait::No),
        grab("b", 2, Some(50), Wait::No),
        grab("a", 3, None, Wait::Forever),
        grab("a", 1, None, Wait::No), // a retry: no new fence
        release("a", 1),              // hands over to 3
        grab("b", 4, None, Wait::Forever),
        Op::Tick, // at 100: b's lease expired, hands over to 4
        release("a", 3),
        grab("a", 5, None, Wait::No),
    ];
    let mut fences = Vec::new();
    for (i, op) in script.into_iter().enumerate() {
        fences.extend(new_fences(&run(&mut engine, i as u64 * 20, op)));
    }
    assert_eq!(fences, [1, 2, 3, 4, 5]);
}

#[test]
fn fences_keep_growing_after_a_resource_is_forgotten() {
    let mut engine = Engine::new();
    let first = granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    run(&mut engine, 1, release("db", 1));
    assert_eq!(
        engine.resource_count(),
        0,
        "nobody holds or waits: forgotten"
    );
    let second = granted(&run(&mut engine, 2, grab("db", 1, None, Wait::No)));
    assert!(
        second.fence > first.fence,
        "{} then {}",
        first.fence,
        second.fence
    );
    assert!(second.request > first.request);
}

#[test]
fn idempotent_grab_returns_the_same_grant() {
    let mut engine = Engine::new();
    let first = granted(&run(&mut engine, 0, grab("db", 1, Some(100), Wait::No)));
    let retry = run(&mut engine, 10, grab("db", 1, Some(999), Wait::Forever));
    assert_eq!(
        retry.reply,
        Reply::Granted {
            grant: first.clone(),
            again: true
        }
    );
    assert_eq!(
        engine.next_deadline(),
        Some(100),
        "a retry does not renew the lease"
    );
    let other = granted(&run(&mut engine, 20, grab("other", 2, None, Wait::No)));
    assert_eq!(other.fence, first.fence + 1, "the retry consumed no fence");
}
