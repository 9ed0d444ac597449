//! The event log: one line on stderr per state change (`changes::Kind`), human by default, one JSON
//! object a line with `serve --log-format json`, none with `off`.
//!
//! Records are made under the engine's lock (so lines come in the engine's order) and handed to a
//! writer thread through a bounded channel; the thread formats them and writes what has arrived with
//! one write. So a slow or stopped reader of stderr never holds the engine: when the channel is full,
//! records are dropped and counted (`weblock_log_lines_dropped_total`), and the writer says how many
//! once it catches up. A closed stderr is ignored: logging never takes the server down.
//!
//! Nothing secret is logged: a record has no field for a token, and ticket ids are not secret (the
//! gatekeeper's queues show them).
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use serde_json::{Map, Value, json};

use super::kind::Kind;
use crate::engine::Millis;
use crate::timefmt;

/// Records that may wait for the writer before new ones are dropped.
const BACKLOG: usize = 16 * 1024;
/// Records written with one write, at most.
const BATCH: usize = 512;

/// `serve --log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Human,
    Json,
    Off,
}

/// One change, as logged.
#[derive(Debug, Clone)]
pub struct Record {
    pub at: Millis,
    pub kind: Kind,
    /// The lock, the gate (`service:env`), the ticket id, or the service.
    pub resource: String,
    /// Its holder text (a waiter's, for a timeout or cancel).
    pub holder: Option<String>,
    pub fence: Option<u64>,
    /// How long it waited: before a grant, or before it gave up.
    pub waited_ms: Option<u64>,
    pub detail: Detail,
}

#[derive(Debug, Clone, Default)]
pub enum Detail {
    #[default]
    None,
    /// A gate's message.
    Message(String),
    /// A ticket's (or a new service's) gates: the first `GATES_LOGGED`, and how many more.
    Gates(Vec<String>, usize),
}

/// Gates named in one record, at most: a service may have 100,000, and a record waiting for a slow
/// stderr must stay small (`BACKLOG` of them may wait).
pub const GATES_LOGGED: usize = 16;

impl Detail {
    pub fn gates(all: impl IntoIterator<Item = String>) -> Detail {
        let mut all = all.into_iter();
        let named: Vec<String> = all.by_ref().take(GATES_LOGGED).collect();
        Detail::Gates(named, all.count())
    }
}

impl Default for Record {
    fn default() -> Record {
        Record {
            at: 0,
            kind: Kind::Grant,
            resource: String::new(),
            holder: None,
            fence: None,
            waited_ms: None,
            detail: Detail::None,
        }
    }
}

/// The sending end, kept by the engine's observer.
pub struct EventLog {
    tx: SyncSender<Record>,
    dropped: Arc<AtomicU64>,
}

impl EventLog {
    /// Starts the writer thread; `None` for `LogFormat::Off`. `dropped` counts records the writer
    /// could not keep up with.
    pub fn start(format: LogFormat, dropped: Arc<AtomicU64>) -> std::io::Result<Option<EventLog>> {
        if format == LogFormat::Off {
            return Ok(None);
        }
        let (tx, rx) = mpsc::sync_channel(BACKLOG);
        let seen = dropped.clone();
        std::thread::Builder::new()
            .name("event-log".into())
            .stack_size(256 * 1024)
            .spawn(move || write_loop(format, &rx, &seen))?;
        Ok(Some(EventLog { tx, dropped }))
    }

