//! The server as the transport's handler: requests go to the router, parked connections are the
//! host's waiters, and what an answer pledges (a grant) is the host's to keep or give back.
use std::sync::Arc;

use super::replies::words_of;
use super::shared::{Delivery, Net, Shared, Slot};
use super::{deliver, routes};
use crate::engine::{Op, RequestId};
use crate::host::{Claim, Waiter, WriteId};
use crate::http::{Handled, Handler, Request, Response};
use crate::observe::metrics::Api;

/// A parked connection, as the engine host sees it.
impl Waiter for Arc<Slot> {
    type Rendered = Response;

    fn gone(&self) -> bool {
        self.client_gone()
    }

    fn same(&self, other: &Arc<Slot>) -> bool {
        self.key == other.key
    }
}

impl Handler for Shared {
    type Wait = RequestId;
    /// A grant to give back if its answer never reaches its client.
    type Pledge = (Claim, Op);
    type Tag = Api;
    type Work = Vec<Delivery>;

    fn tag(&self, req: &Request) -> Api {
        routes::api_of(req.path())
    }

    fn handle(
        &self,
        net: &Net,
        slot: &Arc<Slot>,
        req: &Request,
        work: &mut Vec<Delivery>,
    ) -> Handled<Shared> {
        let mut grant = None;
        match routes::route(net, slot, req, work, &mut grant) {
            Handled::Respond(mut response) => {
                self.core.barrier();
                // A grant made for this request is written only if it is still its own now (a
                // pause since it was made may have outlived its lease: `host::Core::confirm`).
                if let Some(grant) = grant {
                    let (verdict, more) = self.core.confirm_direct(&grant);
                    work.extend(more);
                    match verdict {
                        Ok(write) => {
                            response.mark = write.map(WriteId::number);
                            self.core.stall_for_test(grant.claim());
                        }
                        Err(reason) => {
                            let words = words_of(self.tag(req));
                            response = Response::refusal(words, 503, reason);
                        }
                    }
                }
                Handled::Respond(response)
            }
            parked => parked,
        }
    }

    fn before_body(&self, req: &Request) -> Option<Response> {
        routes::before_body(self, req)
    }

    fn answered(&self, tag: Option<Api>, status: u16) {
        self.metrics.request(tag.unwrap_or(Api::Other), status);
    }

    fn hung_up(&self, slot: &Arc<Slot>, wait: RequestId, work: &mut Vec<Delivery>) {
        work.extend(self.core.hangup(wait, slot));
    }

    fn written(&self, mark: u64, work: &mut Vec<Delivery>) {
        work.extend(self.core.written(WriteId::from_number(mark)));
    }

    fn kept(&self, (claim, _): (Claim, Op)) {
        self.core.delivered(claim);
    }

    fn lost(&self, (claim, op): (Claim, Op), work: &mut Vec<Delivery>) {
        work.extend(self.core.undo(claim, op));
    }

    fn finish(&self, net: &Net, work: Vec<Delivery>) {
        deliver::deliver(net, work);
    }
}
