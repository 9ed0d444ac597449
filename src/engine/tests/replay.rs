//! Replay: the same commands, applied to a fresh engine, give the same outcomes and the same state,
//! also after a trip through JSON (the journal's form).

use super::gates::{close, create, delete_ticket, open, present, set, take, watch_gate};
use super::*;
use crate::engine::{ENDED_RETENTION_MS, Event, GateReply, GateState, Mode, TICKET_TTL_MS};

/// The request id of the first Acquire on "n" in the script.
const ADMIN_CANCELLED: u64 = 18;

/// A varied day: grants, queues, retries, refusals, leases, renewals, deadlines, cancels, ticks, a
/// command whose clock is behind the previous one, a long-polling waiter's grace, and watchers.
pub(super) fn script() -> Vec<Command> {
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
        // Metadata, administrators, and the history of ended requests.
        (3_000, grab_with("m", 30, Wait::No, r#"{"wait":5}"#)),
        (3_001, grab_with("m", 31, Wait::Forever, "{}")),
        (3_002, watch("m", Wait::Forever)),
        (3_003, grab("n", 33, None, Wait::No)),
        (3_004, grab("n", 34, None, Wait::Forever)),
        (3_005, grab("n", 35, None, Wait::Forever)),
        // The holder of "n", then its next waiter.
        (3_006, admin_cancel(RequestId(ADMIN_CANCELLED))),
        (3_007, admin_cancel(RequestId(ADMIN_CANCELLED + 2))),
        (3_008, delete("m")),
        (3_009, delete("m")),
        (3_010, grab("o", 36, None, Wait::No)),
        (3_011, Op::DeleteAll),
        (3_012, Op::DeleteAll),
        // One ms before those ended at the first DeleteAll are forgotten.
        (3_010 + ENDED_RETENTION_MS, Op::Tick),
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
    // The administrator's cancels hit the holder of "n" and then its next waiter.
    let cancels: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.events.first().is_some_and(|e| event_kind(e) == "deleted"))
        .take(2)
        .collect();
    assert!(
        matches!(cancels[0].events.as_slice(), [Event::Deleted { request, .. }, Event::Granted(_)] if request.0 == ADMIN_CANCELLED)
    );
    assert_eq!(cancels[1].events.len(), 1);
    // Only what ended at the first DeleteAll (the holders of "n" and "o") is still retained.
    assert_eq!(engine.ended_count(), 2);
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
        "deleted",
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
        "deleted",
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
        Reply::Deleted { .. } => "deleted",
        Reply::Restarted { .. } => "restarted",
        Reply::Refused(_) => "refused",
        Reply::SlotsDiffer { .. } => "slots_differ",
        Reply::Gate(gate) => match gate {
            GateReply::Created => "gate_created",
            GateReply::Deleted => "gate_deleted",
            GateReply::Set => "gate_set",
            GateReply::Ok(_) => "gate_ok",
            GateReply::Denied => "gate_denied",
            GateReply::Queued(_) => "gate_queued",
            GateReply::Waiting { .. } => "gate_waiting",
            GateReply::Open => "gate_open",
            GateReply::Closed => "gate_closed",
            GateReply::Watching { .. } => "gate_watching",
            GateReply::Refused(_) => "gate_refused",
        },
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
        Event::Deleted { .. } => "deleted",
        Event::TicketGranted { .. } => "ticket_granted",
        Event::TicketPollEnded { .. } => "ticket_poll_ended",
        Event::TicketExpired { .. } => "ticket_expired",
        Event::TicketEnded { .. } => "ticket_ended",
        Event::GateOpened { .. } => "gate_opened",
        Event::GateWatchEnded { .. } => "gate_watch_ended",
    }
}

#[test]
fn a_journal_written_before_meta_and_admins_still_parses() {
    let old = r#"[
        {"now": 1, "op": {"acquire": {"resource": "db", "token": "00000000-0000-0000-0000-000000000001",
            "holder": "h", "ttl_ms": null, "wait": "no"}}},
        {"now": 2, "op": {"cancel": {"request": 1}}}
    ]"#;
    let commands: Vec<Command> = serde_json::from_str(old).expect("an old journal parses");
    assert_eq!(
        commands[0].op,
        Op::Acquire(Acquire {
            resource: "db".into(),
            token: token(1),
            holder: "h".into(),
            ttl_ms: None,
            wait: Wait::No,
            grace_ms: None,
            meta: None,
            slots: None,
            mode: Mode::Exclusive,
            handles: None,
        })
    );
    assert_eq!(commands[1].op, cancel(RequestId(1)));
    let admin = serde_json::to_string(&admin_cancel(RequestId(1))).expect("serializes");
    assert_eq!(admin, r#"{"cancel":{"request":1,"by":"admin"}}"#);
}

