//! Replay: the same commands, applied to a fresh engine, give the same outcomes and the same state,
//! also after a trip through JSON (the journal's form).

use super::*;
use crate::engine::Event;

/// A varied day: grants, queues, retries, refusals, leases, renewals, deadlines, cancels, ticks, a
/// command whose clock is behind the previous one, a long-polling waiter's grace, and watchers.
fn script() -> Vec<Command> {
    let ops = [
        (0, grab("db", 1, Some(1_000), Wait::No)),
        (5, grab("db", 2, None, Wait::Forever)),
        (6, grab("db", 3, Some(300), Wait::Until(2_000))),
        (7, grab("db", 4, None, Wait::Until(50))),
        (8, grab("cache", 2, None, Wait::No)),
        (9, grab("db", 5, None, Wait::No)),
        (10, grab("db", 1, Some(1_000), Wait::No)),
        (20, renew("db", 1, Some(2_000))),
        (30, release("db", 9)),
        (40, grab("db", 3, None, Wait::Until(3_000))),
        (45, release("db", 3)),
        (60, Op::Tick),
        (70, cancel(RequestId(1))),
        (65, grab("logs", 7, Some(10), Wait::No)),
        (75, grab("db", 9, None, Wait::Forever)),
        (80, cancel(RequestId(7))),
        (100, release("cache", 2)),
        (101, release("cache", 2)),
        (102, cancel(RequestId(99))),
        (2_100, Op::Tick),
        (2_200, grab("db", 8, None, Wait::No)),
        (2_300, release("db", 8)),
        (2_400, release("db", 2)),
        (2_500, grab("db", 8, Some(100), Wait::No)),
        (2_600, Op::Tick),
        (2_700, grab("q", 20, None, Wait::No)),
        (2_701, watch("q", Wait::Forever)),
        (2_702, watch("elsewhere", Wait::No)),
        (2_703, poll("q", 21, None, Wait::Until(2_800), Some(100))),
        (2_704, watch("q", Wait::Until(2_750))),
        (2_705, poll("q", 22, Some(500), Wait::Forever, Some(100))),
        (2_706, watch("q", Wait::Forever)),
        (2_800, Op::Tick),
        (2_850, poll("q", 21, None, Wait::Until(3_000), Some(100))),
        (2_900, release("q", 20)),
        // The watcher of 2_706.
        (2_950, cancel(RequestId(14))),
        (2_960, release("q", 21)),
        (2_970, release("q", 22)),
    ];
    ops.into_iter()
        .map(|(now, op)| Command { now, op })
        .collect()
}

pub(super) fn replay_matches(commands: &[Command]) {
    let mut original = Engine::new();
    let outcomes: Vec<Outcome> = commands
        .iter()
        .map(|command| run(&mut original, command.now, command.op.clone()))
        .collect();

    let journal = serde_json::to_string(commands).expect("commands serialize");
    let replayed_commands: Vec<Command> = serde_json::from_str(&journal).expect("commands parse");
    assert_eq!(
        replayed_commands, commands,
        "the journal's round trip loses nothing"
    );

    let mut replayed = Engine::new();
    for (i, command) in replayed_commands.into_iter().enumerate() {
        let outcome = replayed.apply(command);
        assert_eq!(
            outcome, outcomes[i],
            "command {i} answered differently on replay"
        );
    }
    assert_eq!(replayed, original, "the replayed state differs");
}

#[test]
fn replay_gives_the_same_outcomes_and_state() {
    let commands = script();
    replay_matches(&commands);

    // And the script did exercise what it claims to: every kind of reply and event came out.
    let mut engine = Engine::new();
    let outcomes: Vec<Outcome> = commands.into_iter().map(|c| engine.apply(c)).collect();
    let replies: Vec<&str> = outcomes.iter().map(|o| reply_kind(&o.reply)).collect();
    for kind in [
        "granted",
        "again",
        "queued",
        "busy",
        "released",
        "withdrawn",
        "renewed",
        "cancelled",
        "ticked",
        "free",
        "watching",
        "refused",
    ] {
        assert!(replies.contains(&kind), "no {kind} reply in {replies:?}");
    }
    let events: Vec<&str> = outcomes
        .iter()
        .flat_map(|o| &o.events)
        .map(event_kind)
        .collect();
    for kind in [
        "granted",
        "timed_out",
        "expired",
        "released",
        "poll_ended",
        "freed",
    ] {
        assert!(events.contains(&kind), "no {kind} event in {events:?}");
    }
}

fn reply_kind(reply: &Reply) -> &'static str {
    match reply {
        Reply::Granted { again: false, .. } => "granted",
        Reply::Granted { again: true, .. } => "again",
        Reply::Queued { .. } => "queued",
        Reply::Busy(_) => "busy",
        Reply::Released { .. } => "released",
        Reply::Withdrawn { .. } => "withdrawn",
        Reply::Renewed { .. } => "renewed",
        Reply::Cancelled => "cancelled",
        Reply::Ticked => "ticked",
        Reply::Free => "free",
        Reply::Watching { .. } => "watching",
        Reply::Refused(_) => "refused",
    }
}

fn event_kind(event: &Event) -> &'static str {
    match event {
        Event::Granted(_) => "granted",
        Event::TimedOut { .. } => "timed_out",
        Event::Expired { .. } => "expired",
        Event::Released { .. } => "released",
        Event::PollEnded { .. } => "poll_ended",
        Event::Freed { .. } => "freed",
    }
}
