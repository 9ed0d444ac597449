//! `GET /` for a browser: the dashboard, one self-contained page (inline CSS and plain JavaScript, no
//! external asset) that polls the JSON APIs the server already has — WebMutex `GET /status` for locks,
//! the gatekeeper's `GET /api/services` for gates and tickets — about once a second.
//!
//! Only a request that asks for HTML (`Accept: text/html`, as browsers send) gets it: `GET /` from a
//! script answers what it always did (404).
use super::http::{Request, Response};

const PAGE: &str = include_str!("dashboard.html");

/// Whether `req` is a browser asking for the dashboard.
pub fn wanted(req: &Request) -> bool {
    matches!(req.method(), "GET" | "HEAD")
        && req.path() == "/"
        && req
            .header("accept")
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
}

pub fn page() -> Response {
    let mut r = Response::new(200);
    r.body = PAGE.as_bytes().to_vec();
    r.with_header("Content-Type", "text/html; charset=utf-8")
        .with_header("Cache-Control", "no-store")
        .with_header("X-Content-Type-Options", "nosniff")
        // The page loads nothing from anywhere: its own script and style, and the server's JSON.
        .with_header(
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
        )
}

/// The 401 for the page under `--auth-file`. Browsers read one challenge per `WWW-Authenticate` line
/// and know no Bearer, so the page's challenge is Basic alone: the browser asks for a user (any) and a
/// password (a secret), and sends them with the page's own requests from then on.
pub fn challenge(mut refusal: Response) -> Response {
    refusal
        .headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case("www-authenticate"));
    refusal.with_header(
        "WWW-Authenticate",
        "Basic realm=\"weblock\", charset=\"UTF-8\"",
    )
}
