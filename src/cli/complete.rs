//! `weblock __complete WHAT`: the names the shells' completion scripts offer, read from the server.
//!
//! Not a clap subcommand, so it appears in no help, man page or completion list: the scripts call it
//! (`weblock __complete locks`) and the user never does. It must be quick and silent: one try at the
//! server named by `WEBLOCK_URL` (or the default), given at most `WITHIN`; whatever goes wrong (no
//! server, a refused secret, a strange answer), it prints nothing and exits 0, so a TAB never hangs
//! or prints an error into the command line being edited.
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::DEFAULT_SERVER;
use super::client::{Body, Client};

/// The whole budget of one completion: a TAB must answer at once, server or not.
const WITHIN: Duration = Duration::from_millis(400);

/// What the scripts ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    /// Every lock held or waited for.
    Locks,
    /// Every gatekeeper service.
    Services,
    /// Every gate, as `SERVICE:ENV`.
    Gates,
}

/// Runs `weblock __complete WHAT` with `args` the words after `__complete`.
pub fn main(args: &[String]) -> ExitCode {
    let what = match args.first().map(String::as_str) {
        Some("locks") => What::Locks,
        Some("services") => What::Services,
        Some("gates") => What::Gates,
        _ => return ExitCode::SUCCESS,
    };
    let names = names(what).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    for name in names {
        if writeln!(out, "{name}").is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

fn names(what: What) -> Option<Vec<String>> {
    let server = std::env::var("WEBLOCK_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_SERVER.to_string());
    let client = Client::new(&server).ok()?;
    let path = match what {
        What::Locks => "/status",
        What::Services | What::Gates => "/api/services",
    };
    let deadline = Instant::now() + WITHIN;
    let answer = client
        .send(
            "GET",
            path,
            &[],
            Body::None,
            WITHIN,
            (deadline, Duration::ZERO),
        )
        .ok()?;
    (answer.status == 200).then(|| pick(what, &answer.body))
}

/// The names in a `/status` or `/api/services` answer, sorted, each once. Names are shell words
/// here: one with a space or a control character could not be offered as one, and is left out.
fn pick(what: What, body: &Value) -> Vec<String> {
    let list = |key: &str| {
        body.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let mut names: Vec<String> = match what {
        What::Locks => list("locks").iter().filter_map(|l| text(l, "id")).collect(),
        What::Services => list("services")
            .iter()
            .filter_map(|s| text(s, "name"))
            .collect(),
        What::Gates => list("services")
            .iter()
            .flat_map(|s| {
                let service = text(s, "name").unwrap_or_default();
                let gates: Vec<String> = s
                    .get("environments")
                    .and_then(Value::as_object)
                    .map(|envs| envs.keys().map(|env| format!("{service}:{env}")).collect())
                    .unwrap_or_default();
                gates
            })
            .collect(),
    };
    names.retain(|n| !n.is_empty() && n.chars().all(plain));
    names.sort();
    names.dedup();
    names
}

/// A character no shell reads as more than itself in a completion word. Names are anyone's (any
/// client may create a service), and bash's `compgen -W` expands its words (parameters, command
/// substitution, braces, a leading tilde, quotes): a name with anything else is not offered (it
/// can still be typed).
fn plain(c: char) -> bool {
    c.is_alphanumeric() || "-_.:@%+=,^/".contains(c)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{What, pick};

    #[test]
    fn names_are_picked_sorted_once_and_only_as_shell_words() {
        let status = json!({"locks": [{"id": "db"}, {"id": "gpu"}, {"id": "a b"}, {"id": "db"}]});
        assert_eq!(pick(What::Locks, &status), ["db", "gpu"]);
        let services = json!({"services": [
            {"name": "shop", "environments": {"live": {}, "testing": {}}},
            {"name": "meta", "environments": {}}
        ]});
        assert_eq!(pick(What::Services, &services), ["meta", "shop"]);
        assert_eq!(pick(What::Gates, &services), ["shop:live", "shop:testing"]);
        assert!(pick(What::Locks, &json!({"status": "fail"})).is_empty());
    }

    /// bash's `compgen -W` expands every word it is given (parameters, command substitution,
    /// braces, a leading tilde) and the server's names are anyone's: a service named `$(id)` ran
    /// `id` in the shell of whoever pressed TAB. Names that a shell would read as more than text are
    /// not offered.
    #[test]
    fn names_a_shell_would_expand_are_not_offered() {
        let hostile = [
            "$(touch${IFS}pwned)",
            "`id`",
            "${HOME}",
            "$HOME",
            "{a,b}",
            "~root",
            "x;id",
            "a|b",
            "a&b",
            "a'b",
            "a\"b",
            "a\\b",
            "a*",
            "a?",
            "[ab]",
            "a>b",
            "a<b",
            "a#b",
            "a!b",
        ];
        let services: Vec<_> = hostile
            .iter()
            .map(|n| json!({"name": n, "environments": {"live": {}}}))
            .chain([json!({"name": "shop-2_x", "environments": {"$(id)": {}, "live": {}}})])
            .collect();
        let doc = json!({ "services": services });
        assert_eq!(pick(What::Services, &doc), ["shop-2_x"]);
        assert_eq!(pick(What::Gates, &doc), ["shop-2_x:live"]);
    }
}
