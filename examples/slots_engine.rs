//! Engine figures for resources with several holders: commands/s of a counting semaphore (10 clients
//! taking turns on 3 slots: every release hands a slot over), of a plain mutex doing the same for
//! comparison, and of 10,000 shared holders with a writer queued behind them (each release keeps the
//! writer waiting until the last one, which grants it).
//!
//! Run: `cargo run --release --example slots_engine`

use std::time::Instant;

use uuid::Uuid;
use weblock::engine::{Acquire, Command, Engine, Mode, Op, Wait};

fn acquire(client: u128, slots: Option<u32>, mode: Mode) -> Op {
    Op::Acquire(Acquire {
        resource: "r".into(),
        token: Uuid::from_u128(client),
        holder: format!("client {client}"),
        ttl_ms: None,
        wait: Wait::Forever,
        grace_ms: None,
        meta: None,
        slots,
        mode,
        handles: None,
    })
}

fn release(client: u128) -> Op {
    Op::Release {
        resource: "r".into(),
        token: Uuid::from_u128(client),
    }
}

/// `clients` take turns on `slots` for `rounds` releases: each release is followed by a new request
/// of the one that released, so the queue never empties. Commands per second.
fn turns(slots: Option<u32>, clients: u128, rounds: u64) -> f64 {
    let mut engine = Engine::new();
    let mut now = 1;
    for client in 0..clients {
        engine.apply(Command {
            now,
            op: acquire(client, slots, Mode::Exclusive),
        });
    }
    let started = Instant::now();
    for round in 0..rounds {
        now += 1;
        let client = u128::from(round) % clients;
        engine.apply(Command {
            now,
            op: release(client),
        });
        engine.apply(Command {
            now,
            op: acquire(client, slots, Mode::Exclusive),
        });
    }
    (2 * rounds) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    const ROUNDS: u64 = 1_000_000;
    let mutex = turns(None, 10, ROUNDS);
    let semaphore = turns(Some(3), 10, ROUNDS);
    println!("mutex, 10 clients taking turns:          {mutex:>12.0} commands/s");
    println!("3 slots, 10 clients taking turns:        {semaphore:>12.0} commands/s");

    const READERS: u128 = 10_000;
    let mut engine = Engine::new();
    let started = Instant::now();
    for reader in 0..READERS {
        engine.apply(Command {
            now: 1,
            op: acquire(reader, None, Mode::Shared),
        });
    }
    engine.apply(Command {
        now: 1,
        op: acquire(READERS, None, Mode::Exclusive),
    });
    let mut granted = 0;
    for reader in 0..READERS {
        let outcome = engine.apply(Command {
            now: 2,
            op: release(reader),
        });
        granted += outcome.events.len();
    }
    let elapsed = started.elapsed();
    assert_eq!(
        granted, 1,
        "the writer is granted once, at the last reader's release"
    );
    println!(
        "10,000 shared holders in, a writer queued, all out: {:.1} ms ({:.0} commands/s)",
        elapsed.as_secs_f64() * 1e3,
        (2 * READERS + 1) as f64 / elapsed.as_secs_f64()
    );
}
