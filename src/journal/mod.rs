//! The durable journal behind `weblock serve --state FILE`: every engine command, appended and synced
//! before any client hears of its effect; replayed at start-up; compacted into a snapshot so it does
//! not grow without bound.
//!
//! **Group commit.** Commands are appended to an in-memory batch under the engine's lock (so the
//! journal's order is the engine's order), each getting a sequence number. One writer thread writes the
//! whole batch and syncs it once; every thread that must answer a client waits until the batch holding
//! what it answers is synced. Many concurrent clients share one fsync: durability costs latency, not
//! throughput.
//!
//! **Damage.** A torn last line (a crash mid-write) is dropped with a warning: nobody was answered on
//! it. A bad line before the tail stops the server with a clear message rather than silently losing
//! state. A second server on the same file is refused at once (an exclusive lock on `FILE.lock`).
mod record;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::engine::{Command, Engine};
pub use record::{Record, crc32};

/// Commands appended since the last snapshot before the journal is compacted again.
pub const COMPACT_EVERY: u64 = 100_000;
/// After a compaction failed (out of file descriptors, say), commands appended before it is tried again.
const COMPACT_RETRY_AFTER: u64 = 1_000;

pub struct Journal {
    path: PathBuf,
    state: Mutex<State>,
    /// The writer waits here for work; appenders wait here for durability.
    work: Condvar,
    synced: Condvar,
    /// Held for the process's life: the exclusive lock on `FILE.lock`.
    _lock: File,
    /// Syncs of the journal file so far (each makes a batch durable): for `/metrics`.
    syncs: AtomicU64,
}

struct State {
    /// Lines appended and not yet handed to the writer.
    pending: Vec<u8>,
    /// A snapshot line that replaces everything before it (compaction), if one is due.
    compact: Option<Vec<u8>>,
    /// The sequence number of the last line appended, and of the last one synced.
    appended: u64,
    synced: u64,
    since_snapshot: u64,
}

/// What start-up found.
pub struct Loaded {
    pub engine: Engine,
    pub commands: u64,
    /// Set when a torn last record was dropped.
    pub torn: Option<String>,
}

impl Journal {
    /// Opens (or creates) the journal at `path`, replays it, and starts its writer. Refuses a file that
    /// another server holds, or one damaged before its tail.
    pub fn open(path: &Path) -> Result<(Arc<Journal>, Loaded), String> {
        let lock_path = sibling(path, "lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            return Err(format!(
                "{} is in use by another weblock serve (it holds {}); run only one server per state file",
                path.display(),
                lock_path.display()
            ));
        }
        let loaded = load(path)?;
        // Start from a compacted file: one snapshot line, synced, then append to it.
        let file = write_compacted(
            path,
            &record::encode(&Record::Snapshot(loaded.engine.snapshot())),
            &[],
        )?;
        let journal = Arc::new(Journal {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                pending: Vec::new(),
                compact: None,
                appended: 0,
                synced: 0,
                since_snapshot: 0,
            }),
            work: Condvar::new(),
            synced: Condvar::new(),
            _lock: lock,
            syncs: AtomicU64::new(0),
        });
        let writer = journal.clone();
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || writer.write_loop(file))
            .map_err(|e| format!("cannot start the journal writer: {e}"))?;
        Ok((journal, loaded))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `command` (call under the engine's lock, in the engine's order); returns its number, and
    /// whether a compaction is due (the caller then hands a snapshot to `compact`).
    pub fn append(&self, command: &Command) -> (u64, bool) {
        let line = record::encode(&Record::Command(command.clone()));
        let mut st = self.state();
        st.pending.extend_from_slice(&line);
        st.appended += 1;
        st.since_snapshot += 1;
        let due = st.since_snapshot >= COMPACT_EVERY;
        self.work.notify_one();
        (st.appended, due)
    }

    /// Replaces everything appended so far with `engine`'s snapshot (call under the engine's lock,
    /// right after the append that made it due, so the snapshot is the state after that command).
    pub fn compact(&self, engine: &Engine) {
        let line = record::encode(&Record::Snapshot(engine.snapshot()));
        let mut st = self.state();
        st.pending.clear();
        st.compact = Some(line);
        st.since_snapshot = 0;
        self.work.notify_one();
    }

    /// The number of the last command appended.
    pub fn appended(&self) -> u64 {
        self.state().appended
    }

    /// How many times the writer synced the journal (a batch of commands, or a compaction).
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Blocks until command `seq` (and every one before it) is on disk.
    pub fn wait_synced(&self, seq: u64) {
        let mut st = self.state();
        while st.synced < seq {
            st = self.synced.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn write_loop(&self, mut file: File) {
        loop {
            let (pending, compact, upto) = {
                let mut st = self.state();
                while st.pending.is_empty() && st.compact.is_none() {
                    st = self.work.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                (
                    std::mem::take(&mut st.pending),
                    st.compact.take(),
                    st.appended,
                )
            };
            let written = match compact {
                Some(snapshot) => match write_compacted(&self.path, &snapshot, &pending) {
                    Ok(compacted) => {
                        file = compacted;
                        Ok(())
                    }
                    // The old journal is untouched (the rename is the last step, and atomic). Rather
                    // than stop — a server out of file descriptors must keep serving — the snapshot
                    // goes into the open journal (replay takes a snapshot line anywhere as the new
                    // state), and compaction is tried again later.
                    Err(e) => {
                        warn!(
                            "weblock: cannot compact the state file ({e}); appending a snapshot to it instead, and trying again later"
                        );
                        self.state().since_snapshot = COMPACT_EVERY - COMPACT_RETRY_AFTER;
                        append_synced(&mut file, &[&snapshot, &pending])
                    }
                },
                None => append_synced(&mut file, &[&pending]),
            };
            if let Err(e) = written {
                // Nothing may be answered that is not on disk: a server that cannot write its state
                // must stop, not carry on forgetting. Its clients retry elsewhere or after a restart.
                warn!(
                    "weblock: cannot write the state file {}: {e}; stopping",
                    self.path.display()
                );
                std::process::exit(70);
            }
            self.syncs.fetch_add(1, Ordering::Relaxed);
            let mut st = self.state();
            st.synced = upto;
            self.synced.notify_all();
        }
    }
}

/// `FILE.ext` next to `FILE`.
fn sibling(path: &Path, ext: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

/// Writes `parts` at the end of the journal and syncs them.
fn append_synced(file: &mut File, parts: &[&[u8]]) -> Result<(), String> {
    parts
        .iter()
        .try_for_each(|part| file.write_all(part))
        .and_then(|()| file.sync_data())
        .map_err(|e| e.to_string())
}

/// Writes `snapshot` and then `lines` as the whole journal, atomically: a temporary file, synced,
/// renamed over the old one, and the directory synced so the rename itself survives a crash. Returns
/// the new journal, open for appending (the temporary file's own descriptor: no new one is needed
/// after the rename). On error the old journal is as it was.
fn write_compacted(path: &Path, snapshot: &[u8], lines: &[u8]) -> Result<File, String> {
    let tmp = sibling(path, "tmp");
    // The journal holds every holder's secret token: readable by its owner alone.
    let result = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(snapshot)?;
            f.write_all(lines)?;
            f.sync_all()?;
            fs::rename(&tmp, path)?;
            Ok(f)
        });
    let file = result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })?;
    if let Ok(d) = File::open(directory_of(path)) {
        let _ = d.sync_all();
    }
    Ok(file)
}

