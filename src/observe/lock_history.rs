//! The last hour of the busiest locks, a minute at a time, for the dashboard's per-lock plots and any
//! script: `GET /history`. Per minute: the longest queue seen (a waiter's place when it joined the
//! line), and the grants with how long they waited in line.
//!
//! Bounded: at most `LOCKS` locks (the least recently active one is forgotten for a newcomer), at
//! most `MINUTES` minutes each. Fed by `changes::Observer` under the engine's lock; read under a lock
//! of its own.
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::engine::Millis;
use crate::timefmt;

/// Locks remembered.
pub const LOCKS: usize = 64;
/// Minutes remembered per lock.
pub const MINUTES: usize = 60;
const MINUTE_MS: u64 = 60_000;

#[derive(Clone, Copy, Default)]
struct Minute {
    /// Its start, ms since the epoch.
    start: Millis,
    waiting_max: usize,
    grants: u64,
    waited_sum_ms: u64,
    waited_max_ms: u64,
}

#[derive(Default)]
pub struct History {
    locks: Mutex<HashMap<String, (Millis, VecDeque<Minute>)>>,
}

impl History {
    /// Someone joined `lock`'s line at place `position` (so at least that many wait).
    pub fn waiting(&self, lock: &str, position: usize, now: Millis) {
        self.with_minute(lock, now, |m| m.waiting_max = m.waiting_max.max(position));
    }

    /// A grant of `lock` that waited `waited_ms` in line (0: at once).
    pub fn granted(&self, lock: &str, waited_ms: u64, now: Millis) {
        self.with_minute(lock, now, |m| {
            m.grants += 1;
            m.waited_sum_ms = m.waited_sum_ms.saturating_add(waited_ms);
            m.waited_max_ms = m.waited_max_ms.max(waited_ms);
        });
    }

    fn with_minute(&self, lock: &str, now: Millis, f: impl FnOnce(&mut Minute)) {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((active, minutes)) = locks.get_mut(lock) {
            return in_minute(active, minutes, now, f);
        }
        if locks.len() >= LOCKS {
            let stalest = locks
                .iter()
                .min_by_key(|(_, (active, _))| *active)
                .map(|(name, _)| name.clone());
            if let Some(stalest) = stalest {
                locks.remove(&stalest);
            }
        }
        let (active, minutes) = locks.entry(lock.to_string()).or_default();
        in_minute(active, minutes, now, f);
    }

    /// `{"locks": {"db": [{"minute", "waiting", "grants", "waited_max", "waited_avg"}, …]}}`: the
    /// minutes of the last hour with anything in them, oldest first.
    pub fn json(&self, now: Millis) -> Value {
        let locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        let from = now.saturating_sub(MINUTES as u64 * MINUTE_MS);
        let mut out = serde_json::Map::new();
        for (name, (_, minutes)) in locks.iter() {
            let list: Vec<Value> = minutes
                .iter()
                .filter(|m| m.start + MINUTE_MS > from)
                .map(|m| {
                    let avg = m.waited_sum_ms.checked_div(m.grants).unwrap_or(0);
                    json!({
                        "minute": timefmt::rfc3339(m.start),
                        "waiting": m.waiting_max,
                        "grants": m.grants,
                        "waited_max": m.waited_max_ms as f64 / 1000.0,
                        "waited_avg": avg as f64 / 1000.0,
                    })
                })
                .collect();
            if !list.is_empty() {
                out.insert(name.clone(), list.into());
            }
        }
        json!({"status": "ok", "locks": out})
    }
}

/// Applies `f` to the minute of `now`, starting it (and forgetting the oldest) if need be.
fn in_minute(
    active: &mut Millis,
    minutes: &mut VecDeque<Minute>,
    now: Millis,
    f: impl FnOnce(&mut Minute),
) {
    *active = now;
    let start = now - now % MINUTE_MS;
    if minutes.back().is_none_or(|m| m.start != start) {
        if minutes.len() == MINUTES {
            minutes.pop_front();
        }
        minutes.push_back(Minute {
            start,
            ..Minute::default()
        });
    }
    if let Some(minute) = minutes.back_mut() {
        f(minute);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_and_locks_are_bounded() {
        let h = History::default();
        let t0 = 1_795_429_500_000 - 1_795_429_500_000 % MINUTE_MS;
        for minute in 0..100u64 {
            h.waiting("db", 3, t0 + minute * MINUTE_MS);
            h.granted("db", 1_500, t0 + minute * MINUTE_MS + 10);
            h.granted("db", 500, t0 + minute * MINUTE_MS + 20);
        }
        let v = h.json(t0 + 99 * MINUTE_MS + 30);
        let db = v["locks"]["db"].as_array().expect("db");
        assert_eq!(db.len(), MINUTES);
        assert_eq!(db[59]["waiting"], 3);
        assert_eq!(db[59]["grants"], 2);
        assert_eq!(db[59]["waited_max"], 1.5);
        assert_eq!(db[59]["waited_avg"], 1.0);
        for i in 0..200u64 {
            h.granted(&format!("l{i}"), 0, t0 + 100 * MINUTE_MS + i);
        }
        assert_eq!(h.locks.lock().unwrap().len(), LOCKS);
    }
}
