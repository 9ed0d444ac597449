//! `weblock status [NAME]`: one lock as one line, or every lock and every gate as aligned tables
//! (`--json`: the same content as one JSON object). Rendering is pure (JSON in, lines out), so the
//! layout is unit-tested from the server's answers.
//!
//! A lock may have several holders (counting semaphores, shared holders): servers that support them
//! add `slots`, `free`, `mode` and `holders` to each lock in `/status`. Without those fields the
//! top-level `holder`, `held_for` and `ttl_left` describe the one holder.
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::Body;
use super::lock::{Ctx, ONE_SHOT_RETRY, unexpected};
use super::text;
use super::{Failure, exit};
use crate::duration;

pub fn status(ctx: &Ctx, name: Option<&str>) -> Result<(), Failure> {
    let query: Vec<(&str, String)> = name.map(|n| ("id", n.to_string())).into_iter().collect();
    let locks = get(ctx, "/status", &query)?;
    if name.is_some() {
        if ctx.json {
            super::json_out::keep(&locks);
        } else {
            println!("{}", summary_line(&locks));
        }
        return Ok(());
    }
    let services = get(ctx, "/api/services", &[])?;
    let locks = array(&locks, "locks");
    let gates = gate_records(array(&services, "services"));
    if ctx.json {
        super::json_out::keep(&json!({"locks": locks, "gates": gates}));
        return Ok(());
    }
    for line in overview(locks, &gates) {
        println!("{line}");
    }
    Ok(())
}

/// A one-shot GET whose answer must be 200 (400 is the caller's mistake).
fn get(ctx: &Ctx, path: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
    let deadline = Instant::now() + ONE_SHOT_RETRY;
    let answer = ctx.send("GET", path, query, Body::None, Duration::ZERO, deadline)?;
    match answer.status {
        200 => Ok(answer.body),
        400 => Err(Failure::new(exit::USAGE, answer.reason())),
        _ => Err(unexpected(&answer)),
    }
}

fn array<'a>(doc: &'a Value, name: &str) -> &'a [Value] {
    doc.get(name)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn text<'a>(doc: &'a Value, name: &str) -> &'a str {
    doc.get(name).and_then(Value::as_str).unwrap_or("")
}

fn secs(doc: &Value, name: &str) -> Option<String> {
    doc.get(name)
        .and_then(Value::as_f64)
        .and_then(|s| Duration::try_from_secs_f64(s.max(0.0)).ok())
        .map(duration::format)
}

/// One holder of a lock, as shown.
struct Holder {
    who: String,
    shared: bool,
    held_for: Option<String>,
    lease_left: Option<String>,
}

impl Holder {
    fn label(&self) -> String {
        if self.shared {
            format!("{} (shared)", self.who)
        } else {
            self.who.clone()
        }
    }
}

/// The holders of a lock, oldest first: from `holders` when the server gives it, else the one
/// top-level holder of a lock in use.
fn holders(lock: &Value) -> Vec<Holder> {
    if let Some(list) = lock.get("holders").and_then(Value::as_array) {
        return list
            .iter()
            .map(|h| Holder {
                who: text(h, "holder").to_string(),
                shared: text(h, "mode") == "shared",
                held_for: secs(h, "held_for"),
                lease_left: secs(h, "ttl_left"),
            })
            .collect();
    }
    if !lock.get("in_use").and_then(Value::as_bool).unwrap_or(false) {
        return Vec::new();
    }
    vec![Holder {
        who: text(lock, "holder").to_string(),
        shared: text(lock, "mode") == "shared",
        held_for: secs(lock, "held_for"),
        lease_left: secs(lock, "ttl_left"),
    }]
}

/// A semaphore (`slots` > 1) or several holders: shown as a count and a row per holder.
fn counted(lock: &Value, holders: &[Holder]) -> Option<String> {
    let slots = lock.get("slots").and_then(Value::as_u64);
    if holders.len() <= 1 && slots.is_none_or(|n| n <= 1) {
        return None;
    }
    Some(match slots {
        Some(n) => format!("{} of {n} held", holders.len()),
        None => format!("{} holders", holders.len()),
    })
}

