//! The one place that decides the base of every absolute URL the server writes (HAL's `Location`,
//! request-queue URLs, gatekeeper ticket links): `scheme://host[:port]`, without a trailing slash.
//!
//! In order: `serve --public-url` when given (behind a proxy, the address clients must use);
//! otherwise, for a peer in a `--trusted-proxy` range, `X-Forwarded-Proto` and `X-Forwarded-Host`
//! (each only when well-formed); otherwise `http://` and the request's `Host`. The forwarded headers
//! of any other peer are ignored: anyone could send them, and a client must not be able to make the
//! server hand out URLs to a host of its choosing.
use std::net::IpAddr;

use super::cidr::Cidr;
use crate::http::Request;

/// `--public-url`: `http` or `https`, a host, maybe a port; no path, query, fragment or user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl std::str::FromStr for PublicUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<PublicUrl, String> {
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            format!("{text:?} is not a URL: use http://HOST[:PORT] or https://HOST[:PORT]")
        })?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("{text:?}: the scheme must be http or https"));
        }
        // One trailing slash is the same URL; anything after the authority is not supported.
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(format!(
                "{text:?}: a path, query or fragment is not supported (weblock serves from the root); use {scheme}://HOST[:PORT]"
            ));
        }
        if !valid_authority(authority) {
            return Err(format!(
                "{text:?}: {authority:?} is not a host[:port] (no user, no spaces)"
            ));
        }
        Ok(PublicUrl(format!("{scheme}://{authority}")))
    }
}

impl PublicUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How the base is decided: the serve options.
#[derive(Debug, Clone, Default)]
pub struct UrlRules {
    pub public: Option<PublicUrl>,
    pub trusted_proxies: Vec<Cidr>,
}

impl UrlRules {
    /// The base for the URLs of an answer to `req`.
    pub fn base(&self, req: &Request) -> String {
        decide(
            self.public.as_ref(),
            self.trusts(req.peer.ip()),
            &req.host(),
            req.header("x-forwarded-proto"),
            req.header("x-forwarded-host"),
        )
    }

    fn trusts(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(peer))
    }
}

/// `base` without the request: `host` is the request's (checked) `Host`; the forwarded headers
/// count only `from_trusted_proxy`.
pub fn decide(
    public: Option<&PublicUrl>,
    from_trusted_proxy: bool,
    host: &str,
    forwarded_proto: Option<&str>,
    forwarded_host: Option<&str>,
) -> String {
    if let Some(public) = public {
        return public.0.clone();
    }
    if !from_trusted_proxy {
        return format!("http://{host}");
    }
    let scheme = match first(forwarded_proto)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("https") => "https",
        _ => "http",
    };
    let host = first(forwarded_host)
        .filter(|h| valid_authority(h))
        .unwrap_or(host);
    format!("{scheme}://{host}")
}

/// A chain of proxies lists one value each, the client's side first.
fn first(value: Option<&str>) -> Option<&str> {
    value.and_then(|v| v.split(',').next()).map(str::trim)
}

/// A host and maybe a port, as `Host` carries them: what goes into a URL unescaped.
fn valid_authority(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= 255
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> PublicUrl {
        s.parse().expect("a valid public URL")
    }

    #[test]
    fn the_public_url_wins_over_everything() {
        let p = public("https://locks.example.org");
        for trusted in [false, true] {
            assert_eq!(
                decide(
                    Some(&p),
                    trusted,
                    "10.0.0.5:7878",
                    Some("http"),
                    Some("evil.example")
                ),
                "https://locks.example.org"
            );
        }
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let (proto, host) = (Some("https"), Some("locks.example.org"));
        assert_eq!(
            decide(None, false, "box:7878", proto, host),
            "http://box:7878"
        );
        assert_eq!(
            decide(None, true, "box:7878", proto, host),
            "https://locks.example.org"
        );
        assert_eq!(
            decide(None, true, "box:7878", None, None),
            "http://box:7878"
        );
        assert_eq!(
            decide(None, true, "box:7878", Some("HTTPS, http"), None),
            "https://box:7878"
        );
        assert_eq!(
            decide(
                None,
                true,
                "box:7878",
                Some("gopher"),
                Some("a.example, b.example")
            ),
            "http://a.example"
        );
        // A forwarded host that could not be put in a URL as it is: the request's own.
        assert_eq!(
            decide(None, true, "box:7878", None, Some("evil.example/path")),
            "http://box:7878"
        );
        assert_eq!(
            decide(None, true, "box:7878", None, Some("")),
            "http://box:7878"
        );
    }

    #[test]
    fn public_urls_are_scheme_host_and_port_only() {
        assert_eq!(
            public("https://locks.example.org").as_str(),
            "https://locks.example.org"
        );
        assert_eq!(
            public("http://10.0.0.5:8080/").as_str(),
            "http://10.0.0.5:8080"
        );
        assert_eq!(public("HTTPS://[::1]:7878").as_str(), "https://[::1]:7878");
        for bad in [
            "locks.example.org",
            "ftp://locks.example.org",
            "https://locks.example.org/base",
            "https://locks.example.org?x=1",
            "https://locks.example.org#top",
            "https://user@locks.example.org",
            "https://",
            "https://a b",
        ] {
            assert!(bad.parse::<PublicUrl>().is_err(), "{bad}");
        }
    }
}