/// Gates, with lock commands between them: every gate reply and event, request ids shared by
/// locks, polls and watchers, and deadlines of both kinds due at one Tick.
pub(super) fn gate_script() -> Vec<Command> {
    let s = |env| ("s", env);
    let ops = [
        (0, create("s", &["a", "b", "c"])),
        (0, create("t", &["x"])),
        (1, create("s", &["a"])),
        (2, set("s", "a", Some(GateState::Closed), Some("deploy"))),
        (3, take(&[s("a"), ("t", "x")], 1, true, Wait::No)),
        (4, take(&[("t", "x")], 2, false, Wait::No)),
        (5, take(&[s("b")], 3, false, Wait::No)),
        (6, take(&[s("b"), s("c")], 4, true, Wait::Until(10_000))),
        (6, grab("lock", 50, Some(100), Wait::No)),
        (7, watch_gate("s", "b", Wait::Forever)),
        (8, watch_gate("s", "c", Wait::No)),
        (9, watch_gate("s", "a", Wait::Until(9))),
        (10, delete_ticket(3)),
        (11, present(&[], 1, false, Wait::No)),
        (12, open("s", "a")),
        (13, present(&[], 1, true, Wait::Until(20))),
        (14, take(&[("t", "x")], 5, true, Wait::Until(20_000))),
        // The poll of 14 hangs up.
        (15, cancel(RequestId(4))),
        (16, watch_gate("s", "a", Wait::Until(106))),
        (17, grab("lock", 51, None, Wait::Until(500))),
        // Due at once: the lease of "lock" and the gate watcher's deadline, both at 106.
        (200, Op::Tick),
        (201, delete_ticket(4)),
        (202, take(&[s("c")], 6, true, Wait::No)),
        (203, take(&[s("c")], 7, true, Wait::Until(1_000))),
        (1_000, Op::Tick),
        (1_001, take(&[s("c")], 8, true, Wait::Forever)),
        // The poll of 1_001.
        (1_002, admin_cancel(RequestId(8))),
        (
            1_003,
            Op::DeleteService {
                service: "t".into(),
                keep_other_gates: true,
            },
        ),
        (1_004, delete_ticket(99)),
        (1_005, close("s", "nope")),
        (1_006, present(&[s("c")], 5, true, Wait::No)),
        (1_000 + TICKET_TTL_MS, Op::Tick),
    ];
    ops.into_iter()
        .map(|(now, op)| Command { now, op })
        .collect()
}

#[test]
fn gate_replay_gives_the_same_outcomes_and_state() {
    let commands = gate_script();
    replay_matches(&commands);

    let mut engine = Engine::new();
    let outcomes: Vec<Outcome> = commands.into_iter().map(|c| engine.apply(c)).collect();
    let replies: Vec<&str> = outcomes.iter().map(|o| reply_kind(&o.reply)).collect();
    for kind in [
        "gate_created",
        "gate_deleted",
        "gate_set",
        "gate_ok",
        "gate_denied",
        "gate_queued",
        "gate_waiting",
        "gate_open",
        "gate_closed",
        "gate_watching",
        "gate_refused",
        "cancelled",
    ] {
        assert!(replies.contains(&kind), "no {kind} reply in {replies:?}");
    }
    let events: Vec<&str> = outcomes
        .iter()
        .flat_map(|o| &o.events)
        .map(event_kind)
        .collect();
    for kind in [
        "ticket_granted",
        "ticket_poll_ended",
        "ticket_expired",
        "ticket_ended",
        "gate_opened",
        "gate_watch_ended",
        "expired",
        "granted",
    ] {
        assert!(events.contains(&kind), "no {kind} event in {events:?}");
    }
    // At the Tick of 200, in time order: the lock's lease (106; locks first at the same instant)
    // and its next holder, then the gate watcher (106).
    let tick = &outcomes[20].events;
    assert!(
        matches!(
            tick.as_slice(),
            [
                Event::Expired { .. },
                Event::Granted(_),
                Event::GateWatchEnded { .. }
            ]
        ),
        "{tick:?}"
    );
}

