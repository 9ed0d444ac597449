//! `GET /` for a browser: the dashboard, one self-contained page (inline CSS and plain JavaScript, no
//! external asset, no build step) that polls the JSON APIs the server already has — WebMutex `GET
//! /status` for locks, the gatekeeper's `GET /api/services` for gates and tickets, `GET /events` for
//! the recent changes — about once a second, and acts through them (`dashboard/controls.js`: gates
//! opened and closed, services made and deleted, locks broken, tickets ended).
//!
//! The page is assembled once from `dashboard/`: `page.html` with `style.css`, `plot.js` (a lock's
//! last hour), `app.js` (polling and drawing) and `controls.js` (the actions) put in its place.
//!
//! Only a request that asks for HTML (`Accept: text/html`, as browsers send) gets it at `/`: `GET /`
//! from a script gets what this server is, as JSON (`identity`). `/gates` and `/index` (the original
//! gatekeeper's page paths) are the page for anyone. The page holds no state and no secret, so it is
//! served without `--auth-file`'s secret; it asks for one when the API refuses its requests.
use crate::http::{Request, Response};

static PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    include_str!("dashboard/page.html")
        .replace("/*STYLE*/", include_str!("dashboard/style.css"))
        .replace(
            "/*SCRIPT*/",
            concat!(
                include_str!("dashboard/plot.js"),
                include_str!("dashboard/app.js"),
                include_str!("dashboard/controls.js")
            ),
        )
});

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

pub fn page() -> Response {
    let mut r = Response::new(200);
    r.body = PAGE.as_bytes().to_vec();
    r.with_header("Content-Type", "text/html; charset=utf-8")
        .with_header("Cache-Control", "no-store")
        .with_header("X-Content-Type-Options", "nosniff")
        // No page may frame this one: its buttons act with this server's origin, so a page on
        // another site that framed it under a decoy would have them clicked past the cross-site
        // refusal (`origin.rs`). `frame-ancestors` is not covered by `default-src`; older browsers
        // read X-Frame-Options.
        .with_header("X-Frame-Options", "DENY")
        // The page loads nothing from anywhere: its own script and style, and the server's JSON.
        .with_header(
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'",
        )
}
