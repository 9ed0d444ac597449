//! The moment of writing a grant: the one place that decides whether it is still its client's.
//!
//! A grant is made under the engine lock and written later: after the journal's sync, after the
//! connection's lock is taken. A process paused in between (SIGSTOP, a VM frozen by its host, a box
//! deep in swap) wakes up holding answers that were true before the pause, while its own timer is
//! about to expire the very leases they grant. So just before a grant is written it is confirmed
//! against the latest state this server can know, at the clock's present:
//! - expiries that are due are applied first, in the same engine step the timer would take, so the
//!   timer and the writer cannot race after a resume (with `--store` an expiry is proposed to the
//!   log instead, and a lease over by this server's clock counts as over);
//! - with `--store`, a server whose grant comes from an entry proposed a while ago (it fell behind:
//!   a pause, a slow watch, a reconnect) first catches up with the log's head, so a grant that later
//!   entries ended (an expiry, the end of a server judged dead) is seen as ended;
//! - a grant that is no longer held, whose lease has run out, or that cannot be confirmed, is not
//!   written: its client is told to ask again (a 503), and what is still held is given back through
//!   the normal path. A parked grant is rendered only now, so the lease it reports (`ttl_left`) is
//!   what is left at the moment of writing.
//!
//! An answer written by the worker that made the grant (no parking) is confirmed the same way, but
//! only when it comes late, or past its lease (with `--store` the reply comes back only once its
//! entry is applied): its lease was reported when it was rendered, so it is written only while that
//! report is still nearly true.
use crate::engine::{CancelBy, Engine, GateReply, Millis, Op, Reply};
use crate::timefmt;

use super::super::Waiter;
use super::{Answer, Claim, Core, Delivery, Inner, Ready, Render, WriteId};

/// With `--store`: a parked grant whose granting entry was proposed longer ago than this (by the
/// proposer's clock) may come from a log this server has fallen behind; it catches up first.
pub const LAGGING_MS: u64 = 500;
/// A grant answered by its own worker may be written at most this late (and at most a quarter of its
/// lease): the lease it reports is then at most that much shorter than it says.
pub const LATE_MS: u64 = 1_000;
/// How long a catch-up before a delivery may take.
const CATCH_UP_MS: u64 = 2_000;

/// A grant made by the request being answered (not parked), kept until its answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectGrant {
    claim: Claim,
    /// When its reply came back from the engine (wall clock).
    answered_at: Millis,
    ttl_ms: Option<u64>,
    /// When its lease ends (by the clock of the step that made it).
    expires: Option<Millis>,
    /// A renewal of a lease already held, not a grant.
    renewal: bool,
}

impl DirectGrant {
    /// The grant in `reply`, if it is one, answered at `now`.
    pub fn of(reply: &Reply, now: Millis) -> Option<DirectGrant> {
        let (claim, ttl_ms, expires, renewal) = match reply {
            Reply::Granted { grant, .. } => (
                Claim::Request(grant.request),
                grant.ttl_ms,
                grant.expires,
                false,
            ),
            // Its answer reports the lease as a grant's does.
            Reply::Renewed { grant } if grant.ttl_ms.is_some() => (
                Claim::Request(grant.request),
                grant.ttl_ms,
                grant.expires,
                true,
            ),
            Reply::Gate(GateReply::Ok(ticket)) => (Claim::Ticket(ticket.id), None, None, false),
            _ => return None,
        };
        Some(DirectGrant {
            claim,
            answered_at: now,
            ttl_ms,
            expires,
            renewal,
        })
    }

    /// The grant this answer carries.
    pub fn claim(&self) -> Claim {
        self.claim
    }

    /// How late its answer may be written and still report the lease truly enough.
    fn allowed_lateness(&self) -> u64 {
        self.ttl_ms.map_or(LATE_MS, |ttl| (ttl / 4).min(LATE_MS))
    }
}

