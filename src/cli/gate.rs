//! `weblock gate …` and `weblock wait SERVICE:ENV`: the gatekeeper API from the command line.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{Answer, Body};
use super::lock::{Ctx, ONE_SHOT_RETRY, poll_cap, unexpected};
use super::progress::{News, Progress};
use super::text;
use super::{Failure, exit};
use crate::duration;

/// Gates named on the command line: `shop:live`, `shop:testing,live`, several of them.
pub fn parse_gates(specs: &[String]) -> Result<BTreeMap<String, Vec<String>>, Failure> {
    let mut gates: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for spec in specs {
        let Some((service, envs)) = spec.split_once(':') else {
            return Err(Failure::new(
                exit::USAGE,
                format!("invalid gate {spec:?}: use SERVICE:ENV or SERVICE:ENV1,ENV2"),
            ));
        };
        let envs: Vec<&str> = envs.split(',').filter(|e| !e.is_empty()).collect();
        if service.is_empty() || envs.is_empty() {
            return Err(Failure::new(
                exit::USAGE,
                format!("invalid gate {spec:?}: use SERVICE:ENV or SERVICE:ENV1,ENV2"),
            ));
        }
        super::names::gate("service", service)?;
        for env in &envs {
            super::names::gate("gate", env)?;
        }
        let list = gates.entry(service.to_string()).or_default();
        for env in envs {
            if !list.iter().any(|e| e == env) {
                list.push(env.to_string());
            }
        }
    }
    Ok(gates)
}

pub(super) fn one_shot(ctx: &Ctx, method: &str, path: &str, body: Body) -> Result<Answer, Failure> {
    ctx.send(
        method,
        path,
        &[],
        body,
        Duration::ZERO,
        Instant::now() + ONE_SHOT_RETRY,
    )
}

/// 200 is done; 400 and 404 are the caller's mistake (exit 2), said with `what` it was about (the
/// server's reasons are the gatekeeper document's bare phrases, `Gate not found`); anything else
/// unexpected.
fn judge(ctx: &Ctx, answer: &Answer, what: &str) -> Result<(), Failure> {
    ctx.print_json(answer);
    match answer.status {
        200 => Ok(()),
        400 | 404 => Err(Failure::new(
            exit::USAGE,
            format!("{what}: {}", answer.reason()),
        )),
        _ => Err(unexpected(answer)),
    }
}

pub fn create(ctx: &Ctx, service: &str, group: &str, envs: &[String]) -> Result<(), Failure> {
    let body = json!({"group": group, "environments": envs});
    let answer = one_shot(ctx, "POST", &service_path(service), Body::Json(&body))?;
    judge(ctx, &answer, service)
}

pub fn delete(ctx: &Ctx, service: &str) -> Result<(), Failure> {
    let answer = one_shot(ctx, "DELETE", &service_path(service), Body::None)?;
    judge(ctx, &answer, service)
}

pub fn set(
    ctx: &Ctx,
    service: &str,
    env: &str,
    state: &str,
    message: Option<&str>,
) -> Result<(), Failure> {
    let mut body = json!({"state": state});
    if let Some(m) = message {
        body["message"] = m.into();
    }
    let path = format!("{}/{}", service_path(service), encode(env));
    let answer = one_shot(ctx, "PUT", &path, Body::Json(&body))?;
    judge(ctx, &answer, &format!("{service}:{env}"))
}

/// `DELETE /api/tickets/{id}`, retried for a few seconds if the server is unreachable.
pub(super) fn delete_ticket(ctx: &Ctx, ticket: &str) -> Result<Answer, Failure> {
    let path = format!("/api/tickets/{}", encode(ticket));
    one_shot(ctx, "DELETE", &path, Body::None)
}

pub fn leave(ctx: &Ctx, ticket: &str) -> Result<(), Failure> {
    let answer = delete_ticket(ctx, ticket)?;
    ctx.print_json(&answer);
    match answer.status {
        200 => Ok(()),
        404 => Err(Failure::new(
            exit::NO,
            format!("no ticket {ticket} (expired, or already left)"),
        )),
        _ => Err(unexpected(&answer)),
    }
}

pub fn show(ctx: &Ctx, service: Option<&str>) -> Result<(), Failure> {
    let path = service.map_or("/api/services".to_string(), service_path);
    let answer = one_shot(ctx, "GET", &path, Body::None)?;
    if answer.status != 200 {
        return judge(ctx, &answer, service.unwrap_or("services"));
    }
    if ctx.json {
        ctx.print_json(&answer);
        return Ok(());
    }
    match answer.body.get("services").and_then(Value::as_array) {
        Some(all) if all.is_empty() => println!("no services"),
        Some(all) => all.iter().for_each(print_service),
        None => print_service(&answer.body),
    }
    Ok(())
}

