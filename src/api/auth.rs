//! Authentication: HTTP Basic for administrative requests, and the optional access secrets
//! (`--auth-file`) every request must carry. Credentials and secrets come from a file or the
//! environment, never from a command-line argument that `ps` would show.
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::http::{Request, Response, Words};

/// Where `serve` reads administrator credentials when no file is named.
pub const CREDENTIALS_ENV: &str = "WEBLOCK_ADMIN_CREDENTIALS";

/// The administrators' `user:password` pairs: every line of the file counts, as in the original
/// RDLM server's administrator file.
#[derive(Clone)]
pub struct Credentials {
    user_passwords: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} …)", self.user_passwords.len())
    }
}

impl Credentials {
    /// `user:password` lines, as in the file or the environment variable; blank lines and `#`
    /// comments are skipped; at least one pair, and every other line a pair.
    pub fn parse(text: &str) -> Result<Credentials, String> {
        let mut user_passwords = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                    user_passwords.push(line.as_bytes().to_vec());
                }
                _ => {
                    return Err(format!(
                        "line {}: administrator credentials are user:password, one pair a line",
                        n + 1
                    ));
                }
            }
        }
        if user_passwords.is_empty() {
            return Err("administrator credentials must be user:password (one pair a line)".into());
        }
        Ok(Credentials { user_passwords })
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

    /// Whether `given` is one of the pairs; every pair is compared, each in constant time.
    fn matches(&self, given: &[u8]) -> bool {
        self.user_passwords
            .iter()
            .fold(false, |found, p| constant_time_eq(p, given) | found)
    }
}

/// Constant time in the content (`subtle`): a wrong guess takes as long however much of it is right.
fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(expected, given).into()
}

pub use super::auth_file::{AuthFileError, Secrets};
use super::scopes::Caller;

/// The `--auth-file`'s secrets as they are now: swapped whole when SIGHUP has the file read again,
/// so a request sees the old file or the new one, never a mix.
pub struct Access {
    current: RwLock<Option<Arc<Secrets>>>,
    file: Option<PathBuf>,
}

impl Access {
    pub fn new(secrets: Option<Secrets>, file: Option<PathBuf>) -> Access {
        Access {
            current: RwLock::new(secrets.map(Arc::new)),
            file,
        }
    }

    pub fn current(&self) -> Option<Arc<Secrets>> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the file again and, if it is well-formed, puts it in force; otherwise keeps the one in
    /// force. `Ok(None)`: there is no file to read (the server was started without `--auth-file`).
    pub fn reload(&self) -> Result<Option<usize>, AuthFileError> {
        let Some(file) = &self.file else {
            return Ok(None);
        };
        let secrets = Secrets::from_file(file)?;
        let lines = secrets.len();
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(secrets));
        Ok(Some(lines))
    }
}

/// Who `req` is, when access is open (no secrets) or it carries a secret — `Authorization: Bearer
/// SECRET`, or HTTP Basic with any user and SECRET as the password — or the administrator's
/// credentials (one request has one `Authorization` header, and an administrative request needs
/// those). Otherwise the 401 to answer with, in the API's `words`.
pub fn check_access(
    secrets: Option<&Secrets>,
    admin: Option<&Credentials>,
    req: &Request,
    words: Words,
) -> Result<Caller, Response> {
    let Some(secrets) = secrets else {
        return Ok(Caller::Anyone);
    };
    let caller = |entry: Arc<super::auth_file::Entry>| {
        if entry.name.is_some() {
            Caller::Named(entry)
        } else {
            Caller::Unscoped
        }
    };
    // A verified client certificate (`serve --tls-client-ca`) whose CN names an identity of the
    // file is that identity, without its secret.
    if let Some(entry) = req.peer_identity.as_deref().and_then(|n| secrets.named(n)) {
        return Ok(caller(entry));
    }
    let given = req.header("authorization").and_then(|h| {
        let (scheme, rest) = h.trim().split_once(' ')?;
        Some((scheme.to_string(), rest.trim()))
    });
    let reason = match given {
        None => {
            "authentication required: send Authorization: Bearer SECRET (the weblock CLI reads WEBLOCK_AUTH or WEBLOCK_AUTH_FILE)"
        }
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            if let Some(entry) = secrets.find(token.as_bytes()) {
                return Ok(caller(entry));
            }
            "wrong secret"
        }
        Some((scheme, b64)) if scheme.eq_ignore_ascii_case("basic") => {
            let decoded = base64_decode(b64).unwrap_or_default();
            let password = match decoded.iter().position(|&b| b == b':') {
                Some(colon) => &decoded[colon + 1..],
                None => &[][..],
            };
            // Both compared whatever the first says, so the time taken does not tell which matched.
            let entry = secrets.find(password);
            let admin_ok = admin.is_some_and(|a| a.matches(&decoded));
            match entry {
                Some(entry) => return Ok(caller(entry)),
                None if admin_ok => return Ok(Caller::Unscoped),
                None => {}
            }
            "wrong secret"
        }
        Some(_) => "authentication required: use Authorization: Bearer SECRET or HTTP Basic",
    };
    Err(Response::refusal(words, 401, reason).with_header(
        "WWW-Authenticate",
        "Bearer realm=\"weblock\", Basic realm=\"weblock\"",
    ))
}

/// `None` when `req` carries the administrator's credentials, or comes from an `--auth-file`
/// identity with the `admin` scope; otherwise the refusal to answer with: 401 (with a challenge)
/// without them or with wrong ones, 403 when no administrator is configured (nobody may then make an
/// administrative request; the original HAL server answers so too).
pub fn check(admin: Option<&Credentials>, caller: &Caller, req: &Request) -> Option<Response> {
    if caller.is_admin() {
        return None;
    }
    let Some(creds) = admin else {
        return Some(Response::error(
            403,
            "administrative requests are disabled: start the server with --admin-credentials FILE (or give an --auth-file identity the admin scope)",
        ));
    };
    let given = req
        .header("authorization")
        .and_then(|h| {
            // The scheme name is case-insensitive (RFC 7235 §2.1).
            let (scheme, rest) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest)
        })
        .and_then(|b64| base64_decode(b64.trim()));
    let reason = match given {
        Some(given) if creds.matches(&given) => return None,
        None => "administrative request: HTTP Basic authentication required",
        Some(_) => "administrative request: wrong user or password",
    };
    let refusal = Response::error(401, reason);
    // A page's own script (it says so with X-Requested-With, as the dashboard does) asks for the
    // credentials itself: a Basic challenge would make the browser put up its login prompt instead,
    // or, headless, fail the request.
    if req.header("x-requested-with").is_some() {
        return Some(refusal);
    }
    Some(refusal.with_header("WWW-Authenticate", "Basic realm=\"weblock admin\""))
}

/// Standard base64 (RFC 4648, with or without padding); `None` for anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    crate::base64::decode(text).ok()
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

    #[test]
    fn every_line_of_the_administrators_file_counts() {
        let c = Credentials::parse("# admins\nalice:one\n\n  bob:two  \n").unwrap();
        assert!(c.matches(b"alice:one"));
        assert!(c.matches(b"bob:two"));
        assert!(!c.matches(b"alice:two"));
        assert!(!c.matches(b"# admins"));
        assert!(Credentials::parse("alice:one\nbroken\n").is_err());
        assert!(Credentials::parse("\n# none\n").is_err());
    }
}