/// Why a grant is not written, in the words its client reads.
fn stale_reason(what: &str) -> String {
    format!(
        "the lock was handed to this request, but {what} before the answer could be written (this server was paused or overloaded); this request holds nothing now: ask again"
    )
}

/// Why a grant that could not be confirmed is not written.
fn unconfirmed_reason(why: &str) -> String {
    format!(
        "the lock was handed to this request, but this server could not confirm it is still its own ({why}); ask again"
    )
}

impl<W: Waiter> Core<W> {
    /// Renders `delivery` for writing now; a grant only if it is still its client's (see above).
    /// Returns the answers that applying due expiries made due to others.
    pub fn confirm(&self, delivery: Delivery<W>) -> (Ready<W>, Vec<Delivery<W>>) {
        let now = timefmt::now_ms();
        let mut unconfirmed = None;
        if let (Some(replica), Some((claim, _))) = (self.store.replica(), &delivery.undo)
            && self.lagging(*claim, now)
            && let Err(why) = self.catch_up(replica, std::time::Duration::from_millis(CATCH_UP_MS))
        {
            unconfirmed = Some(why);
        }
        let mut inner = self.inner();
        let mark = self.journal_mark();
        let confirmed = self.confirm_at(&mut inner, delivery, now, unconfirmed);
        self.sync_if_appended(inner, mark);
        confirmed
    }

    /// How far the journal has been appended (0 without one); read under the engine lock, where
    /// every append happens.
    pub(super) fn journal_mark(&self) -> u64 {
        self.store.journal().map_or(0, |j| j.appended())
    }

    /// Lets go of the engine and, if this step appended to the journal since `mark` (an expiry, a
    /// give-back), waits for it to be synced: the answers it made due must not be heard of before.
    /// The common step appends nothing and waits for nobody else's sync.
    pub(super) fn sync_if_appended(&self, inner: std::sync::MutexGuard<'_, Inner<W>>, mark: u64) {
        let appended = self.journal_mark() != mark;
        drop(inner);
        if appended {
            self.barrier();
        }
    }

    /// Whether a parked grant may come from a log this server has fallen behind.
    fn lagging(&self, claim: Claim, now: Millis) -> bool {
        match claim {
            Claim::Request(request) => self
                .inner()
                .engine
                .grant_of(request)
                .is_none_or(|grant| now.saturating_sub(grant.since) > LAGGING_MS),
            // A ticket's grant says nothing of when: tickets are few, so always.
            Claim::Ticket(_) => true,
        }
    }

    /// `confirm` at `now` (time passed in): `unconfirmed` says why the log's head could not be seen.
    pub(super) fn confirm_at(
        &self,
        inner: &mut Inner<W>,
        delivery: Delivery<W>,
        now: Millis,
        unconfirmed: Option<String>,
    ) -> (Ready<W>, Vec<Delivery<W>>) {
        let Delivery {
            waiter,
            request,
            answer,
            render,
            mut undo,
            granted_at,
        } = delivery;
        let mut more = Vec::new();
        let mut refusal = None;
        if let Some((claim, _)) = &undo {
            let before = self.still_granted(&inner.engine, *claim, now);
            more = self.apply_due(inner, now);
            let after = self.still_granted(&inner.engine, *claim, now);
            // The expiry just applied ended it for the reason seen before.
            let held = if before == Held::LeaseOver && after == Held::No {
                Held::LeaseOver
            } else {
                after
            };
            refusal = match (held, unconfirmed) {
                (Held::Yes, None) => None,
                (Held::Yes | Held::LeaseOver, Some(why)) => Some(unconfirmed_reason(&why)),
                (Held::LeaseOver, None) => Some(stale_reason("its lease ran out")),
                (Held::No, _) => Some(stale_reason("it was ended")),
            };
            if refusal.is_some() {
                // What is still held is given back after the refusal (`Core::undo`); what the engine
                // ended already needs nothing.
                if after == Held::No {
                    inner.unclaimed.remove(claim);
                    undo = None;
                }
            }
        }
        let response = match (refusal, answer, render) {
            (Some(reason), _, _) | (None, Answer::Retry(reason), _) => Err(reason),
            (None, _, Render::Done(response)) => Ok(response),
            (None, answer, Render::Later(responder)) => Ok(responder(&answer, &inner.engine)),
        };
        let write = match (&response, &undo) {
            // Rendered after this: it reports no more than what is left now.
            (Ok(_), Some((claim, _))) => self.start_write(inner, *claim, now, now),
            _ => None,
        };
        let ready = Ready {
            waiter,
            request,
            response,
            undo,
            granted_at,
            write,
        };
        (ready, more)
    }

