//! Administrators: a cancel by an administrator, `DeleteResource` and `DeleteAll`.

use super::*;
use crate::engine::{Event, Refusal};

fn deleted(request: RequestId, resource: &str) -> Event {
    Event::Deleted {
        request,
        resource: resource.into(),
    }
}

fn freed(request: RequestId, resource: &str) -> Event {
    Event::Freed {
        request,
        resource: resource.into(),
    }
}

#[test]
fn an_admin_cancel_of_a_waiter_deletes_it() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Until(100))));
    let outcome = run(&mut engine, 5, admin_cancel(b));
    assert_eq!(
        outcome,
        Outcome {
            reply: Reply::Cancelled,
            events: vec![deleted(b, "db")]
        }
    );
    assert_eq!(ended(&engine, b), Some((End::Deleted, 5)));
    assert_eq!(engine.next_deadline(), None);
    assert_eq!(
        run(&mut engine, 6, admin_cancel(b)).reply,
        Reply::Refused(Refusal::UnknownRequest),
        "an ended request cannot be cancelled again"
    );
}

#[test]
fn an_admin_cancel_of_the_holder_deletes_it_and_grants_the_next() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, Some(100), Wait::No)));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Forever)));
    let outcome = run(&mut engine, 7, admin_cancel(a.request));
    assert_eq!(outcome.reply, Reply::Cancelled);
    match outcome.events.as_slice() {
        [first, Event::Granted(grant)] => {
            assert_eq!(*first, deleted(a.request, "db"));
            assert_eq!((grant.request, grant.since), (b, 7));
            assert!(grant.fence > a.fence);
        }
        other => panic!("expected Deleted then Granted, got {other:?}"),
    }
    assert_eq!(ended(&engine, a.request), Some((End::Deleted, 7)));
    assert_eq!(
        run(&mut engine, 8, release("db", 1)).reply,
        Reply::Refused(Refusal::WrongToken),
        "a deleted holder's retry is not told released"
    );
}

#[test]
fn an_admin_cancel_of_a_watcher_tells_it() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let w = watching(&run(&mut engine, 1, watch("db", Wait::Forever)));
    let outcome = run(&mut engine, 2, admin_cancel(w));
    assert_eq!(outcome.events, [deleted(w, "db")]);
    assert!(engine.request(w).is_none(), "a watcher leaves no history");
}

#[test]
fn delete_resource_ends_waiters_then_the_holder_and_frees_the_watchers() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, Some(100), Wait::No)));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Until(50))));
    let w = watching(&run(&mut engine, 2, watch("db", Wait::Until(80))));
    let (c, _) = queued(&run(
        &mut engine,
        3,
        poll("db", 3, None, Wait::Forever, Some(10)),
    ));
    let other = granted(&run(&mut engine, 4, grab("other", 4, None, Wait::No)));

    let outcome = run(&mut engine, 10, delete("db"));
    assert_eq!(
        outcome,
        Outcome {
            reply: Reply::Deleted { count: 3 },
            events: vec![
                deleted(b, "db"),
                deleted(c, "db"),
                deleted(a.request, "db"),
                freed(w, "db"),
            ]
        }
    );
    for request in [a.request, b, c] {
        assert_eq!(ended(&engine, request), Some((End::Deleted, 10)));
    }
    assert!(engine.lock("db").is_none(), "free, and forgotten");
    assert_eq!(engine.next_deadline(), None, "nothing of db is due");
    assert!(
        engine.lock("other").is_some(),
        "other resources are untouched"
    );

    // Fences go on increasing for later grants, of this resource and others.
    let next = granted(&run(&mut engine, 11, grab("db", 5, None, Wait::No)));
    assert!(next.fence > other.fence && other.fence > a.fence);
    assert_eq!(
        run(&mut engine, 12, release("db", 1)).reply,
        Reply::Refused(Refusal::WrongToken)
    );
}

#[test]
fn delete_resource_of_an_unknown_resource_is_refused() {
    let mut engine = Engine::new();
    let refused = Reply::Refused(Refusal::NotHeld);
    assert_eq!(run(&mut engine, 0, delete("db")).reply, refused);
    run(&mut engine, 1, grab("db", 1, None, Wait::No));
    run(&mut engine, 2, release("db", 1));
    let outcome = run(&mut engine, 3, delete("db"));
    assert_eq!((outcome.reply, outcome.events), (refused, vec![]));
    assert_eq!(
        run(&mut engine, 4, release("db", 1)).reply,
        Reply::Released {
            fence: 1,
            again: true
        },
        "a refused delete forgets nothing"
    );
}

#[test]
fn delete_all_deletes_every_resource_in_name_order() {
    let mut engine = Engine::new();
    assert_eq!(
        run(&mut engine, 0, Op::DeleteAll).reply,
        Reply::Deleted { count: 0 }
    );
    let z = granted(&run(&mut engine, 1, grab("zz", 1, None, Wait::No)));
    let a = granted(&run(&mut engine, 2, grab("aa", 2, None, Wait::No)));
    let (b, _) = queued(&run(&mut engine, 3, grab("aa", 3, None, Wait::Forever)));
    let w = watching(&run(&mut engine, 4, watch("zz", Wait::Forever)));
    let outcome = run(&mut engine, 9, Op::DeleteAll);
    assert_eq!(
        outcome,
        Outcome {
            reply: Reply::Deleted { count: 3 },
            events: vec![
                deleted(b, "aa"),
                deleted(a.request, "aa"),
                deleted(z.request, "zz"),
                freed(w, "zz"),
            ]
        }
    );
    assert_eq!((engine.resource_count(), engine.request_count()), (0, 0));
    for request in [a.request, b, z.request] {
        assert_eq!(ended(&engine, request), Some((End::Deleted, 9)));
    }
    assert_eq!(
        engine.known_resources(),
        ["aa", "zz"],
        "readable for a while"
    );
    let next = granted(&run(&mut engine, 10, grab("aa", 4, None, Wait::No)));
    assert_eq!(next.fence, 3);
}
