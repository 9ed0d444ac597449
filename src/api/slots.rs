//! `slots` and `mode` as every dialect's acquire takes them, the reason a refusal of them gives, and
//! the holders' list the dialects show beside the one holder their documents know.

use serde_json::{Value, json};

use super::params::Params;
use crate::engine::{LockView, MAX_SLOTS, Mode};
use crate::http::message::seconds;
use crate::timefmt;

/// `slots` and `mode` of an acquire, from any encoding `Params` reads: `slots` a whole number from 1
/// to `MAX_SLOTS` (absent or empty: join what is in force), `mode` `exclusive` (the default) or
/// `shared`.
pub fn slots_and_mode(params: &Params) -> Result<(Option<u32>, Mode), String> {
    let slots = match params.text("slots").map_err(|e| e.to_string())? {
        None => None,
        Some(text) if text.trim().is_empty() => None,
        Some(text) => Some(parse_slots(text.trim())?),
    };
    let mode = match params.text("mode").map_err(|e| e.to_string())? {
        None => Mode::Exclusive,
        Some(text) => match text.trim().to_ascii_lowercase().as_str() {
            "" | "exclusive" => Mode::Exclusive,
            "shared" => Mode::Shared,
            _ => {
                return Err(format!(
                    "invalid mode {:?}: use exclusive or shared",
                    shorten(&text)
                ));
            }
        },
    };
    Ok((slots, mode))
}

/// Holder text at most this long (as WebMutex's `holder`).
pub const MAX_HOLDER_BYTES: usize = 256;

/// A free-text `holder` field (a gate ticket's: `user@host pid`): empty when absent or null; `Err`
/// for anything but a string, one longer than `MAX_HOLDER_BYTES`, or one with control characters
/// (status lines are printed on terminals: no escape sequences or line breaks smuggled in).
pub fn holder_text(value: Option<&Value>) -> Result<String, String> {
    match value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(h)) if h.len() > MAX_HOLDER_BYTES => {
            Err(format!("holder is longer than {MAX_HOLDER_BYTES} bytes"))
        }
        Some(Value::String(h)) if h.chars().any(char::is_control) => {
            Err("holder must not contain control characters".into())
        }
        Some(Value::String(h)) => Ok(h.clone()),
        Some(_) => Err("holder must be a string".into()),
    }
}

fn parse_slots(text: &str) -> Result<u32, String> {
    let range = format!("a whole number from 1 to {MAX_SLOTS}");
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid slots {:?}: use {range}", shorten(text)));
    }
    // All digits: only too many of them fails to parse.
    match text.parse::<u64>() {
        Ok(0) => Err(format!("slots must be at least 1: use {range}")),
        Ok(n) if n <= u64::from(MAX_SLOTS) => Ok(n as u32),
        _ => Err(format!("slots must be at most {MAX_SLOTS}")),
    }
}

/// A value quoted in an error, cut short: a client's typo, not a megabyte.
fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Why an acquire naming `asked` slots was refused while `resource` is in use with `in_force`.
pub fn differ_reason(resource: &str, in_force: Option<u32>, asked: u32) -> String {
    match in_force {
        Some(n) => format!(
            "\"{resource}\" admits {n} holder{} (slots={n}); this request asked for {asked}",
            if n == 1 { "" } else { "s" }
        ),
        None => format!(
            "\"{resource}\" admits 1 exclusive holder or any number of shared ones (no slots set); this request asked for {asked}"
        ),
    }
}

/// `slots`, `free` (null when unbounded) and `mode` (null when free) of a lock.
pub fn slot_fields(view: Option<&LockView>) -> [(&'static str, Value); 3] {
    let (limit, free, mode) = match view {
        Some(v) => (v.limit(), v.free(), v.mode.map(|m| json!(m.as_str()))),
        // A free lock: what the default gives the next exclusive grab.
        None => (Some(1), Some(1), None),
    };
    [
        ("slots", json!(limit)),
        ("free", json!(free)),
        ("mode", mode.unwrap_or(Value::Null)),
    ]
}

/// The holders, oldest first: `holder`, `since`, `held_for`, `fence`, `mode`, and with a lease
/// `ttl`, `expires`, `ttl_left`. Never a token.
pub fn holders_json(view: Option<&LockView>, now: u64) -> Value {
    let holders = view.map_or(&[][..], |v| &v.holders[..]);
    let list: Vec<Value> = holders
        .iter()
        .map(|h| {
            let mut m = json!({
                "holder": h.holder,
                "since": timefmt::rfc3339(h.since),
                "held_for": seconds(now.saturating_sub(h.since)),
                "fence": h.fence,
                "mode": h.mode.as_str(),
            });
            if let (Some(ttl), Some(expires)) = (h.ttl_ms, h.expires) {
                m["ttl"] = seconds(ttl);
                m["expires"] = timefmt::rfc3339(expires).into();
                m["ttl_left"] = seconds(expires.saturating_sub(now));
            }
            m
        })
        .collect();
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(query: &str) -> Result<(Option<u32>, Mode), String> {
        let params = Params::parse(Some(query), None, b"").map_err(|e| e.to_string())?;
        slots_and_mode(&params)
    }

    #[test]
    fn slots_and_mode_are_read_and_bounded() {
        assert_eq!(parsed(""), Ok((None, Mode::Exclusive)));
        assert_eq!(parsed("slots=3&mode=shared"), Ok((Some(3), Mode::Shared)));
        assert_eq!(parsed("slots=&mode=EXCLUSIVE"), Ok((None, Mode::Exclusive)));
        assert_eq!(parsed("slots=10000"), Ok((Some(10_000), Mode::Exclusive)));
        for bad in [
            "slots=0",
            "slots=10001",
            "slots=-1",
            "slots=2.5",
            "slots=x",
            "mode=readers",
        ] {
            assert!(parsed(bad).is_err(), "{bad} is accepted");
        }
        let huge = format!("slots={}", "9".repeat(40));
        assert_eq!(
            parsed(&huge),
            Err(format!("slots must be at most {MAX_SLOTS}"))
        );
    }

    #[test]
    fn a_refusal_says_the_slots_in_force() {
        assert_eq!(
            differ_reason("db", Some(3), 2),
            "\"db\" admits 3 holders (slots=3); this request asked for 2"
        );
        assert!(differ_reason("db", None, 2).contains("no slots set"));
    }
}
