//! The lock commands: grab, release, renew, status, wait, and the waiting half of wait-grab.
use std::time::{Duration, Instant};

use super::client::{Answer, Body, CallError, Client};
use super::progress::{News, Progress};
use super::tokens::{Held, Tokens};
use super::{Failure, exit};
use crate::duration;

/// How long a one-shot command keeps retrying an unreachable server.
pub const ONE_SHOT_RETRY: Duration = Duration::from_secs(5);
/// The longest a single long-poll waits on the server before the client asks again (re-polls keep
/// their place in the queue: they carry the same token).
pub const POLL: Duration = Duration::from_secs(25);
/// On a terminal the progress line wants news sooner: the first poll lasts 1 s, later ones 5 s.
const FIRST_LOOK: Duration = Duration::from_secs(1);
const LOOK: Duration = Duration::from_secs(5);

/// The longest the next long-poll may wait on the server.
pub fn poll_cap(progress: &Progress, first: bool) -> Duration {
    match (progress.active(), first) {
        (false, _) => POLL,
        (true, true) => FIRST_LOOK,
        (true, false) => LOOK,
    }
}
/// Extra time a call may take beyond the server-side wait before the client gives up on it.
const CALL_SLACK: Duration = Duration::from_secs(10);
/// How far past its deadline a long-poll's try may run (see `Ctx::send`).
const PAST_DEADLINE: Duration = Duration::from_millis(400);

/// The shortest time a renewal is given to be answered, even at its deadline.
const RENEW_CALL_MIN: Duration = Duration::from_millis(500);

pub struct Ctx {
    pub client: Client,
    pub json: bool,
    /// Show a progress line on stderr while waiting (stderr is a terminal).
    pub progress: bool,
}

/// How long to wait in line.
#[derive(Debug, Clone, Copy)]
pub enum Waiting {
    No,
    For(Duration),
    Forever,
}

/// What a client asks for.
#[derive(Clone)]
pub struct Want {
    pub name: String,
    pub holder: String,
    pub ttl: Option<Duration>,
    pub waiting: Waiting,
    /// How many may hold it at once (`None`: whatever is in force).
    pub slots: Option<u32>,
    /// Held beside other shared holders, never beside an exclusive one.
    pub shared: bool,
}

/// A lock this client now holds.
pub struct Got {
    pub token: String,
    pub fence: u64,
    pub answer: Answer,
}

impl Ctx {
    /// A form request (GET: query string); see `send`.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        form: &[(&str, String)],
        server_wait: Duration,
        deadline: Instant,
    ) -> Result<Answer, Failure> {
        let (query, body) = match method {
            "GET" => (form, Body::None),
            _ => (&[][..], Body::Form(form)),
        };
        self.send(method, path, query, body, server_wait, deadline)
    }

    /// A request that may wait `server_wait` on the server, retried until `deadline`; an unreachable
    /// server is exit code 4 with a line that says where it was looked for.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Body,
        server_wait: Duration,
        deadline: Instant,
    ) -> Result<Answer, Failure> {
        // A long-poll whose server-side wait ends at the deadline is answered just then: its answer
        // must not be cut off. No more than that, so `--timeout` holds to within half a second.
        let past = if server_wait.is_zero() {
            Duration::ZERO
        } else {
            PAST_DEADLINE
        };
        self.send_timed(
            method,
            path,
            query,
            body,
            (server_wait + CALL_SLACK, past),
            deadline,
        )
    }

    /// `send`, each try answered within `per_call.0`, and none running more than `per_call.1` past
    /// `deadline`.
    fn send_timed(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Body,
        (per_call, past): (Duration, Duration),
        deadline: Instant,
    ) -> Result<Answer, Failure> {
        self.client
            .send(method, path, query, body, per_call, (deadline, past))
            .map_err(|e| match e {
                CallError::Refused(why) => Failure::new(exit::REFUSED, why),
                CallError::Tls(why) => Failure::new(
                    exit::UNREACHABLE,
                    format!("{}: {why}", self.client.servers()),
                ),
                CallError::Unreachable(why) => Failure::new(
                    exit::UNREACHABLE,
                    format!(
                        "cannot reach the weblock server at {}: {why} (is `weblock serve` running there? set --server or WEBLOCK_URL)",
                        self.client.servers()
                    ),
                ),
            })
    }

    /// Prints the server's JSON, with `--json`.
    pub fn print_json(&self, answer: &Answer) {
        if self.json {
            super::json_out::keep(&answer.body);
        }
    }
}

