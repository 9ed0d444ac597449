//! What a request head must be beyond what `httparse` checks, by RFC 9110/9112: one `Host` (an
//! HTTP/1.1 request without one is 400), an absolute-form target served as its path, request lines
//! no longer than `Limits::max_target_bytes` (414), no bare CR (400 at once, not a wait for a line
//! end that never comes), and header values in obs-text (Latin-1 bytes) taken where weblock does not
//! read them as text.

use std::borrow::Cow;

/// Why a request could not be read; each becomes an answer with its status, then the connection closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: String,
}

impl Rejection {
    pub fn new(status: u16, reason: impl Into<String>) -> Rejection {
        Rejection {
            status,
            reason: reason.into(),
        }
    }
}

/// Headers whose values weblock reads as text: obs-text in them is a 400 that says so. Others (a
/// `User-Agent` with a Latin-1 name, say) are kept, their bytes read as Latin-1.
const TEXT_HEADERS: [&str; 4] = ["host", "content-type", "authorization", "transfer-encoding"];

/// A header's value as a string: UTF-8 as sent, or else each byte as its Latin-1 character.
pub fn header_value<'a>(name: &str, value: &'a [u8]) -> Result<Cow<'a, str>, Rejection> {
    if let Ok(text) = std::str::from_utf8(value) {
        return Ok(Cow::Borrowed(text));
    }
    if TEXT_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
        return Err(Rejection::new(
            400,
            format!(
                "header {name} has bytes that are not text (obs-text); its value must be ASCII"
            ),
        ));
    }
    Ok(Cow::Owned(value.iter().map(|&b| char::from(b)).collect()))
}

/// One `Host` header, and on HTTP/1.1 exactly one (RFC 9112 §3.2): `count` is how many came.
pub fn check_host(count: usize, minor_version: u8) -> Result<(), Rejection> {
    match count {
        0 if minor_version >= 1 => Err(Rejection::new(
            400,
            "an HTTP/1.1 request must carry a Host header",
        )),
        0 | 1 => Ok(()),
        _ => Err(Rejection::new(400, "more than one Host header")),
    }
}

/// An absolute-form target (`http://host:port/status?x`) as its origin form (`/status?x`) and its
/// authority, which then stands for `Host` (RFC 9112 §3.2.2); any other target as it is.
pub fn origin_form(target: &str) -> (Cow<'_, str>, Option<String>) {
    // Targets of fewer than 8 bytes are paths, whatever they start with (a bare `http://` too).
    let has_scheme = |scheme: &str| {
        target.len() >= 8
            && target
                .get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    };
    let scheme_len = if has_scheme("http://") {
        7
    } else if has_scheme("https://") {
        8
    } else {
        return (Cow::Borrowed(target), None);
    };
    let rest = &target[scheme_len..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // userinfo (`user@`) has no place in a request target: keep only the host and port.
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let path = if tail.starts_with('/') {
        tail.to_string()
    } else {
        format!("/{tail}")
    };
    (Cow::Owned(path), Some(authority.to_string()))
}

/// Whether `buf` (the start of a request) holds a CR not followed by LF, looking from `from` on
/// (minus one byte, for a CR at the end of the last read). A CR that ends the buffer may yet be
/// followed by its LF.
pub fn has_bare_cr(buf: &[u8], from: usize) -> bool {
    let at = from.saturating_sub(1).min(buf.len());
    buf[at..].windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n')
}

/// Whether the request line (the first line of `buf`) is longer than `limit`, ended or not. Looks at
/// no more than `limit + 1` bytes, so a trickled line costs little.
pub fn line_too_long(buf: &[u8], limit: usize) -> bool {
    let window = &buf[..buf.len().min(limit + 1)];
    buf.len() > limit && !window.contains(&b'\n')
}

pub fn target_too_long(limit: usize) -> Rejection {
    Rejection::new(
        414,
        format!("request target too long: at most {limit} bytes of request line"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obs_text_is_latin1_except_where_read_as_text() {
        assert_eq!(header_value("User-Agent", b"J\xfcrgen").unwrap(), "Jürgen");
        assert_eq!(
            header_value("X-Name", "Jürgen".as_bytes()).unwrap(),
            "Jürgen"
        );
        for name in ["Host", "content-type", "Authorization"] {
            assert_eq!(header_value(name, b"\xe9").unwrap_err().status, 400);
        }
    }

    #[test]
    fn absolute_form_is_served_as_its_path() {
        assert_eq!(
            origin_form("http://example.com:7878/status?id=db"),
            (
                Cow::Borrowed("/status?id=db"),
                Some("example.com:7878".to_string())
            )
        );
        assert_eq!(
            origin_form("HTTP://h"),
            (Cow::Borrowed("/"), Some("h".to_string()))
        );
        assert_eq!(origin_form("http://h?x=1").0, "/?x=1");
        assert_eq!(origin_form("http://u@h/a").1.as_deref(), Some("h"));
        assert_eq!(origin_form("/status"), (Cow::Borrowed("/status"), None));
        assert_eq!(origin_form("http://"), (Cow::Borrowed("http://"), None));
    }

    #[test]
    fn host_is_required_once_on_http_1_1() {
        assert!(check_host(1, 1).is_ok());
        assert!(check_host(0, 0).is_ok());
        assert_eq!(check_host(0, 1).unwrap_err().status, 400);
        assert_eq!(check_host(2, 1).unwrap_err().status, 400);
        assert_eq!(check_host(2, 0).unwrap_err().status, 400);
    }

    #[test]
    fn bare_cr_is_found_in_new_bytes() {
        assert!(has_bare_cr(b"GET / HTTP/1.1\rHost: x\r\r", 0));
        assert!(!has_bare_cr(b"GET / HTTP/1.1\r\nHost: x\r\n\r", 0));
        assert!(has_bare_cr(b"GET / HTTP/1.1\rX", 15));
        assert!(!has_bare_cr(b"GET / HTTP/1.1\r", 0), "its LF may come next");
    }
}
