//! `GET /` for a browser: the dashboard, one self-contained page (inline CSS and plain JavaScript, no
//! external asset) that polls the JSON APIs the server already has — WebMutex `GET /status` for locks,
//! the gatekeeper's `GET /api/services` for gates and tickets — about once a second.
//!
//! Only a request that asks for HTML (`Accept: text/html`, as browsers send) gets it at `/`; `GET /`
//! from a script gets a short JSON about the service (`root`). `/gates` and `/index` (the original
//! gatekeeper's page paths) are the page for anyone.
use super::http::{Request, Response};

const PAGE: &str = include_str!("dashboard.html");

/// Whether `req` asks for the dashboard: a browser's `GET /` (it asks for HTML), or the original
/// gatekeeper's page paths `/gates` and `/index`, which are pages whatever the client accepts.
pub fn wanted(req: &Request) -> bool {
    if !matches!(req.method(), "GET" | "HEAD") {
        return false;
    }
    match req.path() {
        "/gates" | "/gates/" | "/index" => true,
        "/" => req
            .header("accept")
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/html")),
        _ => false,
    }
}

/// `GET /` from a script: a short JSON naming the service, its version, and where its APIs and
/// their documentation are.
pub fn root() -> Response {
    Response::json(
        200,
        &serde_json::json!({
            "status": "ok",
            "service": "weblock",
            "version": env!("CARGO_PKG_VERSION"),
            "docs": "docs/api.md in weblock's source (the HTTP APIs); `weblock --help` and man weblock (the command line)",
            "apis": {
                "webmutex": "/grab, /release, /renew, /status, /reserve",
                "hal": "/locks/{resource}, /resources",
                "request_queue": "/v1/locks/",
                "gatekeeper": "/api/services, /api/tickets/{id}",
            },
            "dashboard": "/ with Accept: text/html, or /gates",
            "metrics": "/metrics",
        }),
    )
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