fn waiting(lock: &Value) -> u64 {
    lock.get("waiting").and_then(Value::as_u64).unwrap_or(0)
}

/// `db: held by alice@build3 pid 42 for 3m12s, lease 27s left, 2 waiting: bob, carol`, or `db: free`;
/// with several holders, `gpu: 2 of 3 held: alice for 1m (lease 20s left), bob (shared) for 5s, …`.
pub fn summary_line(lock: &Value) -> String {
    let id = lock.get("id").and_then(Value::as_str).unwrap_or("?");
    let holders = holders(lock);
    let mut line = match (counted(lock, &holders), holders.as_slice()) {
        (None, []) => return format!("{id}: free"),
        (None, [one]) => {
            let mut line = format!("{id}: held by {}", one.label());
            if let Some(held) = &one.held_for {
                line.push_str(&format!(" for {held}"));
            }
            if let Some(left) = &one.lease_left {
                line.push_str(&format!(", lease {left} left"));
            }
            line
        }
        (count, all) => {
            let count = count.unwrap_or_else(|| format!("{} holders", all.len()));
            let each: Vec<String> = all
                .iter()
                .map(|h| {
                    let mut s = h.label();
                    if let Some(held) = &h.held_for {
                        s.push_str(&format!(" for {held}"));
                    }
                    if let Some(left) = &h.lease_left {
                        s.push_str(&format!(" (lease {left} left)"));
                    }
                    s
                })
                .collect();
            if each.is_empty() {
                format!("{id}: {count}")
            } else {
                format!("{id}: {count}: {}", each.join(", "))
            }
        }
    };
    line.push_str(&format!(", {} waiting", waiting(lock)));
    let queue: Vec<&str> = array(lock, "queue")
        .iter()
        .filter_map(|w| w.get("holder")?.as_str())
        .collect();
    if !queue.is_empty() {
        line.push_str(&format!(": {}", queue.join(", ")));
    }
    line
}

/// One gate, flattened for the table and for `--json`.
fn gate_records(services: &[Value]) -> Vec<Value> {
    let mut gates = Vec::new();
    for service in services {
        let Some(envs) = service.get("environments").and_then(Value::as_object) else {
            continue;
        };
        for (gate, doc) in envs {
            gates.push(json!({
                "service": text(service, "name"),
                "group": text(service, "group"),
                "gate": gate,
                "state": text(doc, "state"),
                "message": text(doc, "message"),
                "tickets": doc
                    .get("queue")
                    .and_then(Value::as_array)
                    .map(|q| q.iter().filter_map(super::gate::ticket_id).collect::<Vec<_>>())
                    .unwrap_or_default(),
                // Who asked for each ticket, in the queue's order (older servers send none).
                "ticket_holders": doc.get("queue_holders").cloned().unwrap_or_else(|| json!([])),
            }));
        }
    }
    gates
}

/// The locks table, a blank line, the gates table.
fn overview(locks: &[Value], gates: &[Value]) -> Vec<String> {
    let mut lines = lock_table(locks);
    lines.push(String::new());
    lines.extend(gate_table(gates));
    lines
}

fn lock_table(locks: &[Value]) -> Vec<String> {
    if locks.is_empty() {
        return vec!["no locks held".to_string()];
    }
    let dash = || "-".to_string();
    let mut rows =
        vec![["NAME", "HOLDER", "HELD FOR", "LEASE LEFT", "WAITING"].map(str::to_string)];
    for lock in locks {
        let name = text(lock, "id").to_string();
        let holders = holders(lock);
        let waiting = waiting(lock).to_string();
        match (counted(lock, &holders), holders.as_slice()) {
            (None, []) => rows.push([name, "(free)".into(), dash(), dash(), waiting]),
            (None, [one]) => rows.push([
                name,
                one.label(),
                one.held_for.clone().unwrap_or_else(dash),
                one.lease_left.clone().unwrap_or_else(dash),
                waiting,
            ]),
            (count, all) => {
                let count = count.unwrap_or_default();
                rows.push([name, count, String::new(), String::new(), waiting]);
                for h in all {
                    rows.push([
                        String::new(),
                        format!("  {}", h.label()),
                        h.held_for.clone().unwrap_or_else(dash),
                        h.lease_left.clone().unwrap_or_else(dash),
                        String::new(),
                    ]);
                }
            }
        }
    }
    align(&rows)
}

