//! What an identity of the `--auth-file` may do: a request's `Need` (worked out in `needs.rs`)
//! against its scopes, and the 403 for one out of them.
use std::sync::Arc;

use super::auth_file::{Entry, Scope};
use crate::http::{Response, Words};

/// Who a request is, once let in.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No `--auth-file`: anyone who can reach the server.
    Anyone,
    /// A bare secret line, or the administrator's credentials: everything, as before scopes existed
    /// (the administrative requests still check `--admin-credentials` themselves).
    Unscoped,
    /// A `NAME:SECRET SCOPE…` line.
    Named(Arc<Entry>),
}

impl Caller {
    /// The identity's name: the holder shown for a request that names none.
    pub fn name(&self) -> Option<&str> {
        match self {
            Caller::Named(e) => e.name.as_deref(),
            _ => None,
        }
    }

    /// An identity with `admin`: its secret stands for `--admin-credentials` too.
    pub fn is_admin(&self) -> bool {
        matches!(self, Caller::Named(e) if e.has(&Scope::Admin))
    }

    /// Whether its scopes must be looked at (only a named identity without `admin` has limits).
    pub fn is_limited(&self) -> bool {
        matches!(self, Caller::Named(_)) && !self.is_admin()
    }
}

/// What a request must be allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Nothing beyond being let in (`/reserve`, unknown paths, a request its API will refuse as
    /// malformed whatever the scopes).
    Nothing,
    Read,
    Admin,
    /// A lock by name; `None`: a lock of a name the server makes up (a grab without an id), which
    /// only a scope matching every name allows. `or_read`: looking is enough (a status, a wait).
    Lock {
        name: Option<String>,
        or_read: bool,
    },
    /// Every one of these gatekeeper services; `or_read` as for locks.
    Gates {
        services: Vec<String>,
        or_read: bool,
    },
}

/// The scope `entry` lacks for `need`, as a word to show (`lock:db`, `gate:shop or read`), or
/// `None` when it has what it takes.
pub fn lacking(entry: &Entry, need: &Need) -> Option<String> {
    let has = |s: &Scope| entry.has(s);
    if has(&Scope::Admin) {
        return None;
    }
    let reads = has(&Scope::Read);
    let or_read = |what: String, or_read: bool| {
        if or_read {
            format!("{what} or read")
        } else {
            what
        }
    };
    match need {
        Need::Nothing => None,
        Need::Read => (!reads).then(|| "read".to_string()),
        Need::Admin => Some("admin".to_string()),
        Need::Lock { or_read: true, .. } | Need::Gates { or_read: true, .. } if reads => None,
        Need::Lock { name, or_read: r } => {
            let allowed = entry.scopes.iter().any(|s| match (s, name) {
                (Scope::Lock(g), Some(name)) => g.matches(name),
                (Scope::Lock(g), None) => g.matches_every_name(),
                _ => false,
            });
            let what = match name {
                Some(name) => format!("lock:{name}"),
                None => "lock:* (a grab without an id makes a lock of a new name)".to_string(),
            };
            (!allowed).then(|| or_read(what, *r))
        }
        Need::Gates {
            services,
            or_read: r,
        } => services
            .iter()
            .find(|s| !has(&Scope::Gate((*s).clone())))
            .map(|s| or_read(format!("gate:{s}"), *r)),
    }
}

/// `None` when `caller` may do what `need` says; otherwise the 403, in the API's `words`, naming
/// the identity, the scope it lacks and the scopes it has.
pub fn refusal(caller: &Caller, need: &Need, words: Words) -> Option<Response> {
    let Caller::Named(entry) = caller else {
        return None;
    };
    let missing = lacking(entry, need)?;
    let name = entry.name.as_deref().unwrap_or("?");
    let has = if entry.scopes.is_empty() {
        "none".to_string()
    } else {
        entry
            .scopes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some(Response::refusal(
        words,
        403,
        format!("identity {name:?} lacks the scope {missing} (its scopes: {has})"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::auth_file::Secrets;

    fn entry(line: &str) -> Arc<Entry> {
        let s = Secrets::parse(line).expect("a valid line");
        let secret = line
            .split_whitespace()
            .next()
            .and_then(|w| w.split_once(':'))
            .map(|(_, s)| s)
            .expect("NAME:SECRET");
        s.find(secret.as_bytes()).expect("its entry")
    }

    fn lock(name: &str, or_read: bool) -> Need {
        Need::Lock {
            name: Some(name.into()),
            or_read,
        }
    }

    fn gates(services: &[&str], or_read: bool) -> Need {
        Need::Gates {
            services: services.iter().map(ToString::to_string).collect(),
            or_read,
        }
    }

    #[test]
    fn lock_scopes_match_by_glob() {
        let e = entry("t:s lock:ci-* lock:db");
        assert_eq!(lacking(&e, &lock("ci-7", false)), None);
        assert_eq!(lacking(&e, &lock("db", false)), None);
        assert_eq!(lacking(&e, &lock("db2", false)), Some("lock:db2".into()));
        assert_eq!(
            lacking(&e, &lock("db2", true)),
            Some("lock:db2 or read".into())
        );
        assert!(
            lacking(
                &e,
                &Need::Lock {
                    name: None,
                    or_read: false
                }
            )
            .is_some()
        );
        assert_eq!(lacking(&e, &Need::Read), Some("read".into()));
        assert_eq!(lacking(&e, &Need::Admin), Some("admin".into()));
        assert_eq!(lacking(&e, &Need::Nothing), None);
        let any = entry("t:s lock:*");
        assert_eq!(
            lacking(
                &any,
                &Need::Lock {
                    name: None,
                    or_read: false
                }
            ),
            None
        );
    }

    #[test]
    fn read_allows_looking_but_not_touching() {
        let e = entry("t:s read");
        assert_eq!(lacking(&e, &Need::Read), None);
        assert_eq!(lacking(&e, &lock("db", true)), None);
        assert_eq!(lacking(&e, &lock("db", false)), Some("lock:db".into()));
        assert_eq!(lacking(&e, &gates(&["shop"], true)), None);
        assert_eq!(
            lacking(&e, &gates(&["shop"], false)),
            Some("gate:shop".into())
        );
    }

    #[test]
    fn gate_scopes_need_every_service_named() {
        let e = entry("t:s gate:shop gate:pipeline");
        assert_eq!(lacking(&e, &gates(&["shop", "pipeline"], false)), None);
        assert_eq!(
            lacking(&e, &gates(&["shop", "other"], false)),
            Some("gate:other".into())
        );
        assert_eq!(lacking(&e, &gates(&[], false)), None);
        assert!(lacking(&e, &lock("shop", false)).is_some());
    }

    #[test]
    fn admin_allows_everything_and_callers_without_scopes_are_not_limited() {
        let e = entry("t:s admin");
        for need in [
            Need::Admin,
            Need::Read,
            lock("x", false),
            gates(&["g"], false),
        ] {
            assert_eq!(lacking(&e, &need), None, "{need:?}");
        }
        assert!(Caller::Named(e).is_admin());
        assert!(refusal(&Caller::Unscoped, &Need::Admin, Words::Fail).is_none());
        assert!(refusal(&Caller::Anyone, &Need::Admin, Words::Fail).is_none());
        let limited = Caller::Named(entry("team1:s read"));
        assert!(limited.is_limited());
        assert_eq!(limited.name(), Some("team1"));
        let r = refusal(&limited, &lock("db", false), Words::Fail).expect("a 403");
        assert_eq!(r.status, 403);
    }
}
