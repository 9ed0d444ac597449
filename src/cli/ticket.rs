//! `weblock gate enter`: gates taken together with a ticket (all of them or none), waited for in line
//! with `--queue`, and given back when the command ends.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{Answer, Body};
use super::gate::{delete_ticket, one_shot, service_path};
use super::lock::{Ctx, ONE_SHOT_RETRY, poll_cap, unexpected};
use super::progress::{News, Progress};
use super::renewal::Lapse;
use super::run::{Claim, Held};
use super::{Failure, exit};
use crate::duration;

/// Gates to take together with a ticket.
pub struct GateClaim {
    ctx: Arc<Ctx>,
    gates: BTreeMap<String, Vec<String>>,
    queue: bool,
    timeout: Option<Duration>,
    /// The id of our ticket, chosen here so that a retried first call finds it (rather than making a
    /// second one) and a signal can withdraw it even before the first answer came.
    ticket_id: String,
    /// Whether the server has answered about the ticket yet: later calls present it as `ticket`.
    known: Mutex<bool>,
}

impl GateClaim {
    pub fn new(
        ctx: Ctx,
        gates: BTreeMap<String, Vec<String>>,
        queue: bool,
        timeout: Option<Duration>,
    ) -> GateClaim {
        GateClaim {
            ctx: Arc::new(ctx),
            gates,
            queue,
            timeout,
            ticket_id: uuid::Uuid::new_v4().to_string(),
            known: Mutex::new(false),
        }
    }

    fn known(&self) -> bool {
        *self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_known(&self) {
        *self.known.lock().unwrap_or_else(|p| p.into_inner()) = true;
    }

    /// Why a test-and-set was denied: the named gates that are closed, with their messages.
    fn closed_gates(&self) -> String {
        let (closed, _) = self.situation();
        if closed.is_empty() {
            "another ticket is ahead in line".to_string()
        } else {
            closed.join(", ")
        }
    }

    /// The named gates as they stand: those closed (with their messages), and our ticket's place in
    /// line — its furthest place in any of its gates' queues (1 is next), if it is in one.
    fn situation(&self) -> (Vec<String>, Option<u64>) {
        let mut closed = Vec::new();
        let mut place = None;
        for (service, envs) in &self.gates {
            let Ok(answer) = one_shot(&self.ctx, "GET", &service_path(service), Body::None) else {
                continue;
            };
            for env in envs {
                let gate = &answer.body["environments"][env];
                let queue = gate.get("queue").and_then(Value::as_array);
                if let Some(i) = queue.and_then(|q| {
                    q.iter()
                        .position(|t| super::gate::ticket_id(t) == Some(self.ticket_id.as_str()))
                }) {
                    place = place.max(Some(i as u64 + 1));
                }
                match gate.get("state").and_then(Value::as_str) {
                    Some("open") => {}
                    Some(_) => {
                        let message = gate.get("message").and_then(Value::as_str).unwrap_or("");
                        let why = if message.is_empty() {
                            String::new()
                        } else {
                            format!(" ({message:?})")
                        };
                        closed.push(format!("{service}:{env} is closed{why}"));
                    }
                    None => closed.push(format!("{service} has no gate {env}")),
                }
            }
        }
        (closed, place)
    }

    /// The progress line's news, when it is shown (it costs a GET per service).
    fn tell(&self, progress: &Progress) {
        if !progress.active() {
            return;
        }
        let (closed, position) = self.situation();
        progress.news(News {
            note: (!closed.is_empty()).then(|| closed.join(", ")),
            position,
            ..News::default()
        });
    }
}

impl Claim for GateClaim {
    type Held = GateHeld;

