//! The `--auth-file`: who may use the server, and for what. Each line is one of
//!
//! - `SECRET`: a bare secret, as the file always had: everything it ever allowed (every API; the
//!   administrative requests still need `--admin-credentials`, as before);
//! - `NAME:SECRET SCOPE…`: an identity, allowed what its scopes say (`scopes.rs`).
//!
//! A line is an identity when it has a scope after its first word and that word has a colon; any
//! other line is a bare secret, the whole line, exactly as before (so an old file means what it
//! meant). Blank lines and `#` comments are skipped. A malformed identity line stops the server from
//! starting (or a reload from taking effect): a typo must not quietly widen or narrow what a team may do.
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use subtle::ConstantTimeEq;

use super::glob::{Glob, GlobError};

/// What an identity may do; see `scopes.rs` for what each allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `lock:GLOB`: take, renew, release and wait on the locks whose names match.
    Lock(Glob),
    /// `gate:SERVICE`: open, close and enter that service's gates, and its tickets.
    Gate(String),
    /// `read`: status, listings, the dashboard's data, metrics, events, history.
    Read,
    /// `admin`: everything, the administrative requests included.
    Admin,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Lock(g) => write!(f, "lock:{}", g.as_str()),
            Scope::Gate(s) => write!(f, "gate:{s}"),
            Scope::Read => write!(f, "read"),
            Scope::Admin => write!(f, "admin"),
        }
    }
}

/// One line's holder of a secret.
#[derive(Debug)]
pub struct Entry {
    /// `None` for a bare secret.
    pub name: Option<String>,
    secret: Vec<u8>,
    pub scopes: Vec<Scope>,
}

impl Entry {
    pub fn has(&self, scope: &Scope) -> bool {
        self.scopes.contains(scope)
    }
}

/// Why a line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Scopes after a first word that is not `NAME:SECRET`.
    NoName,
    EmptyName,
    BadName(String),
    EmptySecret,
    UnknownScope(String),
    BadGlob(String, GlobError),
    BadService(String),
    DuplicateName {
        name: String,
        first: usize,
    },
    /// Two lines with one secret: a request could not say which of them it is.
    DuplicateSecret {
        first: usize,
    },
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineError::NoName => write!(
                f,
                "scopes follow a first word that is not NAME:SECRET (NAME:SECRET SCOPE…)"
            ),
            LineError::EmptyName => {
                write!(f, "the name before the colon is empty (NAME:SECRET SCOPE…)")
            }
            LineError::BadName(n) => write!(
                f,
                "name {n:?}: use 1 to {MAX_NAME} characters from A-Z a-z 0-9 . _ - @ +"
            ),
            LineError::EmptySecret => write!(
                f,
                "the secret after the colon is empty (NAME:SECRET SCOPE…)"
            ),
            LineError::UnknownScope(s) => write!(
                f,
                "unknown scope {s:?}: use lock:GLOB, gate:SERVICE, read or admin"
            ),
            LineError::BadGlob(s, e) => write!(f, "scope {s:?}: {e}"),
            LineError::BadService(s) => write!(
                f,
                "scope {s:?}: a service name is 1 to 128 bytes, without dots, slashes, colons, commas or spaces"
            ),
            LineError::DuplicateName { name, first } => {
                write!(f, "the name {name:?} is already given on line {first}")
            }
            LineError::DuplicateSecret { first } => write!(
                f,
                "this secret is already given on line {first}: a request could not tell them apart"
            ),
        }
    }
}

/// Why a whole file was refused; the path and the line number are in it.
#[derive(Debug)]
pub enum AuthFileError {
    Unreadable {
        path: String,
        error: String,
    },
    Line {
        path: String,
        line: usize,
        error: LineError,
    },
    NoSecret {
        path: String,
    },
}

impl std::fmt::Display for AuthFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthFileError::Unreadable { path, error } => write!(f, "cannot read {path}: {error}"),
            AuthFileError::Line { path, line, error } => write!(f, "{path}, line {line}: {error}"),
            AuthFileError::NoSecret { path } => write!(
                f,
                "{path}: no secret in the file (one a line, SECRET or NAME:SECRET SCOPE…; blank and # lines are ignored)"
            ),
        }
    }
}

impl std::error::Error for AuthFileError {}

const MAX_NAME: usize = 64;