    /// Never blocks: a record the writer has no room for is dropped and counted.
    pub fn send(&self, record: Record) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(record) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn write_loop(format: LogFormat, rx: &Receiver<Record>, dropped: &AtomicU64) {
    let mut reported = 0;
    let mut out = Vec::with_capacity(64 * 1024);
    while let Ok(first) = rx.recv() {
        out.clear();
        let now_dropped = dropped.load(Ordering::Relaxed);
        if now_dropped > reported {
            let _ = writeln!(
                out,
                "weblock: {} log lines dropped: stderr is read too slowly",
                now_dropped - reported
            );
            reported = now_dropped;
        }
        line(format, &first, &mut out);
        for record in rx.try_iter().take(BATCH - 1) {
            line(format, &record, &mut out);
        }
        // Not `eprintln!`, which panics when stderr is closed.
        let _ = std::io::stderr().lock().write_all(&out);
    }
}

/// Appends `record`'s line to `out`.
pub fn line(format: LogFormat, record: &Record, out: &mut Vec<u8>) {
    match format {
        LogFormat::Json => {
            let _ = serde_json::to_writer(&mut *out, &json_line(record));
            out.push(b'\n');
        }
        _ => {
            write_human(record, out);
            out.push(b'\n');
        }
    }
}

/// `2026-11-23T10:15:02.123Z grant db to "alice@build3 pid 42" fence 17 (waited 2.3s)`. Free text is
/// quoted with escapes, so a line is always one line.
pub fn human_line(record: &Record) -> String {
    let mut out = Vec::new();
    write_human(record, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Written straight into the batch (no string per piece): the writer formats tens of thousands of
/// lines a second under load.
fn write_human(r: &Record, out: &mut Vec<u8>) {
    let _ = write!(
        out,
        "{} {} {}",
        timefmt::rfc3339(r.at),
        r.kind.name(),
        r.resource
    );
    if let Some(h) = &r.holder {
        let _ = match r.kind {
            Kind::Grant => write!(out, " to {h:?}"),
            Kind::Release | Kind::Expiry | Kind::Delete => write!(out, " held by {h:?}"),
            Kind::Timeout | Kind::Cancel => write!(out, " waiter {h:?}"),
            _ => Ok(()),
        };
    }
    if let Some(fence) = r.fence {
        let _ = write!(out, " fence {fence}");
    }
    let _ = match &r.detail {
        Detail::Message(m) if !m.is_empty() => write!(out, " message {m:?}"),
        Detail::Gates(gates, 0) => write!(out, " gates {}", gates.join(",")),
        Detail::Gates(gates, more) => write!(out, " gates {} and {more} more", gates.join(",")),
        _ => Ok(()),
    };
    if let Some(waited) = r.waited_ms {
        let _ = write!(out, " (waited {})", seconds_text(waited));
    }
}

/// `{"ts": …, "event": "grant", "resource": "db", "holder": …, "fence": 17, "waited": 2.3}`: only the
/// fields the change has.
pub fn json_line(r: &Record) -> Value {
    let mut m = Map::new();
    m.insert("ts".into(), timefmt::rfc3339(r.at).into());
    m.insert("event".into(), r.kind.name().into());
    m.insert("resource".into(), r.resource.clone().into());
    if let Some(holder) = &r.holder {
        m.insert("holder".into(), holder.clone().into());
    }
    if let Some(fence) = r.fence {
        m.insert("fence".into(), fence.into());
    }
    if let Some(waited) = r.waited_ms {
        m.insert("waited".into(), json!(waited as f64 / 1000.0));
    }
    match &r.detail {
        Detail::None => {}
        Detail::Message(message) => {
            m.insert("message".into(), message.clone().into());
        }
        Detail::Gates(gates, more) => {
            m.insert("gates".into(), gates.clone().into());
            if *more > 0 {
                m.insert("gates_more".into(), (*more).into());
            }
        }
    }
    Value::Object(m)
}

/// `2.3s`, `45ms`, `3m12s`.
fn seconds_text(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Record {
        Record {
            at: 1_795_429_502_123,
            kind: Kind::Grant,
            resource: "db".into(),
            holder: Some("alice@build3 pid 42".into()),
            fence: Some(17),
            waited_ms: Some(2_300),
            detail: Detail::None,
        }
    }

    #[test]
    fn a_grant_reads_as_a_sentence() {
        assert_eq!(
            human_line(&grant()),
            "2026-11-23T10:25:02.123Z grant db to \"alice@build3 pid 42\" fence 17 (waited 2.3s)"
        );
    }

    #[test]
    fn free_text_cannot_break_a_line() {
        let mut r = grant();
        r.holder = Some("evil\nfake line".into());
        let mut out = Vec::new();
        line(LogFormat::Human, &r, &mut out);
        line(LogFormat::Json, &r, &mut out);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 2);
    }

    #[test]
    fn json_has_only_the_fields_the_change_has() {
        let v = json_line(&grant());
        assert_eq!(v["event"], "grant");
        assert_eq!(v["fence"], 17);
        assert_eq!(v["waited"], 2.3);
        let gate = Record {
            kind: Kind::GateClosed,
            resource: "shop:live".into(),
            detail: Detail::Message("testing. -Jens".into()),
            ..Record::default()
        };
        let v = json_line(&gate);
        assert_eq!(v["message"], "testing. -Jens");
        assert!(v.get("holder").is_none() && v.get("fence").is_none(), "{v}");
    }

    /// A record waits in memory while stderr is slow: a service of 100,000 gates must not make it
    /// megabytes (16,384 of them may wait).
    #[test]
    fn a_record_names_a_bounded_number_of_gates() {
        let r = Record {
            kind: Kind::ServiceCreated,
            resource: "big".into(),
            detail: Detail::gates((0..100_000).map(|i| format!("g{i}"))),
            ..Record::default()
        };
        let Detail::Gates(named, more) = &r.detail else {
            panic!("{r:?}")
        };
        assert_eq!((named.len(), *more), (GATES_LOGGED, 100_000 - GATES_LOGGED));
        assert!(
            human_line(&r).ends_with(",g15 and 99984 more"),
            "{}",
            human_line(&r)
        );
        assert_eq!(json_line(&r)["gates_more"], 99_984);
        let small = Detail::gates(["a:b".to_string()]);
        assert!(matches!(&small, Detail::Gates(g, 0) if g == &["a:b"]));
    }

    #[test]
    fn waits_read_in_the_unit_that_fits() {
        assert_eq!(seconds_text(45), "45ms");
        assert_eq!(seconds_text(2_340), "2.3s");
        assert_eq!(seconds_text(192_000), "3m12s");
    }
}
