//! Cross-site requests: a page on another site must not change anything here through the visitor's
//! browser (close a gate with a plain HTML form, take a lock with `fetch(…, {mode: "no-cors"})`).
//!
//! Browsers say where a request comes from: `Origin` on every POST, PUT, PATCH and DELETE (a form's
//! too), and `Sec-Fetch-Site` on every request of a current browser. A state-changing request whose
//! `Origin` names another origin than the `Host` it was sent to (or `null`, an opaque origin: a sandboxed
//! frame, a `data:` page), or whose `Sec-Fetch-Site` is `cross-site` or `same-site`, is refused with 403
//! before it reaches an API. Clients that are not browsers (the CLI, curl, scripts) send neither header
//! and are not affected; the dashboard's own requests are same-origin.
use crate::http::{Request, Response, Words};

/// Methods that change state (GET and HEAD never do; OPTIONS is answered 404/405, so a browser's
/// preflight for a cross-origin PUT fails and the PUT is never sent).
fn changes_state(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// `None` when `req` may go on; otherwise the 403 to answer with, in the API's `words`.
pub fn check(req: &Request, words: Words) -> Option<Response> {
    if !changes_state(req.method()) {
        return None;
    }
    let refuse = |why: String| {
        Some(Response::refusal(
            words,
            403,
            format!(
                "cross-site request refused: {why}; a page may change state only on its own server"
            ),
        ))
    };
    if let Some(site) = req.header("sec-fetch-site") {
        let site = site.trim().to_ascii_lowercase();
        if site == "cross-site" || site == "same-site" {
            return refuse(format!("Sec-Fetch-Site is {site}"));
        }
    }
    // No Origin: not a browser's state-changing request (the CLI, curl, a script).
    let origin = req.header("origin")?;
    let host = req.header("host").unwrap_or("");
    if same_origin(origin, host) {
        return None;
    }
    let shown: String = origin
        .chars()
        .take(100)
        .filter(|c| !c.is_control())
        .collect();
    refuse(format!("Origin {shown:?} is not this server ({host:?})"))
}

/// Whether `origin` (`scheme://host[:port]`) names the authority `host` (the `Host` header), default
/// ports aside.
fn same_origin(origin: &str, host: &str) -> bool {
    let origin = origin.trim();
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false; // "null", or nonsense
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let strip = |a: &str| -> String {
        let a = a.trim().trim_end_matches('/').to_ascii_lowercase();
        match a.strip_suffix(default_port) {
            Some(short) => short.to_string(),
            None => a,
        }
    };
    let host = strip(host);
    !host.is_empty() && strip(authority) == host
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn an_origin_is_its_host_with_or_without_the_default_port() {
        assert!(same_origin("http://127.0.0.1:7878", "127.0.0.1:7878"));
        assert!(same_origin("http://Build.Example", "build.example:80"));
        assert!(same_origin("https://build.example", "build.example"));
        assert!(same_origin("https://build.example:443", "build.example"));
        assert!(!same_origin("http://127.0.0.1:7879", "127.0.0.1:7878"));
        assert!(!same_origin("http://evil.example", "build.example"));
        assert!(!same_origin("https://build.example", "build.example:80"));
        assert!(!same_origin("null", "build.example"));
        assert!(!same_origin("http://x", ""));
        assert!(!same_origin("file://", "x"));
    }
}
