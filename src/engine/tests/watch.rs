//! Watchers: waiting until a resource is free, without taking it.

use super::*;
use crate::engine::{Event, Refusal, RequestState};

fn freed(request: RequestId, resource: &str) -> Event {
    Event::Freed {
        request,
        resource: resource.into(),
    }
}

fn watchers(engine: &Engine, name: &str) -> Option<usize> {
    engine.lock(name).map(|l| l.watchers)
}

#[test]
fn a_free_resource_is_free_at_once_and_nothing_is_remembered() {
    let mut engine = Engine::new();
    for wait in [Wait::No, Wait::Until(50), Wait::Forever] {
        let outcome = run(&mut engine, 10, watch("db", wait));
        assert_eq!(
            outcome,
            Outcome {
                reply: Reply::Free,
                events: vec![]
            }
        );
    }
    assert_eq!((engine.resource_count(), engine.request_count()), (0, 0));
    assert_eq!(engine.next_deadline(), None);
    // No request id was spent: the next grant gets the first.
    let grant = granted(&run(&mut engine, 11, grab("db", 1, None, Wait::No)));
    assert_eq!(grant.request, RequestId(1));
}

#[test]
fn a_watcher_is_freed_when_the_holder_releases_and_nobody_waits() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let w = watching(&run(&mut engine, 1, watch("db", Wait::Forever)));
    assert_eq!(w, RequestId(2), "watchers take ids from the same counter");
    let lock = engine.lock("db").expect("held");
    assert_eq!((lock.watchers, lock.waiting.len()), (1, 0));
    match engine.request(w).map(|v| (v.resource, v.created, v.state)) {
        Some((name, 1, RequestState::Watching { deadline: None })) => assert_eq!(name, "db"),
        other => panic!("expected a watcher, got {other:?}"),
    }
    assert_eq!(engine.request_count(), 2);

    let outcome = run(&mut engine, 5, release("db", 1));
    assert_eq!(
        outcome.reply,
        Reply::Released {
            fence: a.fence,
            again: false
        }
    );
    assert_eq!(outcome.events, [freed(w, "db")]);
    assert_eq!((engine.resource_count(), engine.request_count()), (0, 0));
    assert!(engine.request(w).is_none());
    assert_eq!(
        run(&mut engine, 6, release("db", 1)).reply,
        Reply::Released {
            fence: a.fence,
            again: true
        },
        "the release is remembered as before"
    );
}

#[test]
fn with_waiters_watchers_are_freed_only_after_the_last_one_releases() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let w1 = watching(&run(&mut engine, 1, watch("db", Wait::Forever)));
    let (b, _) = queued(&run(&mut engine, 2, grab("db", 2, None, Wait::Forever)));
    let w2 = watching(&run(&mut engine, 3, watch("db", Wait::Until(1_000))));

    let handover = run(&mut engine, 10, release("db", 1));
    match handover.events.as_slice() {
        [Event::Granted(grant)] => assert_eq!(grant.request, b),
        other => panic!("expected only a hand-over, got {other:?}"),
    }
    assert_eq!(watchers(&engine, "db"), Some(2));
    assert_eq!(
        engine.next_deadline(),
        Some(1_000),
        "w2's deadline survives the hand-over"
    );

    let outcome = run(&mut engine, 20, release("db", 2));
    assert_eq!(
        outcome.events,
        [freed(w1, "db"), freed(w2, "db")],
        "in request id order"
    );
    assert_eq!(engine.next_deadline(), None);
    assert_eq!(engine.request_count(), 0);
}

#[test]
fn watchers_are_freed_after_an_expiry_or_a_cancel_and_after_waiters_timed_out() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, Some(100), Wait::No)));
    let (b, _) = queued(&run(&mut engine, 1, grab("db", 2, None, Wait::Until(100))));
    let w = watching(&run(&mut engine, 2, watch("db", Wait::Forever)));
    let outcome = run(&mut engine, 100, Op::Tick);
    assert_eq!(
        outcome.events,
        [
            Event::Expired {
                request: a.request,
                resource: "db".into(),
                fence: a.fence
            },
            Event::TimedOut {
                request: b,
                resource: "db".into()
            },
            freed(w, "db"),
        ]
    );

    let c = granted(&run(&mut engine, 200, grab("logs", 3, None, Wait::No)));
    let w = watching(&run(&mut engine, 201, watch("logs", Wait::Forever)));
    let outcome = run(&mut engine, 202, cancel(c.request));
    assert_eq!(outcome.reply, Reply::Cancelled);
    assert_eq!(
        outcome.events,
        [
            Event::Released {
                request: c.request,
                resource: "logs".into(),
                fence: c.fence
            },
            freed(w, "logs"),
        ]
    );
    assert_eq!(engine.resource_count(), 0);
}