#[test]
fn a_gate_journal_without_optional_fields_parses() {
    let old = r#"[
        {"now": 1, "op": {"set_gate": {"service": "s", "environment": "a"}}},
        {"now": 2, "op": {"test_and_set": {"gates": [["s", "a"]],
            "new_ticket": "00000000-0000-0000-0000-000000000001", "wait": "no"}}}
    ]"#;
    let commands: Vec<Command> = serde_json::from_str(old).expect("a gate journal parses");
    assert_eq!(commands[0].op, set("s", "a", None, None));
    // Written before tickets had holders: none.
    let mut expected = take(&[("s", "a")], 1, false, Wait::No);
    if let Op::TestAndSet { holder, .. } = &mut expected {
        holder.clear();
    }
    assert_eq!(commands[1].op, expected);
}

/// A server that dies and starts again, twice, with locks and gates: long-pollers detached and one
/// coming back, plain waiters dropped, request-queue waiters untouched, watchers removed, a polled
/// ticket whose poll ends, a lease that ran out while the server was down, and a restart without
/// grace.
pub(super) fn restart_script() -> Vec<Command> {
    let a = ("s", "a");
    let ops = [
        (0, create("s", &["a", "b"])),
        (1, grab("db", 1, Some(1_000), Wait::No)),
        (2, poll("db", 2, None, Wait::Until(10_000), Some(100))),
        (3, grab("db", 3, None, Wait::Until(10_000))),
        (4, grab("db", 4, None, Wait::Forever)),
        (5, watch("db", Wait::Forever)),
        (6, grab("q", 5, None, Wait::No)),
        (7, poll("q", 6, None, Wait::Until(10_000), Some(100))),
        (8, grab("q", 7, None, Wait::Until(10_000))),
        (9, take(&[a], 1, false, Wait::No)),
        (10, take(&[a], 2, true, Wait::Until(50_000))),
        (11, take(&[a], 3, true, Wait::No)),
        (12, watch_gate("s", "a", Wait::Forever)),
        // Down from 13 to 2_000: the lease of "db" ran out at 1_001.
        (2_000, Op::Restart { grace_ms: 500 }),
        (2_100, poll("db", 2, None, Wait::Until(3_000), Some(100))),
        (2_200, poll("q", 6, None, Wait::Until(3_000), Some(100))),
        (2_300, present(&[a], 2, true, Wait::No)),
        (2_400, delete_ticket(1)),
        (2_450, present(&[a], 3, false, Wait::No)),
        (2_500, present(&[a], 2, true, Wait::No)),
        (2_600, release("db", 2)),
        (2_700, Op::Restart { grace_ms: 0 }),
        (2_800, release("q", 5)),
        (2_000 + TICKET_TTL_MS, Op::Tick),
    ];
    ops.into_iter()
        .map(|(now, op)| Command { now, op })
        .collect()
}

#[test]
fn restart_replay_gives_the_same_outcomes_and_state() {
    let commands = restart_script();
    replay_matches(&commands);

    let mut engine = Engine::new();
    let outcomes: Vec<Outcome> = commands.into_iter().map(|c| engine.apply(c)).collect();
    let restarts: Vec<&Reply> = outcomes
        .iter()
        .map(|o| &o.reply)
        .filter(|r| reply_kind(r) == "restarted")
        .collect();
    // At 2_000: 3 and 7 dropped, 2 and 6 detached, two watchers, one poll. At 2_700: 6 (attached
    // again) dropped, as nobody comes back within no grace.
    let restarted = |dropped, detached, watchers, polls| Reply::Restarted {
        dropped,
        detached,
        watchers,
        polls,
    };
    assert_eq!(restarts, [&restarted(2, 2, 2, 1), &restarted(1, 0, 0, 0)]);
    // The first restart, then the lease that ran out: to the long-poller, unclaimed until 2_500.
    match outcomes[13].events.as_slice() {
        [Event::Expired { .. }, Event::Granted(grant)] => {
            assert_eq!((grant.token, grant.expires), (token(2), Some(2_500)));
        }
        other => panic!("expected the lease handed to the long-poller, got {other:?}"),
    }
    // Its poll collects it; the other long-poller keeps its place; ticket 2 is not granted when
    // ticket 1 goes, nor to ticket 3 behind it, but to its own call.
    assert!(matches!(
        outcomes[14].reply,
        Reply::Granted { again: true, .. }
    ));
    assert!(matches!(
        outcomes[15].reply,
        Reply::Queued { position: 1, .. }
    ));
    assert!(outcomes[17].events.is_empty());
    assert_eq!(reply_kind(&outcomes[18].reply), "gate_denied");
    assert_eq!(reply_kind(&outcomes[19].reply), "gate_ok");
    // The request-queue waiter is granted when "db" is released.
    assert!(matches!(
        outcomes[20].events.as_slice(),
        [Event::Granted(grant)] if grant.token == token(4)
    ));
}