/// The secrets of `serve --auth-file`: with them, every request must carry one of them.
#[derive(Clone)]
pub struct Secrets {
    entries: Vec<Arc<Entry>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} …)", self.entries.len())
    }
}

impl Secrets {
    /// The file's text; `path` only names it in errors.
    pub fn parse_named(text: &str, path: &str) -> Result<Secrets, AuthFileError> {
        let mut entries = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut secrets: HashMap<Vec<u8>, (usize, bool)> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |error| AuthFileError::Line {
                path: path.to_string(),
                line: n,
                error,
            };
            let entry = parse_line(line).map_err(at)?;
            if let Some(name) = &entry.name {
                if let Some(&first) = names.get(name) {
                    return Err(at(LineError::DuplicateName {
                        name: name.clone(),
                        first,
                    }));
                }
                names.insert(name.clone(), n);
            }
            // Two bare lines with one secret were harmless before and stay so; a named one must be
            // the only holder of its secret.
            let named = entry.name.is_some();
            match secrets.get(&entry.secret) {
                Some(&(first, other_named)) if named || other_named => {
                    return Err(at(LineError::DuplicateSecret { first }));
                }
                Some(_) => {}
                None => {
                    secrets.insert(entry.secret.clone(), (n, named));
                }
            }
            entries.push(Arc::new(entry));
        }
        if entries.is_empty() {
            return Err(AuthFileError::NoSecret {
                path: path.to_string(),
            });
        }
        Ok(Secrets { entries })
    }

    /// `parse_named` for text that is not from a file (tests, the environment).
    pub fn parse(text: &str) -> Result<Secrets, AuthFileError> {
        Secrets::parse_named(text, "the secrets")
    }

    pub fn from_file(path: &Path) -> Result<Secrets, AuthFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| AuthFileError::Unreadable {
            path: shown.clone(),
            error: e.to_string(),
        })?;
        Secrets::parse_named(&text, &shown)
    }

    /// The entry whose secret is `given`. Every secret is compared, each in constant time in its
    /// content (`subtle`), so how long a refusal takes says nothing of how close a guess came.
    pub fn find(&self, given: &[u8]) -> Option<Arc<Entry>> {
        let mut found = None;
        for entry in &self.entries {
            let equal: bool = entry.secret.as_slice().ct_eq(given).into();
            if equal && found.is_none() {
                found = Some(entry.clone());
            }
        }
        found
    }

    /// The identity called `name` (`NAME:SECRET SCOPE…`), if there is one.
    pub fn named(&self, name: &str) -> Option<Arc<Entry>> {
        self.entries
            .iter()
            .find(|e| e.name.as_deref() == Some(name))
            .cloned()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn parse_line(line: &str) -> Result<Entry, LineError> {
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or_default();
    let scopes: Vec<&str> = words.collect();
    let identity = if scopes.is_empty() {
        None
    } else {
        first.split_once(':')
    };
    let Some((name, secret)) = identity else {
        // A secret with spaces in it was always allowed; but one that goes on with what reads as
        // scopes is an identity line that lost its name.
        let scope_like = |w: &&str| {
            matches!(*w, "read" | "admin") || w.starts_with("lock:") || w.starts_with("gate:")
        };
        if scopes.iter().any(scope_like) {
            return Err(LineError::NoName);
        }
        return Ok(Entry {
            name: None,
            secret: line.as_bytes().to_vec(),
            scopes: Vec::new(),
        });
    };
    if name.is_empty() {
        return Err(LineError::EmptyName);
    }
    let name_ok = name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'));
    if !name_ok {
        return Err(LineError::BadName(name.to_string()));
    }
    if secret.is_empty() {
        return Err(LineError::EmptySecret);
    }
    let scopes = scopes
        .into_iter()
        .map(parse_scope)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Entry {
        name: Some(name.to_string()),
        secret: secret.as_bytes().to_vec(),
        scopes,
    })
}

