//! Grants being written: from the moment a grant is confirmed as its client's (`confirm`) until its
//! answer has been handed to the socket, its lease cannot run out, and a write that came late
//! restarts the lease from the write. A renewal's answer reports its lease too, and is written the
//! same way.
//!
//! The answer reports what is left of the lease as it is rendered, and the client counts from when
//! it reads it. A server paused between the confirmation and the write (SIGSTOP, a VM frozen by its
//! host, a box deep in swap) would, on waking, let its timer expire that lease and hand the lock on
//! while the answer goes out reporting the lease as it was before the pause: two holders. So while
//! a grant is being written, no command this server applies may pass its lease's end: a command
//! that would is preceded by an extension of that lease (`Op::Extend`, at a clock just short of its
//! end, journaled like any command so that the engine stays deterministic and its journal replays
//! alike), to count from the command's time as if the write ended then; and a write that ends later
//! than `LATE_WRITE_MS` after the answer's lease was read (`Write::reported_at`) extends the lease
//! again to the end the client will count to. The command itself keeps the present's clock: the
//! clock is never held back, since a grant, renewal or deadline made on a clock held back would
//! count from before it was asked for (a lease ending, by its client's count, early).
//!
//! What this cannot cover, written down in docs/api.md: with `--store`, another server's timer does
//! not know this server's writes (its answers are confirmed against the shared log instead); an
//! answer only partly taken by a client that does not read is finished later, its lease counted as
//! reported when the first part went; and a crash right after a late write, before the extension
//! reached the journal, restarts with the lease as it was before the pause.
use crate::engine::{Command, Millis, Op, Reply, RequestId};
use crate::timefmt;

use super::super::Waiter;
use super::{Claim, Core, Delivery, Inner};

/// A write that ends later than this after its answer's lease was read extends the lease: a
/// client's count of its lease may run this much past the server's before it is corrected.
pub const LATE_WRITE_MS: u64 = 50;

/// Which write a grant's answer is in (`Core::written` ends it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteId(u64);

impl WriteId {
    /// As the transport carries it (`Response::mark`).
    pub fn number(self) -> u64 {
        self.0
    }

    pub fn from_number(number: u64) -> WriteId {
        WriteId(number)
    }
}

/// One grant being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Write {
    id: WriteId,
    pub request: RequestId,
    /// When its lease ends, as confirmed.
    pub expires: Millis,
    /// When the lease its answer reports was read (when it was confirmed, or for an answer rendered
    /// before that, when it was rendered): the answer reports no more than `expires` less this.
    pub reported_at: Millis,
}

impl Write {
    /// Whether a write ending at `now` came late enough to extend the lease.
    pub fn late(&self, now: Millis) -> bool {
        now.saturating_sub(self.reported_at) > LATE_WRITE_MS
    }

    /// Where the lease must end for a write ending at `now`: as far past `now` as it was past the
    /// confirmation (no less than the answer, rendered after that, reported).
    pub fn until(&self, now: Millis) -> Millis {
        now.saturating_add(self.expires.saturating_sub(self.reported_at))
    }
}

/// The grants being written now: as many as threads writing them, so a short list.
#[derive(Debug, Default)]
pub struct Writing {
    writes: Vec<Write>,
    last: u64,
}

impl Writing {
    /// `request`'s grant, whose lease ends at `expires`, is being written, its answer reporting the
    /// lease as it was at `reported_at`.
    pub fn start(&mut self, request: RequestId, expires: Millis, reported_at: Millis) -> WriteId {
        self.last += 1;
        let id = WriteId(self.last);
        self.writes.push(Write {
            id,
            request,
            expires,
            reported_at,
        });
        id
    }

    /// The write `id`, if it has not ended.
    pub fn get(&self, id: WriteId) -> Option<Write> {
        self.writes.iter().find(|w| w.id == id).copied()
    }

    /// Ends the write `id`; whether it was in progress.
    pub fn end(&mut self, id: WriteId) -> bool {
        let before = self.writes.len();
        self.writes.retain(|w| w.id != id);
        self.writes.len() != before
    }

