//! Replay speed of the journal: builds a journal of 1,000,000 commands (grab/release pairs over 1,000
//! names, 1,000 held at a time), in the journal's own record encoding, then times
//! `weblock::journal::replay` over it and prints commands/s and the file size.
//!
//! Run: `cargo run --release --example replay_million`

use std::time::Instant;

use uuid::Uuid;
use weblock::engine::{Acquire, Command, Mode, Op, Wait};
use weblock::journal::{Record, crc32, replay};

const NAMES: u64 = 1_000;
const COMMANDS: u64 = 1_000_000;

/// One journal line: `{crc32:08x} {json}\n`, as the journal writes it.
fn line(command: Command, out: &mut Vec<u8>) {
    let json = serde_json::to_string(&Record::Command(command)).expect("a command serializes");
    out.extend_from_slice(format!("{:08x} {json}\n", crc32(json.as_bytes())).as_bytes());
}

fn main() {
    let started = Instant::now();
    let mut bytes = Vec::new();
    let mut now = 1_000;
    let rounds = COMMANDS / (2 * NAMES);
    for round in 0..rounds {
        // Every name taken by this round's token, then every one released.
        let token = |n: u64| Uuid::from_u128(u128::from(round * NAMES + n) + 1);
        for n in 0..NAMES {
            now += 1;
            let op = Op::Acquire(Acquire {
                resource: format!("name-{n}"),
                token: token(n),
                holder: format!("job {round}"),
                ttl_ms: Some(60_000),
                wait: Wait::No,
                grace_ms: None,
                meta: None,
                slots: None,
                mode: Mode::Exclusive,
                handles: None,
            });
            line(Command { now, op }, &mut bytes);
        }
        for n in 0..NAMES {
            now += 1;
            let op = Op::Release {
                resource: format!("name-{n}"),
                token: token(n),
            };
            line(Command { now, op }, &mut bytes);
        }
    }
    let built = started.elapsed();

    let started = Instant::now();
    let loaded = replay(&bytes).expect("the journal replays");
    let took = started.elapsed();

    assert_eq!(
        loaded.commands,
        rounds * 2 * NAMES,
        "every command replayed"
    );
    assert!(loaded.torn.is_none(), "nothing torn");
    assert_eq!(loaded.engine.resource_count(), 0, "every name released");
    let secs = took.as_secs_f64();
    println!(
        "journal: {} commands, {} bytes ({:.1} MiB, {:.0} bytes/command), built in {:.2?}",
        loaded.commands,
        bytes.len(),
        bytes.len() as f64 / (1024.0 * 1024.0),
        bytes.len() as f64 / loaded.commands as f64,
        built
    );
    println!(
        "replay: {:.2?}, {:.0} commands/s",
        took,
        loaded.commands as f64 / secs
    );
}
