//! Lock-name patterns for `lock:GLOB` scopes: `*` is any run of characters (none included), `?` is
//! one character, anything else is itself. Names are ASCII (every API's lock names are), so a
//! pattern is matched byte by byte.

/// A checked pattern: 1 to 128 characters from the lock-name alphabet (`A-Z a-z 0-9 . _ : -`) and
/// `*` `?`. Anything else can never match a lock name, so it is refused rather than kept as a
/// scope that silently allows nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobError {
    Empty,
    TooLong,
    BadChar(char),
}

impl std::fmt::Display for GlobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GlobError::Empty => write!(f, "the pattern is empty"),
            GlobError::TooLong => write!(f, "the pattern is longer than {MAX_CHARS} characters"),
            GlobError::BadChar(c) => write!(
                f,
                "{c:?} is neither a lock-name character (A-Z a-z 0-9 . _ : -) nor * or ?"
            ),
        }
    }
}

const MAX_CHARS: usize = 128;

impl Glob {
    pub fn parse(pattern: &str) -> Result<Glob, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError::Empty);
        }
        if pattern.len() > MAX_CHARS {
            return Err(GlobError::TooLong);
        }
        if let Some(c) = pattern.chars().find(|&c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-' | '*' | '?'))
        }) {
            return Err(GlobError::BadChar(c));
        }
        Ok(Glob(pattern.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it matches every name (only stars): what a grab without an id needs, since the name
    /// it makes is not known before.
    pub fn matches_every_name(&self) -> bool {
        self.0.bytes().all(|b| b == b'*')
    }

    /// Whether `name` matches. Linear in the name for each star (the classic greedy match with one
    /// backtrack point), so a hostile name of 128 characters costs nothing.
    pub fn matches(&self, name: &str) -> bool {
        let (p, n) = (self.0.as_bytes(), name.as_bytes());
        let (mut pi, mut ni) = (0, 0);
        // The last star seen, and the name position it is currently taken to end at.
        let mut star: Option<(usize, usize)> = None;
        while ni < n.len() {
            match p.get(pi) {
                Some(b'*') => {
                    star = Some((pi, ni));
                    pi += 1;
                }
                Some(&c) if c == b'?' || c == n[ni] => {
                    pi += 1;
                    ni += 1;
                }
                _ => match star {
                    // Let the last star take one more character, and try again after it.
                    Some((sp, sn)) => {
                        star = Some((sp, sn + 1));
                        pi = sp + 1;
                        ni = sn + 1;
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|&b| b == b'*')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        Glob::parse(pattern).expect("a valid pattern").matches(name)
    }

    #[test]
    fn literals_match_only_themselves() {
        assert!(m("db", "db"));
        assert!(!m("db", "db2"));
        assert!(!m("db", "d"));
        assert!(!m("db", "DB"));
    }

    #[test]
    fn a_star_is_any_run_and_a_question_mark_one_character() {
        assert!(m("ci-*", "ci-"));
        assert!(m("ci-*", "ci-build-7"));
        assert!(!m("ci-*", "cd-build"));
        assert!(!m("ci-*", "ci"));
        assert!(m("*", ""));
        assert!(m("*", "anything.at:all"));
        assert!(m("*-db", "team1-db"));
        assert!(!m("*-db", "team1-db2"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
        assert!(m("gpu?", "gpu1"));
        assert!(!m("gpu?", "gpu"));
        assert!(!m("gpu?", "gpu12"));
        assert!(m("**", "x"));
        assert!(m("?*?", "ab"));
        assert!(!m("?*?", "a"));
    }

    #[test]
    fn a_hostile_name_is_matched_quickly() {
        let name = "a".repeat(128);
        let pattern = format!("{}b", "*a".repeat(60));
        assert!(!m(&pattern, &name));
    }

    #[test]
    fn patterns_outside_the_alphabet_are_refused() {
        assert_eq!(Glob::parse(""), Err(GlobError::Empty));
        assert_eq!(Glob::parse("a/b"), Err(GlobError::BadChar('/')));
        assert_eq!(Glob::parse("[ab]"), Err(GlobError::BadChar('[')));
        assert_eq!(Glob::parse(&"x".repeat(129)), Err(GlobError::TooLong));
        assert!(Glob::parse("team1.*:db-?_x").is_ok());
    }

    #[test]
    fn only_stars_match_every_name() {
        assert!(Glob::parse("*").unwrap().matches_every_name());
        assert!(Glob::parse("**").unwrap().matches_every_name());
        assert!(!Glob::parse("?*").unwrap().matches_every_name());
        assert!(!Glob::parse("ci-*").unwrap().matches_every_name());
    }
}