fn gate_table(gates: &[Value]) -> Vec<String> {
    if gates.is_empty() {
        return vec!["no gates".to_string()];
    }
    let mut rows = vec![["GATE", "STATE", "TICKETS", "MESSAGE"].map(str::to_string)];
    for gate in gates {
        // The first 8 characters of a ticket's id tell tickets apart; --json has them whole.
        let holders = array(gate, "ticket_holders");
        let tickets: Vec<String> = array(gate, "tickets")
            .iter()
            .filter_map(Value::as_str)
            .enumerate()
            .map(|(i, t)| {
                let short: String = t.chars().take(8).collect();
                match holders.get(i).and_then(Value::as_str) {
                    Some(h) if !h.is_empty() => format!("{short} ({h})"),
                    _ => short,
                }
            })
            .collect();
        let message = text(gate, "message");
        rows.push([
            format!("{}:{}", text(gate, "service"), text(gate, "gate")),
            text(gate, "state").to_string(),
            if tickets.is_empty() {
                "-".to_string()
            } else {
                tickets.join(" ")
            },
            if message.is_empty() {
                "-".to_string()
            } else {
                message.to_string()
            },
        ]);
    }
    align(&rows)
}

/// Columns padded to their widest cell (in terminal columns: a Chinese character takes two), two
/// spaces apart, no trailing blanks; control characters in a cell (a gate's message) shown escaped.
fn align<const N: usize>(rows: &[[String; N]]) -> Vec<String> {
    let rows: Vec<[String; N]> = rows
        .iter()
        .map(|row| {
            row.each_ref()
                .map(|cell| text::printable(cell).into_owned())
        })
        .collect();
    let mut widths = [0; N];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(text::columns(cell));
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(&text::pad(cell, w));
            }
            line.trim_end().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_holder_locks() -> Vec<Value> {
        vec![
            json!({"id": "cache", "in_use": true, "holder": "carol", "held_for": 2.2,
                   "ttl": 60, "ttl_left": 57.8, "waiting": 0, "queue": []}),
            json!({"id": "db", "in_use": true, "holder": "alice@build3 pid 42", "held_for": 192.0,
                   "waiting": 2, "queue": [{"holder": "bob"}, {"holder": "dave"}]}),
        ]
    }

    #[test]
    fn the_lock_table_is_aligned_and_falls_back_to_the_top_level_holder() {
        assert_eq!(
            lock_table(&one_holder_locks()),
            [
                "NAME   HOLDER               HELD FOR  LEASE LEFT  WAITING",
                "cache  carol                2s        57s         0",
                "db     alice@build3 pid 42  3m12s     -           2",
            ]
        );
    }

    #[test]
    fn a_semaphore_shows_its_count_and_a_row_per_holder_with_shared_ones_marked() {
        let gpu = json!({
            "id": "gpu", "in_use": true, "slots": 3, "free": 1, "mode": "shared", "waiting": 1,
            "holder": "alice", "held_for": 75.0,
            "holders": [
                {"holder": "alice", "since": "2026-11-23T10:11:12.345Z", "held_for": 75.0,
                 "fence": 7, "mode": "exclusive", "ttl": 30, "expires": "…", "ttl_left": 20.5},
                {"holder": "bob", "since": "2026-11-23T10:12:22.345Z", "held_for": 5.0,
                 "fence": 9, "mode": "shared", "ttl": null, "expires": null, "ttl_left": null}
            ],
            "queue": [{"holder": "carol"}]
        });
        let locks = [gpu.clone(), one_holder_locks().remove(1)];
        assert_eq!(
            lock_table(&locks),
            [
                "NAME  HOLDER               HELD FOR  LEASE LEFT  WAITING",
                "gpu   2 of 3 held                                1",
                "        alice              1m15s     20s",
                "        bob (shared)       5s        -",
                "db    alice@build3 pid 42  3m12s     -           2",
            ]
        );
        assert_eq!(
            summary_line(&gpu),
            "gpu: 2 of 3 held: alice for 1m15s (lease 20s left), bob (shared) for 5s, 1 waiting: carol"
        );
    }

    #[test]
    fn a_mutex_with_the_new_fields_reads_as_before() {
        let db = json!({"id": "db", "in_use": true, "slots": null, "free": null,
            "mode": "exclusive", "holder": "alice", "held_for": 3.0, "waiting": 0,
            "holders": [{"holder": "alice", "held_for": 3.0, "mode": "exclusive"}]});
        assert_eq!(summary_line(&db), "db: held by alice for 3s, 0 waiting");
        assert_eq!(
            lock_table(&[db])[1],
            "db    alice   3s        -           0"
        );
    }

    #[test]
    fn summary_lines_of_free_and_held_locks() {
        assert_eq!(
            summary_line(&json!({"id": "db", "in_use": false})),
            "db: free"
        );
        let free = json!({"id": "db", "in_use": false, "slots": null, "holders": []});
        assert_eq!(summary_line(&free), "db: free");
        let idle = json!({"id": "gpu", "in_use": false, "slots": 3, "holders": [], "waiting": 0});
        assert_eq!(summary_line(&idle), "gpu: 0 of 3 held, 0 waiting");
        assert_eq!(
            summary_line(&one_holder_locks()[1]),
            "db: held by alice@build3 pid 42 for 3m12s, 2 waiting: bob, dave"
        );
        assert_eq!(
            summary_line(&one_holder_locks()[0]),
            "cache: held by carol for 2s, lease 57s left, 0 waiting"
        );
    }

    #[test]
    fn gates_are_one_row_each_with_short_tickets_and_the_message() {
        let services = [
            json!({"name": "shop", "group": "team12", "environments": {
            "live": {"state": "closed", "message": "testing. -Jens",
                     "queue": ["4ca72ee9-82b9-48c5-bf66-994ac907386b"]},
            "testing": {"state": "open", "message": "", "queue": []}}}),
            json!({"name": "db", "group": "", "environments": {
            "migrate": {"state": "closed", "message": "", "queue": ["0c0ffee0-0000-4000-8000-000000000001",
                        "0c0ffee1-0000-4000-8000-000000000002"],
                        "queue_holders": ["alice@b3 pid 42", ""]}}}),
        ];
        let gates = gate_records(&services);
        assert_eq!(gates[0]["service"], "shop");
        assert_eq!(gates[0]["group"], "team12");
        assert_eq!(
            gates[0]["tickets"][0],
            "4ca72ee9-82b9-48c5-bf66-994ac907386b"
        );
        assert_eq!(
            gate_table(&gates),
            [
                "GATE          STATE   TICKETS                              MESSAGE",
                "shop:live     closed  4ca72ee9                             testing. -Jens",
                "shop:testing  open    -                                    -",
                "db:migrate    closed  0c0ffee0 (alice@b3 pid 42) 0c0ffee1  -",
            ]
        );
    }

    #[test]
    fn a_number_beyond_any_duration_is_left_out_not_a_panic() {
        let odd = json!({"id": "db", "in_use": true, "holder": "x", "held_for": 1e300,
                         "ttl_left": -1e300, "waiting": 0});
        assert_eq!(
            summary_line(&odd),
            "db: held by x, lease 0s left, 0 waiting"
        );
    }

    #[test]
    fn empty_tables_say_so() {
        assert_eq!(overview(&[], &[]), ["no locks held", "", "no gates"]);
    }
}