/// Takes the lock, waiting in the server's queue as `want.waiting` allows, with a token chosen by the
/// caller (who may need it to withdraw on a signal). Each poll carries that token, so a retried or
/// repeated poll keeps its place and a grant is never taken twice.
pub fn acquire_with(ctx: &Ctx, want: &Want, token: &str) -> Result<Got, Failure> {
    let token = token.to_string();
    let started = Instant::now();
    let deadline = match want.waiting {
        Waiting::No => None,
        Waiting::For(d) => Some(started + d),
        Waiting::Forever => None,
    };
    let retry_until = |now: Instant| match (want.waiting, deadline) {
        (Waiting::Forever, _) => now + Duration::from_secs(365 * 86_400),
        (_, Some(d)) => d,
        (_, None) => now + ONE_SHOT_RETRY,
    };
    let waits = !matches!(want.waiting, Waiting::No);
    let progress = Progress::start(ctx.progress && waits, &want.name, deadline);
    let mut first = true;
    loop {
        let now = Instant::now();
        let cap = poll_cap(&progress, std::mem::take(&mut first));
        let poll = match (want.waiting, deadline) {
            (Waiting::No, _) => Duration::ZERO,
            (_, Some(d)) => d.saturating_duration_since(now).min(cap),
            (_, None) => cap,
        };
        let mut form = vec![
            ("id", want.name.to_string()),
            ("token", token.clone()),
            ("holder", want.holder.clone()),
            ("wait", format!("{:.3}", poll.as_secs_f64())),
        ];
        if let Some(ttl) = want.ttl {
            form.push(("ttl", format!("{:.3}", ttl.as_secs_f64())));
        }
        if let Some(slots) = want.slots {
            form.push(("slots", slots.to_string()));
        }
        if want.shared {
            form.push(("mode", "shared".to_string()));
        }
        let answer = ctx.call("POST", "/grab", &form, poll, retry_until(now))?;
        match answer.status {
            200 => {
                let fence = answer.u64("fence").unwrap_or(0);
                return Ok(Got {
                    token,
                    fence,
                    answer,
                });
            }
            // Another number of slots is in force: no wait would change that.
            409 if answer.u64("asked").is_some() => {
                ctx.print_json(&answer);
                return Err(Failure::new(exit::NO, answer.reason()));
            }
            409 if poll.is_zero() => {
                ctx.print_json(&answer);
                return Err(Failure::busy(busy_line(&want.name, &answer)));
            }
            409 if deadline.is_some_and(|d| Instant::now() >= d) => {
                progress.finish();
                // Out of time: leave the queue (or give back a grant that raced the deadline).
                withdraw(ctx, &want.name, &token);
                let waited = duration::format(started.elapsed());
                let line = format!(
                    "timed out after {waited} waiting for {}: {}",
                    want.name,
                    holder_phrase(&answer)
                );
                // The server's last word was "still queued"; after the withdrawal it is not.
                let mut answer = answer;
                if let Some(body) = answer.body.as_object_mut() {
                    body.remove("queued");
                    body.remove("position");
                    body.insert("reason".into(), line.clone().into());
                }
                ctx.print_json(&answer);
                return Err(Failure::new(exit::TIMED_OUT, line));
            }
            409 if answer.flag("timed_out") => progress.news(News::from_lock(&answer.body)),
            // Ended otherwise (an administrator deleted the lock, say): the answer is no.
            409 => {
                progress.finish();
                ctx.print_json(&answer);
                return Err(Failure::new(exit::NO, answer.reason()));
            }
            400 => return Err(Failure::new(exit::USAGE, answer.reason())),
            _ => return Err(unexpected(&answer)),
        }
    }
}

/// Leaves the queue, or releases a grant that arrived as we gave up. Best effort: the server forgets
/// an abandoned waiter by itself soon after.
pub fn withdraw(ctx: &Ctx, name: &str, token: &str) {
    let form = [("id", name.to_string()), ("token", token.to_string())];
    let _ = ctx.call(
        "POST",
        "/release",
        &form,
        Duration::ZERO,
        Instant::now() + Duration::from_secs(2),
    );
}