    /// Just before a worker writes a grant it made itself: `Ok` if it may, with the write its lease
    /// is in (`Core::written` once the answer went), or why not. A refused grant still held is
    /// given back; the answers that made due are returned either way.
    pub fn confirm_direct(
        &self,
        grant: &DirectGrant,
    ) -> (Result<Option<WriteId>, String>, Vec<Delivery<W>>) {
        let now = timefmt::now_ms();
        if grant.renewal {
            if self.store.replica().is_some() {
                // The shared log, not this server's clock, ends leases: as it ever was.
                return (Ok(None), Vec::new());
            }
            let mut inner = self.inner();
            let mark = self.journal_mark();
            let confirmed = self.confirm_renewal_at(&mut inner, grant, now);
            self.sync_if_appended(inner, mark);
            return confirmed;
        }
        // The common case: written in time, the grant is as it was reported. Not if its lease is
        // over, however soon its answer comes: with `--store` the reply comes back only once its
        // entry is applied, which may be after the lease (counted from the proposal).
        let in_time = now.saturating_sub(grant.answered_at) <= grant.allowed_lateness();
        if in_time && grant.expires.is_none_or(|t| now < t) {
            let write = match grant.expires {
                // Rendered when the reply came back: it reports what was left then.
                Some(_) => self.start_write(&mut self.inner(), grant.claim, now, grant.answered_at),
                None => None,
            };
            return (Ok(write), Vec::new());
        }
        if let Some(replica) = self.store.replica() {
            let caught_up = self.catch_up(replica, std::time::Duration::from_millis(CATCH_UP_MS));
            let held = self.still_granted(&self.inner().engine, grant.claim, now);
            let verdict = match (held, caught_up) {
                (Held::Yes, Ok(_)) if grant.ttl_ms.is_none() => return (Ok(None), Vec::new()),
                (Held::No, _) => stale_reason("it was ended"),
                (Held::LeaseOver, _) => stale_reason("its lease ran out"),
                (Held::Yes, Err(why)) => unconfirmed_reason(&why),
                (Held::Yes, Ok(_)) => stale_reason("its answer came too late to report its lease"),
            };
            if held != Held::No {
                // Through the log, like every change: written now, or by the background thread
                // if etcd cannot take it now (as every give-back is), never just dropped: a grant
                // without a lease would be held for ever while its client was told it holds
                // nothing. Giving back twice is harmless: the second cancel finds nothing.
                let command = crate::engine::Command {
                    now,
                    op: give_back_op(grant.claim),
                };
                let body = crate::host::replica::Body::Command {
                    command,
                    parks: false,
                };
                replica.append_now(Some(replica.entry(body)));
            }
            return (Err(verdict), Vec::new());
        }
        let mut inner = self.inner();
        let mark = self.journal_mark();
        let confirmed = self.confirm_direct_at(&mut inner, grant, now);
        self.sync_if_appended(inner, mark);
        confirmed
    }

