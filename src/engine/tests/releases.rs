//! Releases: idempotent retries, withdrawal of a waiting token, refusals, forgetting empty resources.

use super::*;
use crate::engine::{REMEMBERED_RELEASES, Refusal};

#[test]
fn release_again_is_idempotent() {
    let mut engine = Engine::new();
    let grant = granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let first = run(&mut engine, 1, release("db", 1));
    assert_eq!(
        first.reply,
        Reply::Released {
            fence: grant.fence,
            again: false
        }
    );
    let retry = run(&mut engine, 2, release("db", 1));
    assert_eq!(
        retry.reply,
        Reply::Released {
            fence: grant.fence,
            again: true
        }
    );
    assert_eq!(
        run(&mut engine, 3, release("db", 2)).reply,
        Reply::Refused(Refusal::NotHeld),
        "only the token that released it hears `again`"
    );
}

#[test]
fn release_again_is_refused_after_someone_else_was_granted() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    run(&mut engine, 1, release("db", 1));
    run(&mut engine, 2, grab("db", 2, None, Wait::No));
    assert_eq!(
        run(&mut engine, 3, release("db", 1)).reply,
        Reply::Refused(Refusal::WrongToken)
    );
    run(&mut engine, 4, release("db", 2));
    assert_eq!(
        run(&mut engine, 5, release("db", 1)).reply,
        Reply::Refused(Refusal::NotHeld)
    );

    // Handed straight over to a waiter: the retry is told the truth at once.
    run(&mut engine, 6, grab("db", 3, None, Wait::No));
    run(&mut engine, 7, grab("db", 4, None, Wait::Forever));
    assert!(matches!(
        run(&mut engine, 8, release("db", 3)).reply,
        Reply::Released { again: false, .. }
    ));
    assert_eq!(
        run(&mut engine, 9, release("db", 3)).reply,
        Reply::Refused(Refusal::WrongToken)
    );
}

#[test]
fn release_of_a_waiting_token_withdraws_it() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Until(500))));
    let (c, _) = queued(&run(&mut engine, 2, grab("db", 3, None, Wait::Forever)));
    let outcome = run(&mut engine, 3, release("db", 2));
    assert_eq!(outcome.reply, Reply::Withdrawn { request: b });
    assert!(outcome.events.is_empty());
    assert_eq!(ended(&engine, b), Some((End::Abandoned, 3)));
    assert_eq!(engine.next_deadline(), None);
    let waiting = engine.lock("db").map(|l| l.waiting).unwrap_or_default();
    assert_eq!(waiting.iter().map(|w| w.request).collect::<Vec<_>>(), [c]);
    assert_eq!(
        run(&mut engine, 4, release("db", 2)).reply,
        Reply::Refused(Refusal::WrongToken)
    );
}

#[test]
fn release_by_a_stranger_is_refused() {
    let mut engine = Engine::new();
    assert_eq!(
        run(&mut engine, 0, release("nothing", 1)).reply,
        Reply::Refused(Refusal::NotHeld)
    );
    run(&mut engine, 1, grab("db", 1, None, Wait::No));
    assert_eq!(
        run(&mut engine, 2, release("db", 2)).reply,
        Reply::Refused(Refusal::WrongToken)
    );
    assert_eq!(
        engine
            .lock("db")
            .and_then(|l| l.holder().cloned())
            .map(|h| h.fence),
        Some(1)
    );
}

#[test]
fn an_empty_resource_is_removed() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Forever)));
    assert_eq!(engine.resource_count(), 1);
    run(&mut engine, 2, cancel(b));
    run(&mut engine, 3, release("db", 1));
    assert_eq!(engine.resource_count(), 0);
    assert_eq!(engine.request_count(), 0);
    assert!(engine.lock("db").is_none());
    assert!(engine.locks().is_empty());
}

#[test]
fn remembered_releases_are_bounded_oldest_first() {
    let mut engine = Engine::new();
    let total = REMEMBERED_RELEASES + 1;
    for i in 0..total {
        let name = format!("r{i}");
        run_unchecked(&mut engine, i as u64, grab(&name, 1, None, Wait::No));
        run_unchecked(&mut engine, i as u64, release(&name, 1));
    }
    engine.check_invariants();
    assert_eq!(engine.remembered_releases(), REMEMBERED_RELEASES);
    assert_eq!(engine.resource_count(), 0);
    let now = total as u64;
    assert_eq!(
        run(&mut engine, now, release("r0", 1)).reply,
        Reply::Refused(Refusal::NotHeld)
    );
    assert!(matches!(
        run(&mut engine, now, release("r1", 1)).reply,
        Reply::Released { again: true, .. }
    ));
    let last = format!("r{}", total - 1);
    assert!(matches!(
        run(&mut engine, now, release(&last, 1)).reply,
        Reply::Released { again: true, .. }
    ));

    // Granting a resource again forgets its release, which frees a place.
    run(&mut engine, now, grab("r1", 2, None, Wait::No));
    assert_eq!(engine.remembered_releases(), REMEMBERED_RELEASES - 1);
}

/// `apply` without the full invariant check, for loops where checking each step would be quadratic.
fn run_unchecked(engine: &mut Engine, now: Millis, op: Op) -> Outcome {
    engine.apply(Command { now, op })
}