    /// The writes in progress, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Write> {
        self.writes.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

impl<W: Waiter> Core<W> {
    /// `claim`'s grant, confirmed at `now`, is about to be written, its answer reporting the lease
    /// as it was at `reported_at` or later: if it has a lease (and this server alone applies its
    /// commands), no command passes the lease's end until `written`.
    pub(super) fn start_write(
        &self,
        inner: &mut Inner<W>,
        claim: Claim,
        now: Millis,
        reported_at: Millis,
    ) -> Option<WriteId> {
        let Claim::Request(request) = claim else {
            return None;
        };
        if self.store.replica().is_some() {
            return None;
        }
        let grant = inner.engine.grant_of(request)?;
        let expires = grant.expires.filter(|_| grant.ttl_ms.is_some())?;
        let now = now.max(inner.engine.clock());
        (expires > now).then(|| inner.writing.start(request, expires, reported_at.min(now)))
    }

    /// Before a command at `now`: each lease being written that would end by then is extended to
    /// count from `now` (see above), earliest end first, each at a clock just short of its end, so
    /// that none ends under the command or under another's extension. Returns what the expiries
    /// the extensions applied (others' leases, deadlines) made due.
    pub(super) fn keep_leases_being_written(
        &self,
        inner: &mut Inner<W>,
        now: Millis,
    ) -> Vec<Delivery<W>> {
        if inner.writing.is_empty() {
            return Vec::new();
        }
        let mut overdue: Vec<(Millis, Op)> = inner
            .writing
            .iter()
            .filter_map(|write| {
                let expires = inner.engine.grant_of(write.request)?.expires?;
                let op = Op::Extend {
                    request: write.request,
                    until: write.until(now),
                };
                (expires <= now).then_some((expires, op))
            })
            .collect();
        overdue.sort_by_key(|(expires, _)| *expires);
        let mut due = Vec::new();
        for (expires, op) in overdue {
            let now = expires.saturating_sub(1);
            due.extend(self.run_settled(inner, Command { now, op }).1);
        }
        due
    }

    /// The answer in `write` was handed to the socket (or could not be): a write that came late
    /// extends its lease (see above), and says so on stderr if at least `SAID_LATE_MS` late.
    /// Returns what the expiries applied with the extension made due; they are synced before they
    /// are written, as every delivery is. The extension itself is not waited for: it goes to disk
    /// with the next sync.
    pub fn written(&self, write: WriteId) -> Vec<Delivery<W>> {
        let now = timefmt::now_ms();
        let (due, late) = self.written_at(&mut self.inner(), write, now);
        if let Some(late) = late.filter(LateWrite::worth_saying) {
            warn!("weblock: {late}");
        }
        due
    }

    /// `written` at `now` (time passed in); with the extension made, if the write was late.
    pub(super) fn written_at(
        &self,
        inner: &mut Inner<W>,
        id: WriteId,
        now: Millis,
    ) -> (Vec<Delivery<W>>, Option<LateWrite>) {
        let Some(write) = inner.writing.get(id) else {
            return (Vec::new(), None);
        };
        let mut done = (Vec::new(), None);
        if write.late(now) {
            // Applied while the write is still in progress, so its lease cannot end first.
            let op = Op::Extend {
                request: write.request,
                until: write.until(now),
            };
            let (reply, due) = self.run_command(inner, Command { now, op });
            let late = match reply {
                Reply::Renewed { grant } => Some(LateWrite {
                    resource: grant.resource,
                    fence: grant.fence,
                    late_ms: now.saturating_sub(write.reported_at),
                }),
                _ => None,
            };
            done = (due, late);
        }
        inner.writing.end(id);
        done
    }
}

/// A grant's answer written late, and its lease extended for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateWrite {
    resource: String,
    fence: u64,
    late_ms: u64,
}

/// A write at least this late says so on stderr. A shorter delay is extended silently: a journal
/// whose syncs take tens of milliseconds makes most answers that late, and a line for each would
/// bury the ones that tell of a pause.
pub const SAID_LATE_MS: u64 = 1_000;

impl LateWrite {
    fn worth_saying(&self) -> bool {
        self.late_ms >= SAID_LATE_MS
    }
}

impl std::fmt::Display for LateWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the grant of {:?} (fence {}) was written {} ms late (this server was paused or overloaded); its lease counts from the write",
            self.resource, self.fence, self.late_ms
        )
    }
}

#[cfg(test)]
mod tests;