    fn acquire(&self) -> Result<GateHeld, Failure> {
        let started = Instant::now();
        let deadline = self.timeout.map(|t| started + t);
        let progress = Progress::start(self.ctx.progress && self.queue, &self.what(), deadline);
        let mut first = true;
        loop {
            let now = Instant::now();
            let mut query = Vec::new();
            let mut poll = Duration::ZERO;
            if self.queue {
                let cap = poll_cap(&progress, std::mem::take(&mut first));
                poll = deadline.map_or(cap, |d| d.saturating_duration_since(now).min(cap));
                query.push(("queue", "true".to_string()));
                query.push(("wait", format!("{:.3}", poll.as_secs_f64())));
            }
            let mut body = json!({"services": self.gates});
            if self.known() {
                body["ticket"] = self.ticket_id.clone().into();
            } else {
                body["new_ticket"] = self.ticket_id.clone().into();
                // Who waits, for the queue on the dashboard and in `weblock status`: WEBLOCK_HOLDER,
                // as for locks, or user@host pid.
                let given = std::env::var("WEBLOCK_HOLDER").ok();
                body["holder"] = super::holder::chosen(given).into();
            }
            let retry_until = match deadline {
                // --timeout holds whatever the server does (see `Ctx::send`).
                Some(d) if self.queue => d,
                Some(d) => d.max(now + ONE_SHOT_RETRY),
                None if self.queue => now + Duration::from_secs(365 * 86_400),
                None => now + ONE_SHOT_RETRY,
            };
            let answer = self.ctx.send(
                "PUT",
                "/api/services",
                &query,
                Body::Json(&body),
                poll,
                retry_until,
            )?;
            let out_of_time = deadline.is_some_and(|d| Instant::now() >= d);
            if answer.str("status") != Some("queue") || out_of_time {
                progress.finish();
            }
            match (answer.status, answer.str("status")) {
                (200, Some("ok")) => {
                    return Ok(GateHeld {
                        ctx: self.ctx.clone(),
                        ticket: self.ticket_id.clone(),
                        answer,
                    });
                }
                (200, Some("queue")) => {
                    self.set_known();
                    if out_of_time {
                        self.withdraw();
                        self.ctx.print_json(&answer);
                        return Err(Failure::new(
                            exit::TIMED_OUT,
                            format!(
                                "timed out after {} waiting in line for {}: {}",
                                duration::format(started.elapsed()),
                                self.what(),
                                self.closed_gates()
                            ),
                        ));
                    }
                    self.tell(&progress);
                }
                (200, Some("denied")) => {
                    self.ctx.print_json(&answer);
                    let gone = self.known();
                    let why = if gone {
                        "the ticket is gone (expired, or its service deleted)".to_string()
                    } else {
                        self.closed_gates()
                    };
                    let line = format!("denied {}: {why}", self.what());
                    // A closed gate is busy (`-E N`); a ticket that vanished is a plain no.
                    return Err(if gone {
                        Failure::new(exit::NO, line)
                    } else {
                        Failure::busy(line)
                    });
                }
                // Our ticket is gone (expired, or deleted): the original's 404.
                (404, _) if self.known() && answer.reason().contains("Ticket does not exist") => {
                    self.ctx.print_json(&answer);
                    return Err(Failure::new(
                        exit::NO,
                        format!(
                            "denied {}: the ticket is gone (expired, or deleted)",
                            self.what()
                        ),
                    ));
                }
                (400 | 404, _) => {
                    self.ctx.print_json(&answer);
                    return Err(Failure::new(exit::USAGE, answer.reason()));
                }
                _ => return Err(unexpected(&answer)),
            }
        }
    }

    /// Deletes our ticket, whether or not an answer about it came (404 if it was never made).
    fn withdraw(&self) {
        let _ = delete_ticket(&self.ctx, &self.ticket_id);
    }

    fn what(&self) -> String {
        let parts: Vec<String> = self
            .gates
            .iter()
            .map(|(service, envs)| format!("{service}:{}", envs.join(",")))
            .collect();
        parts.join(" ")
    }
}

/// A granted ticket: it holds its gates until deleted, so there is nothing to renew.
pub struct GateHeld {
    ctx: Arc<Ctx>,
    ticket: String,
    answer: Answer,
}

impl Held for GateHeld {
    fn keep(&self) {
        if self.ctx.json {
            self.ctx.print_json(&self.answer);
        } else {
            println!("{}", self.ticket);
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![("WEBLOCK_TICKET", self.ticket.clone())]
    }

    fn renew_every(&self) -> Option<Duration> {
        None
    }

    fn renew(&mut self) -> Result<(), Lapse> {
        Ok(())
    }

    fn release(&self) {
        if let Err(failure) = leave_quietly(&self.ctx, &self.ticket) {
            warn!(
                "weblock: could not give back ticket {}: {}; run `weblock gate leave {}`",
                self.ticket, failure.message, self.ticket
            );
        }
    }
}

fn leave_quietly(ctx: &Ctx, ticket: &str) -> Result<(), Failure> {
    let answer = delete_ticket(ctx, ticket)?;
    match answer.status {
        200 | 404 => Ok(()),
        _ => Err(unexpected(&answer)),
    }
}
