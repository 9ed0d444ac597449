//! Found in the second review of issues 16 and 20: each test failed before its fix.
use crate::common;

use common::Server;

/// The dashboard's buttons act as its visitor, with the page's own origin: a page on another site
/// that frames it (invisibly, under a decoy) gets them clicked, and the cross-site refusal never
/// sees a foreign Origin. The page must refuse to be framed by anyone.
#[test]
fn the_dashboard_refuses_to_be_framed_by_another_site() {
    let server = Server::start();
    for (path, headers) in [
        ("/", vec![("Accept", "text/html")]),
        ("/gates", vec![]),
        ("/index", vec![]),
    ] {
        let r = server.request("GET", path, &headers, b"");
        assert_eq!(r.status, 200, "{path}: {r}");
        let csp = r.header("Content-Security-Policy").unwrap_or("");
        assert!(
            csp.split(';')
                .any(|d| d.trim() == "frame-ancestors 'none'"),
            "{path}: the page may be framed (CSP {csp:?})"
        );
        assert_eq!(
            r.header("X-Frame-Options"),
            Some("DENY"),
            "{path}: older browsers read X-Frame-Options"
        );
    }
}
