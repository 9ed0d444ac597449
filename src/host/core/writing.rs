//! Grants being written: from the moment a grant is confirmed as its client's (`confirm`) until its
//! answer has been handed to the socket, its lease cannot run out, and a write that came late
//! restarts the lease from the write.
//!
//! The answer reports what is left of the lease as it is rendered, and the client counts from when it
//! reads it. A server paused between the confirmation and the write (SIGSTOP, a VM frozen by its
//! host, a box deep in swap) would, on waking, let its timer expire that lease and hand the lock on
//! while the answer goes out reporting the lease as it was before the pause: two holders. So while a
//! grant is being written, no command this server applies may pass its lease's end: a command that
//! would is preceded by an extension of that lease (`Op::Extend`, at a clock just short of its end,
//! journaled like any command so that the engine stays deterministic and its journal replays alike),
//! to count from the command's time as if the write ended then; and a write that ends later than
//! `LATE_WRITE_MS` after the confirmation extends the lease again to the end the client will count
//! to. The command itself keeps the present's clock: the clock is never held back, since a grant,
//! renewal or deadline made on a clock held back would count from before it was asked for (a lease
//! ending, by its client's count, early).
//!
//! What this cannot cover, written down in docs/api.md: with `--store`, another server's timer does
//! not know this server's writes (its answers are confirmed against the shared log instead); an answer
//! only partly taken by a client that does not read is finished later, its lease counted as reported
//! when the first part went; and a crash right after a late write, before the extension reached the
//! journal, restarts with the lease as it was before the pause.
use crate::engine::{Command, Millis, Op, Reply, RequestId};
use crate::timefmt;

use super::super::Waiter;
use super::{Claim, Core, Delivery, Inner};

/// A write that ends later than this after its grant's confirmation extends the lease: a client's
/// count of its lease may run this much past the server's before it is corrected.
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
    /// When it was confirmed.
    pub confirmed_at: Millis,
}

impl Write {
    /// Whether a write ending at `now` came late enough to extend the lease.
    pub fn late(&self, now: Millis) -> bool {
        now.saturating_sub(self.confirmed_at) > LATE_WRITE_MS
    }

    /// Where the lease must end for a write ending at `now`: as far past `now` as it was past the
    /// confirmation (no less than the answer, rendered after that, reported).
    pub fn until(&self, now: Millis) -> Millis {
        now.saturating_add(self.expires.saturating_sub(self.confirmed_at))
    }
}

/// The grants being written now: as many as threads writing them, so a short list.
#[derive(Debug, Default)]
pub struct Writing {
    writes: Vec<Write>,
    last: u64,
}