/// The directory that holds `path`'s entry: `.` for a bare file name (`--state state`), whose rename
/// must be synced like any other.
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Replays the journal at `path` (none yet: an empty engine).
fn load(path: &Path) -> Result<Loaded, String> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
    }
    replay(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Replays journal bytes: a torn last line is dropped (with a note), damage before it is an error.
pub fn replay(bytes: &[u8]) -> Result<Loaded, String> {
    let mut engine = Engine::new();
    let mut commands = 0;
    let mut torn = None;
    let mut at = 0;
    let mut line_no = 0;
    while at < bytes.len() {
        line_no += 1;
        let rest = &bytes[at..];
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..end], at + end + 1),
            None => (rest, bytes.len()),
        };
        let complete = next < bytes.len() || rest.ends_with(b"\n");
        let decoded = if complete {
            record::decode(line)
        } else {
            Err("cut short (no line end)".to_string())
        };
        match decoded {
            Ok(Record::Snapshot(snapshot)) => {
                engine = Engine::restore(snapshot)
                    .map_err(|e| format!("record {line_no}: bad snapshot: {e}"))?;
            }
            Ok(Record::Command(command)) => {
                engine.apply(command);
                commands += 1;
            }
            // Torn: the last line, cut short of its line end (or the zeros a file system leaves where
            // a write did not land). A *complete* last line that is bad was written whole, and its
            // client may have been answered: that is damage like any other.
            Err(why) if next >= bytes.len() && (!complete || line.iter().all(|&b| b == 0)) => {
                torn = Some(format!(
                    "dropped a torn last record (line {line_no}, {} bytes: {why}); it was never acknowledged",
                    line.len()
                ));
                break;
            }
            Err(why) => {
                return Err(format!(
                    "damaged record at line {line_no} (byte {at}): {why}; refusing to start rather than lose state (restore the file from a backup, or move it aside to start empty)"
                ));
            }
        }
        at = next;
    }
    Ok(Loaded {
        engine,
        commands,
        torn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Acquire, Mode, Op, Wait};

    fn grab(now: u64, name: &str, token: u128) -> Command {
        Command {
            now,
            op: Op::Acquire(Acquire {
                resource: name.into(),
                token: uuid::Uuid::from_u128(token),
                holder: "t".into(),
                ttl_ms: None,
                wait: Wait::No,
                grace_ms: None,
                meta: None,
                slots: None,
                mode: Mode::Exclusive,
                handles: None,
            }),
        }
    }

    fn journal_of(commands: &[Command]) -> Vec<u8> {
        commands
            .iter()
            .flat_map(|c| record::encode(&Record::Command(c.clone())))
            .collect()
    }

    #[test]
    fn replay_rebuilds_the_state() {
        let cmds = [grab(1, "a", 1), grab(2, "b", 2)];
        let loaded = replay(&journal_of(&cmds)).unwrap();
        assert_eq!(loaded.commands, 2);
        assert!(loaded.torn.is_none());
        let mut engine = Engine::new();
        for c in cmds {
            engine.apply(c);
        }
        assert_eq!(loaded.engine, engine);
    }

    #[test]
    fn a_torn_tail_is_dropped_and_damage_before_it_refused() {
        let bytes = journal_of(&[grab(1, "a", 1), grab(2, "b", 2)]);
        let torn = &bytes[..bytes.len() - 7];
        let loaded = replay(torn).unwrap();
        assert_eq!(loaded.commands, 1);
        assert!(loaded.torn.is_some());

        let mut damaged = bytes.clone();
        damaged[12] ^= 0x20;
        let err = replay(&damaged).err().unwrap_or_default();
        assert!(err.contains("damaged record at line 1"), "{err}");
    }

    #[test]
    fn a_complete_last_line_that_is_bad_is_damage_not_a_torn_write() {
        let mut bytes = journal_of(&[grab(1, "a", 1), grab(2, "b", 2)]);
        let middle = bytes.len() - 20;
        bytes[middle] ^= 0x20;
        let err = replay(&bytes).err().unwrap_or_default();
        assert!(err.contains("damaged record at line 2"), "{err}");
    }

    #[test]
    fn a_snapshot_line_replaces_what_came_before() {
        let mut engine = Engine::new();
        engine.apply(grab(1, "a", 1));
        let mut bytes = record::encode(&Record::Snapshot(engine.snapshot()));
        bytes.extend(journal_of(&[grab(2, "b", 2)]));
        let loaded = replay(&bytes).unwrap();
        engine.apply(grab(2, "b", 2));
        assert_eq!(loaded.engine, engine);
    }

    /// A compaction that cannot write its temporary file (here a directory stands in its way; in real
    /// life, no file descriptor left) must neither stop the server nor lose a command: the snapshot
    /// goes into the open journal instead, and the next compaction, once possible, works.
    #[test]
    fn a_failed_compaction_loses_nothing_and_is_tried_again() {
        let dir = std::env::temp_dir().join(format!("weblock-journal-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state");
        let (journal, _) = Journal::open(&path).unwrap();
        let mut engine = Engine::new();
        let apply = |journal: &Journal, engine: &mut Engine, command: Command| {
            let (seq, _) = journal.append(&command);
            engine.apply(command);
            seq
        };
        apply(&journal, &mut engine, grab(1, "a", 1));
        let blocker = sibling(&path, "tmp");
        fs::create_dir(&blocker).unwrap();
        journal.compact(&engine);
        let seq = apply(&journal, &mut engine, grab(2, "b", 2));
        journal.wait_synced(seq);
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.engine, engine, "state after the failed compaction");
        assert!(
            journal.state().since_snapshot >= COMPACT_EVERY - COMPACT_RETRY_AFTER,
            "a retry is scheduled soon"
        );

        fs::remove_dir(&blocker).unwrap();
        journal.compact(&engine);
        let seq = apply(&journal, &mut engine, grab(3, "c", 3));
        journal.wait_synced(seq);
        let bytes = fs::read(&path).unwrap();
        assert_eq!(
            bytes.iter().filter(|&&b| b == b'\n').count(),
            2,
            "compacted again: one snapshot line and one command"
        );
        assert_eq!(load(&path).unwrap().engine, engine);
        let _ = fs::remove_dir_all(&dir);
    }

    /// The rename that replaces the journal is made durable by syncing its directory: for a bare file
    /// name that is the working directory, not none (a power cut would bring back the old journal,
    /// without the commands acknowledged since).
    #[test]
    fn the_directory_synced_after_a_rename_is_never_none() {
        assert_eq!(directory_of(Path::new("state")), Path::new("."));
        assert_eq!(
            directory_of(Path::new("/var/lib/weblock/state")),
            Path::new("/var/lib/weblock")
        );
        assert_eq!(directory_of(Path::new("lib/state")), Path::new("lib"));
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    [b'a', b'0', b' ', b'{', b'}', b'\n', b'"', (x >> 11) as u8][(x % 8) as usize]
                })
                .collect();
            let _ = replay(&bytes);
        }
    }
}