/// `shop (group team12)` and a line per gate: state, message, queue.
fn print_service(doc: &Value) {
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    println!("{} (group {})", field(doc, "name"), field(doc, "group"));
    let Some(envs) = doc.get("environments").and_then(Value::as_object) else {
        return;
    };
    let width = envs.keys().map(|e| text::columns(e)).max().unwrap_or(0);
    for (name, gate) in envs {
        let mut line = format!("  {}  {:6}", text::pad(name, width), field(gate, "state"));
        let message = field(gate, "message");
        if !message.is_empty() {
            line.push_str(&format!("  {message:?}"));
        }
        if let Some(queue) = gate
            .get("queue")
            .and_then(Value::as_array)
            .filter(|q| !q.is_empty())
        {
            let ids: Vec<&str> = queue.iter().filter_map(ticket_id).collect();
            line.push_str(&format!("  tickets: {}", ids.join(", ")));
        }
        println!("{}", line.trim_end());
    }
}

/// A closed gate, for the progress line: `it is closed ("testing. -Jens")`, and the tickets in line.
fn gate_news(gate: &Value) -> News {
    let state = gate
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("closed");
    let message = gate.get("message").and_then(Value::as_str).unwrap_or("");
    let note = if message.is_empty() {
        format!("it is {state}")
    } else {
        format!("it is {state} ({message:?})")
    };
    News {
        note: Some(note),
        waiting: gate
            .get("queue")
            .and_then(Value::as_array)
            .map(|q| q.len() as u64),
        ..News::default()
    }
}

/// `weblock wait SERVICE:ENV`: until the gate is open (open by hand, and held by no ticket).
pub fn wait_open(ctx: &Ctx, spec: &str, timeout: Option<Duration>) -> Result<(), Failure> {
    let gates = parse_gates(&[spec.to_string()])?;
    let (service, envs) = gates
        .iter()
        .next()
        .ok_or_else(|| Failure::new(exit::USAGE, "no gate"))?;
    let [env] = envs.as_slice() else {
        return Err(Failure::new(
            exit::USAGE,
            "weblock wait takes one gate: SERVICE:ENV",
        ));
    };
    let path = format!("{}/{}", service_path(service), encode(env));
    let started = Instant::now();
    let deadline = timeout.map(|t| started + t);
    let progress = Progress::start(ctx.progress, &format!("{spec} to open"), deadline);
    let mut first = true;
    loop {
        let now = Instant::now();
        let cap = poll_cap(&progress, std::mem::take(&mut first));
        let poll = deadline.map_or(cap, |d| d.saturating_duration_since(now).min(cap));
        let query = [("wait", format!("{:.3}", poll.as_secs_f64()))];
        let retry_until = deadline.unwrap_or(now + Duration::from_secs(365 * 86_400));
        let answer = ctx.send("GET", &path, &query, Body::None, poll, retry_until)?;
        let over = answer.status != 200
            || answer.str("state") == Some("open")
            || deadline.is_some_and(|d| Instant::now() >= d);
        if !over {
            progress.news(gate_news(&answer.body));
            continue;
        }
        progress.finish();
        if answer.status != 200 {
            return judge(ctx, &answer, spec);
        }
        if answer.str("state") == Some("open") {
            ctx.print_json(&answer);
            return Ok(());
        }
        ctx.print_json(&answer);
        let message = answer.str("message").filter(|m| !m.is_empty());
        return Err(Failure::new(
            exit::TIMED_OUT,
            format!(
                "timed out after {} waiting for {spec} to open: it is closed{}",
                duration::format(started.elapsed()),
                message.map(|m| format!(" ({m:?})")).unwrap_or_default()
            ),
        ));
    }
}

/// A ticket's id in a gate's `queue`: a ticket object (`{"id", …}`), or an id (older servers).
pub(super) fn ticket_id(entry: &Value) -> Option<&str> {
    entry
        .as_str()
        .or_else(|| entry.get("id").and_then(Value::as_str))
}

pub(super) fn service_path(service: &str) -> String {
    format!("/api/services/{}", encode(service))
}

/// Percent-encodes a path segment.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_specs_are_grouped_by_service() {
        let specs = [
            "shop:live".to_string(),
            "shop:testing,live".into(),
            "pipeline:meta".into(),
        ];
        let gates = parse_gates(&specs).unwrap();
        assert_eq!(gates["shop"], ["live", "testing"]);
        assert_eq!(gates["pipeline"], ["meta"]);
        assert!(parse_gates(&["nocolon".to_string()]).is_err());
        assert!(parse_gates(&["shop:".to_string()]).is_err());
        assert!(parse_gates(&[":live".to_string()]).is_err());
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
        assert_eq!(encode("live-1.x"), "live-1.x");
    }
}