/// Keeps the token for a later `weblock release NAME`; a failure to do so is worth a warning, not a
/// failure of the grab (the token is printed).
pub fn remember(ctx: &Ctx, name: &str, got: &Got) {
    let held = Held {
        server: ctx.client.servers(),
        name: name.to_string(),
        token: got.token.clone(),
        fence: got.fence,
        released: false,
    };
    if let Err(e) = Tokens::open().and_then(|t| t.remember(held)) {
        warn!("weblock: warning: cannot remember the token ({e}); release with --token");
    }
}

/// The token given, or the one remembered for `name` on this server.
fn token_for(ctx: &Ctx, name: &str, given: Option<String>) -> Result<String, Failure> {
    if let Some(t) = given {
        return Ok(t);
    }
    let found = Tokens::open()
        .and_then(|t| t.find(&ctx.client.servers(), name))
        .map_err(|e| Failure::new(exit::USAGE, e))?;
    found.map(|h| h.token).ok_or_else(|| {
        Failure::new(
            exit::NO,
            format!(
                "you hold no token for {name} on {} (grabbed elsewhere? pass --token)",
                ctx.client.servers()
            ),
        )
    })
}

pub fn release(ctx: &Ctx, name: &str, token: Option<String>) -> Result<(), Failure> {
    let token = token_for(ctx, name, token)?;
    let answer = release_call(ctx, name, &token)?;
    ctx.print_json(&answer);
    if let Ok(t) = Tokens::open() {
        let server = ctx.client.servers();
        match answer.status {
            // Released: kept, marked, so that releasing again sends it again and succeeds.
            200 => drop(t.mark_released(&server, name, &token)),
            // Refused: this token holds nothing any more.
            409 => drop(t.forget(&server, name, &token)),
            _ => {}
        }
    }
    judge_release(&answer)
}

/// Releases `name` held with `token`, retrying an unreachable server for a few seconds; `Ok` only when
/// the server said it is released (again, if need be).
pub fn release_token(ctx: &Ctx, name: &str, token: &str) -> Result<(), Failure> {
    judge_release(&release_call(ctx, name, token)?)
}

fn release_call(ctx: &Ctx, name: &str, token: &str) -> Result<Answer, Failure> {
    let form = [("id", name.to_string()), ("token", token.to_string())];
    let deadline = Instant::now() + ONE_SHOT_RETRY;
    ctx.call("POST", "/release", &form, Duration::ZERO, deadline)
}

fn judge_release(answer: &Answer) -> Result<(), Failure> {
    match answer.status {
        200 => Ok(()),
        409 => Err(Failure::new(exit::NO, answer.reason())),
        400 => Err(Failure::new(exit::USAGE, answer.reason())),
        _ => Err(unexpected(answer)),
    }
}

pub fn renew(
    ctx: &Ctx,
    name: &str,
    token: Option<String>,
    ttl: Option<Duration>,
) -> Result<(), Failure> {
    let token = token_for(ctx, name, token)?;
    let answer = renew_once(ctx, name, &token, ttl, Instant::now() + ONE_SHOT_RETRY)?;
    ctx.print_json(&answer);
    match answer.status {
        200 => Ok(()),
        409 => Err(Failure::new(exit::NO, answer.reason())),
        400 => Err(Failure::new(exit::USAGE, answer.reason())),
        _ => Err(unexpected(&answer)),
    }
}

pub fn renew_once(
    ctx: &Ctx,
    name: &str,
    token: &str,
    ttl: Option<Duration>,
    deadline: Instant,
) -> Result<Answer, Failure> {
    renew_try(ctx, name, token, ttl, deadline, deadline)
}

