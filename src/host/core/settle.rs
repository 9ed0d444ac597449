//! Turns engine events into answers for parked connections. A waiter granted a lock (or a ticket) whose
//! client is gone gives it up at once: the next in line is granted in the same step (with `--store`, in
//! the step its give-back is applied).
use std::collections::VecDeque;
use std::time::Instant;

use crate::engine::{CancelBy, Command, Event, Millis, Op, RequestId};

use super::super::Waiter;
use super::{Answer, Claim, Core, Delivery, Inner, Render};

impl<W: Waiter> Core<W> {
    /// Events to answers (see above). The commands it applies itself (giving back a grant whose client
    /// is gone) are journaled like any other.
    pub(super) fn settle(
        &self,
        inner: &mut Inner<W>,
        now: Millis,
        events: Vec<Event>,
    ) -> Vec<Delivery<W>> {
        let mut deliveries = Vec::new();
        let mut pending: VecDeque<Event> = events.into();
        while let Some(event) = pending.pop_front() {
            let (request, answer) = match event {
                // Not parked: a request whose client polls for it (or a waiter between two polls, whose next
                // poll collects the grant).
                Event::Granted(grant) => (grant.request, Answer::Granted(grant)),
                Event::TimedOut { request, resource } => {
                    (request, Answer::TimedOut(inner.engine.lock(&resource)))
                }
                Event::PollEnded {
                    request,
                    position,
                    resource,
                } => {
                    let view = inner.engine.lock(&resource);
                    (request, Answer::PollEnded { position, view })
                }
                Event::Freed { request, .. } => (request, Answer::Free),
                Event::Deleted { request, .. } => (request, Answer::Deleted),
                Event::TicketGranted { ticket, request } => {
                    (request, Answer::TicketGranted { ticket })
                }
                Event::TicketPollEnded { ticket, request } => {
                    (request, Answer::TicketPollEnded { ticket })
                }
                Event::TicketEnded { request, .. } => (request, Answer::TicketEnded),
                Event::GateOpened { request } => (request, Answer::GateOpened),
                Event::GateWatchEnded { request } => (request, Answer::GateWatchEnded),
                Event::Expired { .. } | Event::Released { .. } | Event::TicketExpired { .. } => {
                    continue;
                }
            };
            match unpark(inner, request, answer) {
                Some(d) if d.undo.is_some() && d.waiter.gone() => {
                    if let Some((claim, op)) = d.undo {
                        inner.unclaimed.remove(&claim);
                        match self.store.replica() {
                            // Written before the reply to the entry being applied is let out
                            // (`Applied`): nobody hears of this step before its give-back.
                            Some(replica) => {
                                let entry = super::give_back_entry(replica, inner, claim, op);
                                inner.proposals.appends.extend(entry);
                            }
                            None => {
                                pending.extend(self.apply_logged(inner, Command { now, op }).events)
                            }
                        }
                    }
                }
                other => deliveries.extend(other),
            }
        }
        deliveries
    }
}

/// Takes `request`'s connection out of the parked set, with the answer it is due. (With `--store`,
/// every server also forgets where the request was parked, and remembers where a grant went.)
pub(super) fn unpark<W: Waiter>(
    inner: &mut Inner<W>,
    request: RequestId,
    answer: Answer,
) -> Option<Delivery<W>> {
    let undo = match &answer {
        Answer::Granted(_) => Some((
            Claim::Request(request),
            Op::Cancel {
                request,
                by: CancelBy::Client,
            },
        )),
        Answer::TicketGranted { ticket } => {
            Some((Claim::Ticket(*ticket), Op::DeleteTicket { ticket: *ticket }))
        }
        _ => None,
    };
    let clock = inner.engine.clock();
    inner
        .origins
        .unpark(request, undo.as_ref().map(|(claim, _)| *claim), clock);
    let parked = inner.parked.remove(&request)?;
    if let Some((claim, _)) = &undo {
        inner.unclaimed.insert(*claim);
    }
    let granted_at = matches!(answer, Answer::Granted(_)).then(Instant::now);
    // A grant is rendered when it is written (`Core::confirm`); anything else now, from the state
    // this step left (see `Delivery`). A `Retry` is answered with its reason, never rendered.
    let render = if undo.is_some() || matches!(answer, Answer::Retry(_)) {
        Render::Later(parked.responder)
    } else {
        Render::Done((parked.responder)(&answer, &inner.engine))
    };
    Some(Delivery {
        waiter: parked.waiter,
        request,
        answer,
        render,
        undo,
        granted_at,
    })
}
