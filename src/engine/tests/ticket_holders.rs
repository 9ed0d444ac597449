//! A ticket's holder text: kept with it from the call that created it, shown in its view and in each
//! gate's queue, carried by snapshots; journals and snapshots written before it are still read.

use super::gates::{create, gate, present, take, two_services};
use super::*;

#[test]
fn a_ticket_keeps_the_holder_of_the_call_that_made_it() {
    let mut engine = two_services();
    run(&mut engine, 5, create("shop", &["live"]));
    let first = ok(&run(
        &mut engine,
        10,
        take(&[("shop", "live")], 1, false, Wait::No),
    ));
    assert_eq!(first.holder, "ticket 1");
    let queued = super::gates::in_queue(&run(
        &mut engine,
        11,
        take(&[("shop", "live")], 2, true, Wait::No),
    ));
    assert_eq!(queued.holder, "ticket 2");
    // Presenting it again (with no holder) does not change who asked.
    run(
        &mut engine,
        12,
        present(&[("shop", "live")], 2, true, Wait::No),
    );
    assert_eq!(
        engine.ticket(token(2)).map(|t| t.holder),
        Some("ticket 2".into())
    );
    let live = gate(&engine, "shop", "live");
    assert_eq!(live.queue, [token(1), token(2)]);
    assert_eq!(live.queue_holders, ["ticket 1", "ticket 2"]);

    // Through a snapshot and back.
    let json = serde_json::to_string(&engine.snapshot()).expect("serializes");
    let restored = Engine::restore(serde_json::from_str(&json).expect("reads")).expect("restores");
    restored.check_invariants();
    assert_eq!(restored, engine);
    assert_eq!(
        gate(&restored, "shop", "live").queue_holders,
        ["ticket 1", "ticket 2"]
    );

    // A snapshot from before holders: read, the holders empty.
    let mut value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let tickets = value["gates"]["tickets"].as_array_mut().expect("tickets");
    for t in tickets.iter_mut() {
        t.as_object_mut().expect("a ticket").remove("holder");
    }
    let old: String = value.to_string();
    assert!(!old.contains("\"holder\":\"ticket"), "as written before");
    let restored = Engine::restore(serde_json::from_str(&old).expect("reads")).expect("restores");
    assert_eq!(gate(&restored, "shop", "live").queue_holders, ["", ""]);
}

fn ok(outcome: &Outcome) -> super::super::TicketView {
    super::gates::ok(outcome)
}

#[test]
fn a_journal_line_from_before_holders_replays_and_an_empty_holder_is_not_written() {
    // An empty holder is not written, so the line is as written before holders existed…
    let line = serde_json::to_string(&present(&[("shop", "live")], 7, false, Wait::No))
        .expect("serializes");
    assert!(!line.contains("holder"), "{line}");
    // …and such a line reads, with no holder.
    let op: Op = serde_json::from_str(&line).expect("an old journal line reads");
    let Op::TestAndSet { holder, .. } = &op else {
        panic!("{op:?}")
    };
    assert!(holder.is_empty());
    let with =
        serde_json::to_string(&take(&[("shop", "live")], 7, false, Wait::No)).expect("serializes");
    assert!(with.contains(r#""holder":"ticket 7""#), "{with}");
}