impl Writing {
    /// `request`'s grant, whose lease ends at `expires`, is being written, confirmed at `now`.
    pub fn start(&mut self, request: RequestId, expires: Millis, now: Millis) -> WriteId {
        self.last += 1;
        let id = WriteId(self.last);
        self.writes.push(Write {
            id,
            request,
            expires,
            confirmed_at: now,
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
    /// `claim`'s grant, confirmed at `now`, is about to be written: if it has a lease (and this
    /// server alone applies its commands), no command passes the lease's end until `written`.
    pub(super) fn start_write(
        &self,
        inner: &mut Inner<W>,
        claim: Claim,
        now: Millis,
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
        (expires > now).then(|| inner.writing.start(request, expires, now))
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
    /// extends its lease (see above), and says so on stderr. Returns what the expiries applied
    /// with the extension made due.
    pub fn written(&self, write: WriteId) -> Vec<Delivery<W>> {
        let now = timefmt::now_ms();
        let mut inner = self.inner();
        let mark = self.journal_mark();
        let (due, late) = self.written_at(&mut inner, write, now);
        self.sync_if_appended(inner, mark);
        if let Some(late) = late {
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
                    late_ms: now.saturating_sub(write.confirmed_at),
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

impl std::fmt::Display for LateWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the grant of {:?} (fence {}) was written {} ms after it was confirmed (this server was paused or overloaded); its lease counts from the write",
            self.resource, self.fence, self.late_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_ops::{
        Core, TestWaiter, conn, grab, holder_token, parked, queue_of_three, release, run,
    };
    use super::*;

    fn holder(inner: &Inner<TestWaiter>) -> String {
        holder_token(inner).unwrap_or_default()
    }

    /// Client 2's grant (lease 3 s, from t=2000), confirmed at t=2000 and being written.
    fn writing_client_2(core: &Core) -> (WriteId, RequestId) {
        let mut inner = core.inner();
        let c2 = conn(2);
        let request = queue_of_three(core, &mut inner, &c2, 3_000);
        let (_, mut due) = run(core, &mut inner, 2_000, release(1));
        let (ready, _) = core.confirm_at(&mut inner, due.remove(0), 2_000, None);
        (
            ready.write.expect("a grant with a lease is being written"),
            request,
        )
    }

    #[test]
    fn a_lease_being_written_outlasts_a_pause_and_counts_again_from_the_write() {
        let core = Core::default();
        let (write, request) = writing_client_2(&core);
        let mut inner = core.inner();
        // Paused between the confirmation and the write: the timer wakes at t=9000, past the lease.
        let (_, due) = run(&core, &mut inner, 9_000, Op::Tick);
        assert!(due.is_empty());
        assert_eq!(
            holder(&inner),
            "client 2",
            "not handed on while being written"
        );
        // The write ends at t=9000: the 3 s the answer reported count from there.
        let (_, late) = core.written_at(&mut inner, write, 9_000);
        let late = late.expect("said").to_string();
        assert!(
            late.contains("\"L\" (fence 2) was written 7000 ms after"),
            "{late}"
        );
        let grant = inner.engine.grant_of(request).expect("still held");
        assert_eq!(grant.expires, Some(12_000));
        assert_eq!(grant.ttl_ms, Some(3_000), "the lease's length is unchanged");
        run(&core, &mut inner, 11_999, Op::Tick);
        assert_eq!(holder(&inner), "client 2");
        run(&core, &mut inner, 12_000, Op::Tick);
        assert_eq!(holder(&inner), "client 3", "then it ends, as any lease");
        let (due, late) = core.written_at(&mut inner, write, 12_001);
        assert!(due.is_empty() && late.is_none(), "a write ends once");
    }

    #[test]
    fn a_write_in_time_leaves_the_lease_as_it_was() {
        let core = Core::default();
        let (write, request) = writing_client_2(&core);
        let mut inner = core.inner();
        let (_, late) = core.written_at(&mut inner, write, 2_000 + LATE_WRITE_MS);
        assert_eq!(late, None);
        let grant = inner.engine.grant_of(request).expect("still held");
        assert_eq!(grant.expires, Some(5_000));
        run(&core, &mut inner, 5_000, Op::Tick);
        assert_eq!(holder(&inner), "client 3");
    }

    #[test]
    fn a_write_keeps_its_lease_under_every_command_not_only_ticks() {
        let core = Core::default();
        let (write, request) = writing_client_2(&core);
        let mut inner = core.inner();
        // Another client's grab at t=9000 (a command like any) does not end the lease either: it
        // is extended first, to count from then.
        let (reply, _) = run(&core, &mut inner, 9_000, grab(4, None));
        assert!(matches!(reply, Reply::Queued { .. }), "{reply:?}");
        assert_eq!(holder(&inner), "client 2");
        assert_eq!(inner.engine.clock(), 9_000, "the clock is not held back");
        assert_eq!(
            inner.engine.grant_of(request).and_then(|g| g.expires),
            Some(12_000)
        );
        core.written_at(&mut inner, write, 9_000);
        assert_eq!(
            inner.engine.grant_of(request).and_then(|g| g.expires),
            Some(12_000)
        );
    }

    #[test]
    fn a_grant_made_while_a_lease_is_being_written_late_counts_from_the_present() {
        let core = Core::default();
        let (write, _) = writing_client_2(&core);
        let mut inner = core.inner();
        // Paused past client 2's lease (it ended at t=5000) while its answer was being written; on
        // resume, at t=9000, client 4 takes another lock with a lease of 3 s,.
        let op = match grab(4, Some(3_000)) {
            Op::Acquire(acquire) => Op::Acquire(crate::engine::Acquire {
                resource: "M".to_string(),
                wait: crate::engine::Wait::No,
                ..acquire
            }),
            other => other,
        };
        let grant = match run(&core, &mut inner, 9_000, op).0 {
            Reply::Granted { grant, .. } => grant,
            other => panic!("M is free: {other:?}"),
        };
        // Its lease counts from its grant, now: a clock held back to t=4999 would end it at t=7999,
        // already past, and client 4 (told it holds M for 3 s) would share M with the next taker.
        assert_eq!((grant.since, grant.expires), (9_000, Some(12_000)));
        core.written_at(&mut inner, write, 9_000);
        run(&core, &mut inner, 11_999, Op::Tick);
        assert!(
            inner.engine.grant_of(grant.request).is_some(),
            "M still held"
        );
    }

    #[test]
    fn a_grant_without_a_lease_holds_nothing_back() {
        let core = Core::default();
        let mut inner = core.inner();
        let c2 = conn(2);
        run(&core, &mut inner, 1_000, grab(1, None));
        let request = match run(&core, &mut inner, 1_001, grab(2, None)).0 {
            Reply::Queued { request, .. } => request,
            other => panic!("client 2 should wait: {other:?}"),
        };
        inner.parked.insert(request, parked(&c2));
        let (_, mut due) = run(&core, &mut inner, 2_000, release(1));
        let (ready, _) = core.confirm_at(&mut inner, due.remove(0), 2_000, None);
        assert!(ready.write.is_none());
        assert!(inner.writing.is_empty());
    }

    #[test]
    fn leases_being_written_are_kept_earliest_end_first() {
        let core = Core::default();
        let (first, request) = writing_client_2(&core);
        let mut inner = core.inner();
        // Another grant being written, on M, whose lease (1 s from t=2000) ends before client 2's.
        let op = match grab(4, Some(1_000)) {
            Op::Acquire(acquire) => Op::Acquire(crate::engine::Acquire {
                resource: "M".to_string(),
                wait: crate::engine::Wait::No,
                ..acquire
            }),
            other => other,
        };
        let other = match run(&core, &mut inner, 2_000, op).0 {
            Reply::Granted { grant, .. } => grant.request,
            other => panic!("M is free: {other:?}"),
        };
        let second = core.start_write(&mut inner, Claim::Request(other), 2_000);
        let second = second.expect("a grant with a lease is being written");
        run(&core, &mut inner, 9_000, Op::Tick);
        let expires = |r| inner.engine.grant_of(r).and_then(|g| g.expires);
        assert_eq!(
            (expires(request), expires(other)),
            (Some(12_000), Some(10_000))
        );
        assert!(core.written_at(&mut inner, second, 9_000).1.is_some());
        assert!(core.written_at(&mut inner, first, 9_000).1.is_some());
        assert!(inner.writing.is_empty());
        assert!(!inner.writing.end(first), "a write ends once");
    }

    #[test]
    fn a_late_write_restarts_the_lease_from_the_write() {
        let mut writing = Writing::default();
        let id = writing.start(RequestId(7), 3_000, 1_000);
        let write = writing.get(id).expect("in progress");
        assert!(!write.late(1_000 + LATE_WRITE_MS));
        assert!(write.late(1_001 + LATE_WRITE_MS));
        assert_eq!(write.until(4_600), 6_600, "2 s left at the confirmation");
    }
}
