//! Names checked before anything is sent. An empty lock name is not "no lock": the WebMutex API makes
//! a fresh anonymous lock of it, so `weblock wait-grab "$LOCK" -- ./deploy` with `$LOCK` unset would
//! run the deploy under a lock nobody else can name. Every subcommand refuses such names as a usage
//! error (exit 2), with the rules the server applies, before it talks to the server.
use super::{Failure, exit};

/// The longest lock name, in characters (the server's limit for WebMutex ids).
pub const MAX_LOCK: usize = 128;
/// The longest service or gate name, in bytes (the gatekeeper API's limit).
pub const MAX_GATE: usize = 128;

/// A lock name: 1 to 128 characters from `A-Z a-z 0-9 . _ : -`.
pub fn lock(name: &str) -> Result<(), Failure> {
    let valid = !name.is_empty()
        && name.chars().count() <= MAX_LOCK
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if valid {
        Ok(())
    } else {
        Err(Failure::new(
            exit::USAGE,
            format!(
                "invalid lock name {name:?}: use 1 to {MAX_LOCK} characters from A-Z a-z 0-9 . _ : -"
            ),
        ))
    }
}

/// A service or gate name (`what` says which): 1 to 128 bytes, no dot, slash, colon, comma or control
/// character.
pub fn gate(what: &str, name: &str) -> Result<(), Failure> {
    let valid = !name.is_empty()
        && name.len() <= MAX_GATE
        && !name
            .chars()
            .any(|c| matches!(c, '.' | '/' | ':' | ',') || c.is_control());
    if valid {
        Ok(())
    } else {
        Err(Failure::new(
            exit::USAGE,
            format!(
                "invalid {what} name {name:?}: use 1 to {MAX_GATE} bytes, without dots, slashes, colons, commas or control characters"
            ),
        ))
    }
}

/// A gate ticket: the UUID `gate enter` printed.
pub fn ticket(ticket: &str) -> Result<(), Failure> {
    match uuid::Uuid::parse_str(ticket) {
        Ok(_) => Ok(()),
        Err(_) => Err(Failure::new(
            exit::USAGE,
            format!("invalid ticket {ticket:?}: use the id `weblock gate enter` printed (a UUID)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_follow_the_servers_rules() {
        for good in ["db", "a.b_c:d-e", &"x".repeat(MAX_LOCK)] {
            assert!(lock(good).is_ok(), "{good}");
        }
        for bad in ["", " ", "no spaces", "a/b", "é", &"x".repeat(MAX_LOCK + 1)] {
            let failure = lock(bad).expect_err(bad);
            assert_eq!(failure.code, exit::USAGE);
        }
    }

    #[test]
    fn gate_names_are_not_empty_and_have_no_separators() {
        assert!(gate("service", "shop").is_ok());
        for bad in ["", "a.b", "a/b", "a:b", "a,b", "a\nb"] {
            assert!(gate("gate", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tickets_are_uuids() {
        assert!(ticket("4ca72ee9-82b9-48c5-bf66-994ac907386b").is_ok());
        assert!(ticket("").is_err());
        assert!(ticket("4ca72ee9").is_err());
    }
}
