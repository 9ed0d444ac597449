//! HTTP Basic authentication for administrative requests. Credentials come from a file or the
//! environment, never from a command-line argument that `ps` would show.
use std::path::Path;

use super::http::{Request, Response};

/// Where `serve` reads administrator credentials when no file is named.
pub const CREDENTIALS_ENV: &str = "WEBLOCK_ADMIN_CREDENTIALS";

/// An administrator's `user:password`.
#[derive(Clone)]
pub struct Credentials {
    user_password: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(…)")
    }
}

impl Credentials {
    /// `user:password`, as in the file's first line or the environment variable.
    pub fn parse(text: &str) -> Result<Credentials, String> {
        let line = text.lines().next().unwrap_or("").trim();
        match line.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(Credentials {
                user_password: line.as_bytes().to_vec(),
            }),
            _ => Err("administrator credentials must be one line user:password".into()),
        }
    }

    pub fn from_file(path: &Path) -> Result<Credentials, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Credentials::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// From the environment, if set there.
    pub fn from_env() -> Result<Option<Credentials>, String> {
        match std::env::var(CREDENTIALS_ENV) {
            Ok(v) => Credentials::parse(&v)
                .map(Some)
                .map_err(|e| format!("{CREDENTIALS_ENV}: {e}")),
            Err(_) => Ok(None),
        }
    }

    fn matches(&self, given: &[u8]) -> bool {
        // Constant time in the content: a wrong guess takes as long however much of it is right.
        let mut diff = self.user_password.len() ^ given.len();
        for (i, b) in self.user_password.iter().enumerate() {
            diff |= usize::from(b ^ given.get(i).copied().unwrap_or(0));
        }
        diff == 0
    }
}

/// `None` when `req` carries the administrator's credentials; otherwise the 401 to answer with (also
/// when no administrator is configured: then every administrative request is refused).
pub fn check(admin: Option<&Credentials>, req: &Request) -> Option<Response> {
    let given = req
        .header("authorization")
        .and_then(|h| {
            // The scheme name is case-insensitive (RFC 7235 §2.1).
            let (scheme, rest) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest)
        })
        .and_then(|b64| base64_decode(b64.trim()));
    let reason = match (admin, given) {
        (Some(creds), Some(given)) if creds.matches(&given) => return None,
        (None, _) => {
            "administrative requests are disabled: start the server with --admin-credentials FILE"
        }
        (Some(_), None) => "administrative request: HTTP Basic authentication required",
        (Some(_), Some(_)) => "administrative request: wrong user or password",
    };
    Some(
        Response::error(401, reason)
            .with_header("WWW-Authenticate", "Basic realm=\"weblock admin\""),
    )
}

/// Standard base64 (RFC 4648, with or without padding); `None` for anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("YWRtaW46c2VjcmV0").unwrap(), b"admin:secret");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert!(base64_decode("Y*Q").is_none());
    }

    #[test]
    fn credentials_need_a_user_and_a_password() {
        assert!(Credentials::parse("admin:secret\n").is_ok());
        assert!(Credentials::parse("admin:").is_err());
        assert!(Credentials::parse(":secret").is_err());
        assert!(Credentials::parse("nocolon").is_err());
        let c = Credentials::parse("admin:secret").unwrap();
        assert!(c.matches(b"admin:secret"));
        assert!(!c.matches(b"admin:secreT"));
        assert!(!c.matches(b"admin:secret2"));
        assert!(!c.matches(b""));
    }
}