    /// `confirm_direct` without `--store`, at `now`, for an answer already known to be late.
    pub(super) fn confirm_direct_at(
        &self,
        inner: &mut Inner<W>,
        grant: &DirectGrant,
        now: Millis,
    ) -> (Result<Option<WriteId>, String>, Vec<Delivery<W>>) {
        let before = self.still_granted(&inner.engine, grant.claim, now);
        let mut more = self.apply_due(inner, now);
        let reason = match self.still_granted(&inner.engine, grant.claim, now) {
            // A grant without a lease reports none: late, it is as true as it was.
            Held::Yes if grant.ttl_ms.is_none() => return (Ok(None), more),
            Held::Yes => stale_reason("its answer came too late to report its lease"),
            Held::LeaseOver => stale_reason("its lease ran out"),
            Held::No if before == Held::LeaseOver => {
                return (Err(stale_reason("its lease ran out")), more);
            }
            Held::No => return (Err(stale_reason("it was ended")), more),
        };
        let command = crate::engine::Command {
            now,
            op: give_back_op(grant.claim),
        };
        more.extend(self.run_command(inner, command).1);
        (Err(reason), more)
    }

    /// A renewal's answer, just before it is written at `now` (without `--store`): written while the
    /// lease it reports still stands, and as a write its lease cannot end during (extended if it
    /// comes late: `writing`). A lease that ran out first is said so; nothing is given back, as
    /// nothing is left to give. Unlike a grant, a renewal answered late is not refused while its lease
    /// stands: refusing it would end a lock its client holds and uses.
    pub(super) fn confirm_renewal_at(
        &self,
        inner: &mut Inner<W>,
        grant: &DirectGrant,
        now: Millis,
    ) -> (Result<Option<WriteId>, String>, Vec<Delivery<W>>) {
        let before = self.still_granted(&inner.engine, grant.claim, now);
        let more = self.apply_due(inner, now);
        let what = match self.still_granted(&inner.engine, grant.claim, now) {
            Held::Yes => {
                let write = self.start_write(inner, grant.claim, now, grant.answered_at);
                return (Ok(write), more);
            }
            // Ended by the expiry just applied, or found over.
            Held::LeaseOver => "it ran out",
            Held::No if before == Held::LeaseOver => "it ran out",
            // Released or ended through another connection meanwhile.
            Held::No => "it was ended",
        };
        let reason = format!(
            "the lease was renewed, but {what} before the answer could be written (this server was paused or overloaded); this request holds nothing now"
        );
        (Err(reason), more)
    }

    /// Applies the expiries due at `now`, as the timer would (without `--store`; with it, a tick is
    /// proposed and a lease over by this clock counts as over until the log says so).
    fn apply_due(&self, inner: &mut Inner<W>, now: Millis) -> Vec<Delivery<W>> {
        let now = now.max(inner.engine.clock());
        if inner.engine.next_deadline().is_none_or(|d| d > now) {
            return Vec::new();
        }
        match self.store.replica() {
            Some(replica) => {
                self.propose_tick(replica, inner, now);
                Vec::new()
            }
            None => {
                let command = crate::engine::Command { now, op: Op::Tick };
                self.run_command(inner, command).1
            }
        }
    }

    /// Whether `claim`'s grant still stands at `now`.
    fn still_granted(&self, engine: &Engine, claim: Claim, now: Millis) -> Held {
        match claim {
            Claim::Request(request) => match engine.grant_of(request) {
                None => Held::No,
                Some(grant) if grant.expires.is_some_and(|t| t <= now) => Held::LeaseOver,
                Some(_) => Held::Yes,
            },
            Claim::Ticket(ticket) => match engine.ticket(ticket) {
                Some(t) if t.granted => Held::Yes,
                _ => Held::No,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Yes,
    /// Still in the engine, but its lease is over by this server's clock.
    LeaseOver,
    No,
}

/// The command that gives `claim`'s grant back.
fn give_back_op(claim: Claim) -> Op {
    match claim {
        Claim::Request(request) => Op::Cancel {
            request,
            by: CancelBy::Client,
        },
        Claim::Ticket(ticket) => Op::DeleteTicket { ticket },
    }
}

#[cfg(test)]
mod tests;
