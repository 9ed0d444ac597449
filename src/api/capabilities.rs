//! What lets a caller end, renew or heartbeat someone's hold, in every lock dialect: the handles a new
//! request gets (drawn here, at random, and carried into the engine by the command), and which handle
//! may end a request that another API took. `docs/api.md` has the table of every API's requests and
//! what each must present.
//!
//! - A WebMutex lock is ended only with its secret token (or by an administrator).
//! - A HAL lock is ended with its URL: its uid is 32 random hex digits (a UUIDv4), shown only to its
//!   client (`Location`) and to an administrator (`GET /resources/NAME`).
//! - A request-queue request is ended with its URL, whose number is random too; but that API lists
//!   every request's URL to anyone, as its document says, so it trusts its network. It may not end a
//!   lock taken through another API (whose URL it lists too).
use serde_json::Value;
use uuid::Uuid;

use crate::engine::{Handles, NUMBER_LIMIT, RequestView};
use crate::http::Response;

/// Fresh handles for a new lock request: a random HAL uid (a UUIDv4, as the original server's) and a
/// random request-queue number from 1 to 2^53 - 1 (so that JavaScript reads it exactly).
pub fn new_handles() -> Handles {
    Handles {
        uid: super::random::uuid(),
        number: (super::random::u64() & (NUMBER_LIMIT - 1)).max(1),
    }
}

/// A HAL uid as the API shows it: 32 lowercase hex digits.
pub fn uid_text(handles: Handles) -> String {
    handles.uid.simple().to_string()
}

/// A HAL uid from a URL: exactly as `uid_text` writes it (one URL per lock), else `None`.
pub fn parse_uid(text: &str) -> Option<Uuid> {
    if text.len() != 32 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u128::from_str_radix(text, 16).ok().map(Uuid::from_u128)
}

/// A request-queue number from a URL: plain decimal, no sign, no leading zeros (one URL per
/// request), below 2^53; else `None`.
pub fn parse_number(text: &str) -> Option<u64> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    canonical
        .then(|| text.parse::<u64>().ok())
        .flatten()
        .filter(|&n| n < NUMBER_LIMIT)
}

/// The API a lock request came through, from what its dialect keeps with it (`Acquire::meta`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// No metadata: its secret token is its key.
    WebMutex,
    /// `{"wait": …}`: its URL (its uid) is its key.
    Hal,
    /// `{"requester_data": …}`.
    RequestQueue,
}

pub fn origin(view: &RequestView) -> Origin {
    let Some(meta) = view.meta.as_deref() else {
        return Origin::WebMutex;
    };
    let meta: Value = serde_json::from_str(meta).unwrap_or(Value::Null);
    if meta.get("requester_data").is_some() {
        Origin::RequestQueue
    } else {
        Origin::Hal
    }
}

const WEBMUTEX_ONLY: &str = "this lock was taken through the WebMutex API: only its token (POST /release) or an administrator (DELETE /resources/NAME) can end it";
const HAL_ONLY: &str = "this lock was taken through the HAL API: only its lock URL (DELETE /locks/NAME/UID) or an administrator (DELETE /resources/NAME) can end it";

/// A HAL `DELETE` of its lock URL: refused (403) for a lock taken through the WebMutex API, which
/// only its token ends. Its own locks, and request-queue requests, it ends.
pub fn hal_may_end(view: &RequestView) -> Option<Response> {
    (origin(view) == Origin::WebMutex).then(|| Response::error(403, WEBMUTEX_ONLY))
}

/// A request-queue `DELETE` or heartbeat: only of that API's own requests. Its listings show every
/// request's URL to anyone, so a lock taken through another API, guarded by its token or its HAL
/// URL, is refused (403).
pub fn queue_may_end(view: &RequestView) -> Option<Response> {
    match origin(view) {
        Origin::RequestQueue => None,
        Origin::WebMutex => Some(Response::error(403, WEBMUTEX_ONLY)),
        Origin::Hal => Some(Response::error(403, HAL_ONLY)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_handles_are_in_range_and_apart() {
        let (a, b) = (new_handles(), new_handles());
        assert_ne!(a.uid, b.uid);
        assert_ne!(a.number, b.number);
        for h in [a, b] {
            assert!(h.number > 0 && h.number < NUMBER_LIMIT);
            assert_eq!(h.uid.get_version_num(), 4);
            assert_eq!(parse_uid(&uid_text(h)), Some(h.uid));
            assert_eq!(parse_number(&h.number.to_string()), Some(h.number));
        }
    }

    #[test]
    fn only_canonical_handles_parse() {
        assert_eq!(
            parse_uid("0000000000000000000000000000001b"),
            Some(Uuid::from_u128(27))
        );
        assert_eq!(parse_uid("0000000000000000000000000000001B"), None);
        assert_eq!(parse_uid("1b"), None);
        assert_eq!(parse_uid("aa4e181e-1737-4148-a21b-30d9dcb941f9"), None);
        assert_eq!(parse_number("27"), Some(27));
        for bad in [
            "",
            "027",
            "+27",
            "-1",
            "0",
            "9007199254740992",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
        assert_eq!(parse_number("9007199254740991"), Some(NUMBER_LIMIT - 1));
    }
}