#[test]
fn a_watcher_times_out_at_its_deadline_and_a_busy_resource_is_busy_to_one_that_will_not_wait() {
    let mut engine = Engine::new();
    run(&mut engine, 0, grab("db", 1, None, Wait::No));
    let expected = engine.lock("db").expect("held");
    for wait in [Wait::No, Wait::Until(0)] {
        assert_eq!(
            run(&mut engine, 10, watch("db", wait)).reply,
            Reply::Busy(expected.clone())
        );
    }
    let w = watching(&run(&mut engine, 10, watch("db", Wait::Until(100))));
    assert_eq!(engine.next_deadline(), Some(100));
    assert!(run(&mut engine, 99, Op::Tick).events.is_empty());
    let outcome = run(&mut engine, 100, Op::Tick);
    assert_eq!(
        outcome.events,
        [Event::TimedOut {
            request: w,
            resource: "db".into()
        }]
    );
    assert_eq!(watchers(&engine, "db"), Some(0));
    assert!(engine.request(w).is_none());
    assert!(run(&mut engine, 101, release("db", 1)).events.is_empty());
}

#[test]
fn cancel_of_a_watcher_removes_only_it() {
    let mut engine = Engine::new();
    let a = granted(&run(&mut engine, 0, grab("db", 1, None, Wait::No)));
    let w = watching(&run(&mut engine, 1, watch("db", Wait::Until(500))));
    let outcome = run(&mut engine, 2, cancel(w));
    assert_eq!(
        outcome,
        Outcome {
            reply: Reply::Cancelled,
            events: vec![]
        }
    );
    assert_eq!(
        run(&mut engine, 3, cancel(w)).reply,
        Reply::Refused(Refusal::UnknownRequest)
    );
    let lock = engine.lock("db").expect("still held");
    assert_eq!(
        (lock.watchers, lock.holder().cloned().map(|h| h.request)),
        (0, Some(a.request))
    );
    assert_eq!(engine.next_deadline(), None);
    assert!(run(&mut engine, 4, release("db", 1)).events.is_empty());
}

/// Grants as their holders see them, without request ids (watchers take ids from the same counter).
fn grants(outcomes: &[Outcome]) -> Vec<(String, uuid::Uuid, u64, Millis)> {
    let mut all = Vec::new();
    for outcome in outcomes {
        if let Reply::Granted { grant, .. } = &outcome.reply {
            all.push(grant.clone());
        }
        for event in &outcome.events {
            if let Event::Granted(grant) = event {
                all.push(grant.clone());
            }
        }
    }
    all.into_iter()
        .map(|g| (g.resource, g.token, g.fence, g.since))
        .collect()
}

#[test]
fn watchers_change_no_fence_no_grant_and_no_position() {
    let with = [
        (0, grab("db", 1, Some(100), Wait::No)),
        (1, watch("db", Wait::Forever)),
        (2, grab("db", 2, None, Wait::Forever)),
        (3, watch("db", Wait::Until(150))),
        (4, grab("db", 3, None, Wait::Forever)),
        (5, watch("db", Wait::Until(40))),
        (50, release("db", 1)),
        (60, watch("db", Wait::Forever)),
        (150, Op::Tick),
        (160, release("db", 2)),
        (170, release("db", 3)),
        (180, grab("db", 4, None, Wait::No)),
    ];
    let without = with.clone().map(|(now, op)| match op {
        Op::Watch { .. } => (now, Op::Tick),
        op => (now, op),
    });
    let apply = |commands: [(Millis, Op); 12]| {
        let mut engine = Engine::new();
        let outcomes: Vec<Outcome> = commands
            .into_iter()
            .map(|(now, op)| run(&mut engine, now, op))
            .collect();
        outcomes
    };
    let (watched, plain) = (apply(with), apply(without));
    assert_eq!(grants(&watched), grants(&plain));
    assert_eq!(grants(&plain).len(), 4);
    let positions = |outcomes: &[Outcome]| {
        outcomes
            .iter()
            .filter_map(|o| match o.reply {
                Reply::Queued { position, .. } => Some(position),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(positions(&watched), [1, 2]);
    assert_eq!(positions(&watched), positions(&plain));
}
