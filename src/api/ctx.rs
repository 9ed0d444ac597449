//! What a dialect's handler gets: the request, the server, and the means to change the engine and to
//! park the request's connection.
use std::cell::RefCell;
use std::sync::Arc;

use super::scopes::Caller;
use super::shared::{Delivery, Net, Responder, Shared, Slot};
use crate::engine::{Engine, Op, Refusal, Reply};
use crate::host::{DirectGrant, HostError, Session};
use crate::http::Request;

/// What a dialect did with a request: an answer, or its connection parked under a request id.
pub type Handled = crate::http::Handled<Shared>;

/// What a dialect's handler gets: the request, and the means to park its connection.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    /// The transport the request came by.
    pub net: &'a Net,
    pub slot: &'a Arc<Slot>,
    pub req: &'a Request,
    /// Parked waiters a handler's change made due; answered once the connection is let go.
    pub deliveries: &'a mut Vec<Delivery>,
    /// A grant this request's change made, confirmed before its answer is written.
    pub grant: &'a mut Option<DirectGrant>,
    /// Who sent it (`--auth-file`): its name is the holder of a request that names none.
    pub caller: Caller,
    /// What this request has learned of the store (with `--store`, whether it caught up).
    /// (In cells: reading needs only a shared `Ctx`.)
    session: RefCell<Session>,
    /// Why the host failed this request, if it did: its answer is then a 503 saying so, whatever
    /// the dialect made of it (nothing more is asked of the host for it).
    failed: RefCell<Option<HostError>>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        net: &'a Net,
        slot: &'a Arc<Slot>,
        req: &'a Request,
        deliveries: &'a mut Vec<Delivery>,
        grant: &'a mut Option<DirectGrant>,
        caller: Caller,
    ) -> Ctx<'a> {
        Ctx {
            shared: &net.handler,
            net,
            slot,
            req,
            deliveries,
            grant,
            caller,
            session: RefCell::default(),
            failed: RefCell::default(),
        }
    }

    /// The base of the absolute URLs in this request's answer (`base_url.rs`).
    pub fn base_url(&self) -> String {
        self.shared.urls.base(self.req)
    }

    /// Why the host failed this request, if it did.
    pub fn failure(self) -> Option<HostError> {
        self.failed.into_inner()
    }

    /// Applies `op`; its answers to parked waiters go with the request's, and a grant to this
    /// request is remembered so that its answer is confirmed before it is written.
    pub fn apply(&mut self, op: Op) -> Reply {
        if self.failed.borrow().is_some() {
            return refused();
        }
        let applied = self.shared.core.apply(self.session.get_mut(), op);
        self.note(applied)
    }

    /// `apply`, and if the request has to wait, its connection is parked (see `Core::apply_parking`).
    /// `responder` makes what answers the request if it waits; it is called only then.
    pub fn apply_parking(&mut self, op: Op, responder: impl FnOnce() -> Responder) -> Reply {
        if self.failed.borrow().is_some() {
            return refused();
        }
        let slot = self.slot.clone();
        let applied = (self.shared.core).apply_parking(self.session.get_mut(), op, slot, responder);
        self.note(applied)
    }

    /// Reads the engine's state (with `--store`, caught up with the shared log first).
    pub fn read<R>(&self, f: impl FnOnce(&Engine) -> R) -> R {
        let mut failed = self.failed.borrow_mut();
        if failed.is_none()
            && let Err(e) = self.shared.core.caught_up(&mut self.session.borrow_mut())
        {
            *failed = Some(e);
        }
        // After a failure the answer is replaced by a 503: the state as this server has it only
        // lets the dialect finish.
        self.shared.core.view(f)
    }

    fn note(&mut self, applied: Result<(Reply, Vec<Delivery>), HostError>) -> Reply {
        let (reply, deliveries) = match applied {
            Ok(applied) => applied,
            Err(e) => {
                *self.failed.get_mut() = Some(e);
                return refused();
            }
        };
        self.deliveries.extend(deliveries);
        if let Some(grant) = DirectGrant::of(&reply, crate::timefmt::now_ms()) {
            *self.grant = Some(grant);
        }
        reply
    }
}

/// What a call the host failed gives the dialect: its answer is replaced by the 503 anyway.
fn refused() -> Reply {
    Reply::Refused(Refusal::UnknownRequest)
}
