//! The lock engine: all of weblock's lock state, and no I/O.
//!
//! A deterministic state machine. Every change comes in as a [`Command`] carrying its own time `now`;
//! the same commands in the same order always give the same [`Outcome`]s and the same state. So the
//! server can journal the commands and replay them, tests never sleep, and several servers could
//! share one replicated list of commands.
//!
//! The rules, in one place:
//! - A resource has holders and a FIFO queue of waiters; it exists only while held (its retained
//!   history aside, see below). Its `slots` (N) are set by the first request of a resource that has
//!   no holder and no waiter; a request naming none joins what is in force, one naming another N is
//!   refused (`Reply::SlotsDiffer`), never merged. Holders of the two `Mode`s never hold together;
//!   exclusive holders coexist up to N (1 by default: the mutex), shared ones up to N (without limit
//!   by default). See `slots`.
//! - Strict FIFO: only the head of the queue is ever granted, and a request is granted at once only
//!   if nobody waits; whenever a holder or a waiter leaves, the head is granted for as long as it is
//!   admitted (several shared waiters in one step). So a waiting exclusive request holds back the
//!   shared ones behind it, and the next in line never waits for a slot it could hold.
//! - Each holder has its own token, fence, lease, renewals and release; a release is remembered per
//!   token until a grant takes its place (see `releases`).
//! - A waiter with a grace (`Acquire::grace_ms`) whose wait deadline passes keeps its place, detached
//!   (`Event::PollEnded`), until `deadline + grace`; a poll with its token re-attaches it. It is
//!   granted at its turn, detached or not; only when its grace passes too does it leave the queue.
//! - Watchers (`Op::Watch`) wait for a resource to become free without taking it. They never hold,
//!   never queue, never move a grant or a fence, and never keep a resource alive: when it is
//!   forgotten (no holder, no waiter), each of its watchers gets `Event::Freed`, in request id order.
//! - A grant gets a fence from one engine-wide counter (1, 2, 3, ...) and the caller's token.
//! - Time never goes back: `now` is clamped to the latest `now` seen.
//! - Every command first expires what is due at `now` (leases and wait, grace and watch deadlines, in
//!   (deadline, request id) order); `Op::Tick` does only that. A deadline at or before `now` counts as
//!   passed.
//! - When a holder leaves (release, cancel, expiry), the waiters at the head whose deadline (or grace)
//!   has not passed are granted, as far as admitted, at that same `now` and their leases start then;
//!   waiters found past their deadline on the way time out first.
//! - Events come out in the order things happened.
//! - Every holder and waiter has a history: when it was made (`created`), granted and last renewed,
//!   the dialect's `Acquire::meta`, and once it ends, how (`End`) and when. An ended request stays
//!   readable (`Engine::request`, `Engine::requests_of`) for `ENDED_RETENTION_MS`, and at most
//!   `ENDED_MAX` of them, the oldest ended forgotten first; every command prunes it last. So an ended
//!   request costs memory only while retained. Watchers leave no history.
//! - An administrator ends requests with `Op::Cancel` by `CancelBy::Admin`, `Op::DeleteResource` and
//!   `Op::DeleteAll`: they end `Deleted`, and each hears `Event::Deleted`. Deleting a resource grants
//!   none of its waiters and ends every holder; fences keep increasing for later grants.
//! - `Op::Restart`, applied once the server's journal is replayed, ends what needed a connection that
//!   died with the server: watchers (of locks and gates), tickets' polls, and lock waiters with a wait
//!   deadline, except that a waiter with a grace keeps its place, detached, for the restart's grace.
//!   Waiters without a deadline (the request-queue API), holders, gates and tickets are untouched. It
//!   applies its rules before expiring what is due, so nothing is handed to a client that is gone.
//! - Gates (services, their gates, and tickets over several gates: the gatekeeper API) are a separate
//!   namespace with rules of their own, in `gates`; they share the clock, the request id counter
//!   (for parked polls and watchers), `Op::Tick`, `Op::Cancel` and `Engine::next_deadline`.
//! - `Engine::snapshot` gives the whole state as plain data (a [`Snapshot`], JSON-friendly), and
//!   `Engine::restore` gives it back, `==` and answering every later command alike; a snapshot no
//!   engine could have given is refused (see `snapshot`). So a journal can be compacted.

mod command;
mod gates;
mod handles;
mod history;
mod holders;
mod locks;
mod outcome;
mod releases;
mod resource;
mod slots;
mod snapshot;
mod view;

#[cfg(test)]
mod tests;

pub use command::{Acquire, CancelBy, Command, GateChange, Millis, Op, RequestId, Wait};
pub use gates::{GateState, GateView, ServiceView, TICKET_TTL_MS, TicketView};
pub use handles::{Handles, NUMBER_LIMIT};
pub use history::{ENDED_MAX, ENDED_RETENTION_MS, End};
pub use locks::Engine;
pub use outcome::{Event, GateRefusal, GateReply, Grant, Outcome, Refusal, Reply};
pub use releases::REMEMBERED_RELEASES;
pub use slots::{MAX_SLOTS, Mode};
pub use snapshot::{
    EndedSnapshot, GateSnapshot, GateWatcherSnapshot, GatesSnapshot, HolderSnapshot, PollSnapshot,
    ReleaseSnapshot, ResourceSnapshot, SNAPSHOT_VERSION, ServiceSnapshot, Snapshot, TicketSnapshot,
    WaiterSnapshot, WatcherSnapshot,
};
pub use view::{HolderView, LockView, RequestState, RequestView, WaiterView};