/// `renew_once`, with no new try started after `retry_until` (at most `deadline`): a try already
/// under way may still take until `deadline` (plus a moment), as it would in `renew_once`.
pub fn renew_try(
    ctx: &Ctx,
    name: &str,
    token: &str,
    ttl: Option<Duration>,
    deadline: Instant,
    retry_until: Instant,
) -> Result<Answer, Failure> {
    let mut form = vec![("id", name.to_string()), ("token", token.to_string())];
    if let Some(ttl) = ttl {
        form.push(("ttl", format!("{:.3}", ttl.as_secs_f64())));
    }
    // No try outlasts the deadline (the lease's end, for a command's renewer) by more than a
    // moment: an unanswered renewal must not let the command run on past the lease.
    let per_call = deadline
        .saturating_duration_since(Instant::now())
        .clamp(RENEW_CALL_MIN, CALL_SLACK);
    let retry_until = retry_until.min(deadline);
    // A try started before `retry_until` may run until `deadline` and a moment, as in `renew_once`.
    let past = deadline.saturating_duration_since(retry_until) + RENEW_CALL_MIN;
    ctx.send_timed(
        "POST",
        "/renew",
        &[],
        Body::Form(&form),
        (per_call, past),
        retry_until,
    )
}

/// Blocks until nobody holds `name` and nobody waits for it.
pub fn wait_free(ctx: &Ctx, name: &str, timeout: Option<Duration>) -> Result<(), Failure> {
    let started = Instant::now();
    let deadline = timeout.map(|t| started + t);
    let progress = Progress::start(ctx.progress, &format!("{name} to be free"), deadline);
    let mut first = true;
    loop {
        let now = Instant::now();
        let cap = poll_cap(&progress, std::mem::take(&mut first));
        let poll = deadline.map_or(cap, |d| d.saturating_duration_since(now).min(cap));
        let form = [
            ("id", name.to_string()),
            ("wait", format!("{:.3}", poll.as_secs_f64())),
        ];
        // --timeout holds whatever the server does (see `Ctx::send`).
        let retry_until = deadline.unwrap_or(now + Duration::from_secs(365 * 86_400));
        let answer = ctx.call("GET", "/status", &form, poll, retry_until)?;
        match answer.status {
            200 if !answer.flag("in_use") => {
                progress.finish();
                ctx.print_json(&answer);
                return Ok(());
            }
            200 if deadline.is_some_and(|d| Instant::now() >= d) => {
                progress.finish();
                ctx.print_json(&answer);
                return Err(Failure::new(
                    exit::TIMED_OUT,
                    format!(
                        "timed out after {} waiting for {name} to be free: {}",
                        duration::format(started.elapsed()),
                        holder_phrase(&answer)
                    ),
                ));
            }
            200 => progress.news(News::from_lock(&answer.body)),
            400 => return Err(Failure::new(exit::USAGE, answer.reason())),
            _ => return Err(unexpected(&answer)),
        }
    }
}

/// `held by alice@build3 for 3m12s (2 others waiting)`.
pub fn holder_phrase(answer: &Answer) -> String {
    let Some(holder) = answer.str("holder") else {
        return "still busy".to_string();
    };
    let mut phrase = format!("held by {holder}");
    let others = answer
        .body
        .get("holders")
        .and_then(serde_json::Value::as_array)
        .map_or(0, |h| h.len().saturating_sub(1));
    if others > 0 {
        phrase.push_str(&format!(" and {others} more"));
    }
    // One time style in every message, as `status` says it: for how long, not since when (a UTC
    // timestamp means arithmetic to a reader).
    let held_for = answer
        .f64("held_for")
        .filter(|s| s.is_finite() && (0.0..1e12).contains(s));
    match (held_for, answer.str("since")) {
        (Some(secs), _) => phrase.push_str(&format!(
            " for {}",
            duration::format(Duration::from_secs_f64(secs))
        )),
        (None, Some(since)) => phrase.push_str(&format!(" since {since}")),
        (None, None) => {}
    }
    // The count is of the line as the server sees it, which holds this client while it is queued.
    let mut others = answer.u64("waiting").unwrap_or(0);
    if answer.flag("queued") || answer.u64("position").is_some() {
        others = others.saturating_sub(1);
    }
    match others {
        0 => {}
        1 => phrase.push_str(" (1 other waiting)"),
        n => phrase.push_str(&format!(" ({n} others waiting)")),
    }
    phrase
}

fn busy_line(name: &str, answer: &Answer) -> String {
    match answer.str("holder") {
        Some(_) => format!("{name} is {}", holder_phrase(answer)),
        None => format!("{name} is busy: {}", answer.reason()),
    }
}

pub fn unexpected(answer: &Answer) -> Failure {
    Failure::new(
        exit::UNREACHABLE,
        format!("unexpected answer from the server: {}", answer.reason()),
    )
}
