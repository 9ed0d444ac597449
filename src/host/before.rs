//! What a command's outcome cannot say by itself (which lock a token released, how a gate was), taken
//! before the engine applies it.
use uuid::Uuid;

use crate::engine::{CancelBy, Engine, Millis, Op, RequestState};

/// What a command's outcome cannot say by itself, taken before it is applied.
pub enum Before {
    Nothing,
    /// `Op::Release`: the reply names no resource.
    Release(String),
    /// `Op::Cancel` by a client of a waiting request (a holder's end is an event of its own): who left.
    CancelWaiter {
        resource: String,
        holder: String,
        created: Millis,
    },
    /// `Op::SetGate`: the gate as it was (closed by hand, its message), if it exists.
    SetGate {
        gate: String,
        was: Option<(bool, String)>,
    },
    /// `Op::TestAndSet`: whether the ticket it presents (or proposes) was live, and granted.
    TestAndSet {
        existed: bool,
        granted: bool,
    },
    /// `Op::UpdateService`: each gate it changes as it was, as for `SetGate`.
    Gates(Vec<(String, Option<(bool, String)>)>),
    DeleteTicket(Uuid),
    Service(String),
}

impl Before {
    pub fn of(op: &Op, engine: &Engine) -> Before {
        match op {
            Op::Release { resource, .. } => Before::Release(resource.clone()),
            Op::Cancel {
                request,
                by: CancelBy::Client,
            } => match engine.request(*request) {
                Some(view) if matches!(view.state, RequestState::Waiting { .. }) => {
                    Before::CancelWaiter {
                        resource: view.resource,
                        holder: view.holder,
                        created: view.created,
                    }
                }
                _ => Before::Nothing,
            },
            Op::SetGate {
                service,
                environment,
                ..
            } => Before::SetGate {
                gate: format!("{service}:{environment}"),
                was: engine
                    .service(service)
                    .and_then(|s| s.environments.get(environment).cloned())
                    .map(|g| (g.closed_by_hand, g.message)),
            },
            Op::UpdateService { service, gates, .. } => Before::Gates(
                gates
                    .iter()
                    .map(|c| {
                        let was = engine
                            .service(service)
                            .and_then(|s| s.environments.get(&c.environment).cloned())
                            .map(|g| (g.closed_by_hand, g.message));
                        (format!("{service}:{}", c.environment), was)
                    })
                    .collect(),
            ),
            Op::TestAndSet {
                ticket, new_ticket, ..
            } => {
                let live = engine.ticket(ticket.unwrap_or(*new_ticket));
                Before::TestAndSet {
                    existed: live.is_some(),
                    granted: live.is_some_and(|t| t.granted),
                }
            }
            Op::DeleteTicket { ticket } => Before::DeleteTicket(*ticket),
            Op::CreateService { service, .. } | Op::DeleteService { service, .. } => {
                Before::Service(service.clone())
            }
            _ => Before::Nothing,
        }
    }
}