fn parse_scope(word: &str) -> Result<Scope, LineError> {
    match word.split_once(':') {
        None if word == "read" => Ok(Scope::Read),
        None if word == "admin" => Ok(Scope::Admin),
        Some(("lock", glob)) => Glob::parse(glob)
            .map(Scope::Lock)
            .map_err(|e| LineError::BadGlob(word.to_string(), e)),
        Some(("gate", service)) => {
            // The gatekeeper's own rule for service names (gatekeeper.rs `check_name`).
            let ok = !service.is_empty()
                && service.len() <= 128
                && !service.contains(['.', '/', ':', ','])
                && !service.chars().any(char::is_control);
            if ok {
                Ok(Scope::Gate(service.to_string()))
            } else {
                Err(LineError::BadService(word.to_string()))
            }
        }
        _ => Err(LineError::UnknownScope(word.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_error(text: &str) -> (usize, LineError) {
        match Secrets::parse(text) {
            Err(AuthFileError::Line { line, error, .. }) => (line, error),
            other => panic!("expected a line error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn bare_secrets_mean_what_they_always_meant() {
        let s =
            Secrets::parse("# team A\n\n  alpha  \nbeta\nold:style-with-colon\nsome words here\n")
                .unwrap();
        assert_eq!(s.len(), 4);
        for secret in ["alpha", "beta", "old:style-with-colon", "some words here"] {
            let e = s.find(secret.as_bytes()).expect(secret);
            assert_eq!(e.name, None);
            assert!(e.scopes.is_empty());
        }
        assert!(s.find(b"# team A").is_none());
        assert!(s.find(b"").is_none());
        assert!(s.find(b"alph").is_none());
        assert!(s.find(b"style-with-colon").is_none());
        assert!(Secrets::parse("").is_err());
        assert!(matches!(
            Secrets::parse("# only a comment\n\n"),
            Err(AuthFileError::NoSecret { .. })
        ));
    }

    #[test]
    fn identity_lines_name_their_scopes() {
        let s = Secrets::parse(
            "team1:s1 lock:team1-* gate:shop read\nops:s2 admin\nbot:s3 lock:db lock:cache?\n",
        )
        .unwrap();
        let t = s.find(b"s1").unwrap();
        assert_eq!(t.name.as_deref(), Some("team1"));
        assert_eq!(
            t.scopes,
            vec![
                Scope::Lock(Glob::parse("team1-*").unwrap()),
                Scope::Gate("shop".into()),
                Scope::Read
            ]
        );
        assert!(s.find(b"s2").unwrap().has(&Scope::Admin));
        assert_eq!(s.find(b"s3").unwrap().scopes.len(), 2);
        // The secret is the part after the name, not the whole word.
        assert!(s.find(b"team1:s1").is_none());
        assert_eq!(
            t.scopes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["lock:team1-*", "gate:shop", "read"]
        );
    }

    #[test]
    fn malformed_lines_are_named_by_number() {
        assert_eq!(
            line_error("ok\n\nteam:s lock:a* write\n"),
            (3, LineError::UnknownScope("write".into()))
        );
        assert_eq!(line_error(":s read"), (1, LineError::EmptyName));
        assert_eq!(line_error("team: read"), (1, LineError::EmptySecret));
        assert_eq!(
            line_error("a:1 read\n# c\na:2 read"),
            (
                3,
                LineError::DuplicateName {
                    name: "a".into(),
                    first: 1
                }
            )
        );
        assert_eq!(
            line_error("a:1 read\nb:1 read"),
            (2, LineError::DuplicateSecret { first: 1 })
        );
        assert_eq!(
            line_error("1\nb:1 read"),
            (2, LineError::DuplicateSecret { first: 1 })
        );
        assert!(matches!(
            line_error("a:1 lock:a/b").1,
            LineError::BadGlob(..)
        ));
        assert!(matches!(line_error("a:1 lock:").1, LineError::BadGlob(..)));
        assert!(matches!(
            line_error("a:1 gate:").1,
            LineError::BadService(_)
        ));
        assert!(matches!(
            line_error("a:1 gate:a.b").1,
            LineError::BadService(_)
        ));
        assert_eq!(line_error("team1 lock:x").1, LineError::NoName);
        assert_eq!(line_error("team1 s3cret read").1, LineError::NoName);
        assert!(matches!(line_error("a/b:1 read").1, LineError::BadName(_)));
        // Two bare lines with one secret were allowed before, and still are.
        assert!(Secrets::parse("same\nsame\n").is_ok());
        let e = Secrets::parse_named("x:1 nope", "/etc/weblock/secrets").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/weblock/secrets, line 1: unknown scope \"nope\": use lock:GLOB, gate:SERVICE, read or admin"
        );
    }
}
