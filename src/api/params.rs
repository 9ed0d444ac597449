//! Request parameters, parsed the same way for every API.
//!
//! Clients of a lock service are mostly shell scripts, so a parameter may arrive in the query string
//! (`?id=foo`), in a JSON body (`-d '{"id":"foo"}'`), in an urlencoded form (`-d id=foo`) or in a
//! multipart form (`-F id=foo`, `-F id=@file`). [`Params`] folds all of these into one map of JSON
//! values, so that each API reads `id`, `ttl` or `wait` without caring how it was sent, and every
//! malformed input becomes a [`ParamError`] with a sentence fit for a 400 response. Nothing here
//! panics on any input.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// RFC 2046 caps boundaries at 70 characters; enforcing it also bounds the cost of searching for one.
const MAX_BOUNDARY_LEN: usize = 70;

/// Values quoted in error messages are cut to this many characters so a huge parameter cannot
/// produce a huge response.
const MAX_QUOTED_CHARS: usize = 40;

/// The parameters of one request: query fields, overridden by body fields, overridden by [`Params::set`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    fields: BTreeMap<String, Value>,
    json: Option<Value>,
}

/// Why a request's parameters could not be read. `Display` gives a sentence for the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamError {
    /// The body is JSON (by Content-Type or by its leading `{`) but does not parse; holds serde_json's
    /// description, e.g. `expected value at line 1 column 1`.
    InvalidJson(String),
    /// The query string or urlencoded body has a `%` not followed by two hex digits.
    BadPercentEscape {
        /// "query string" or "form body".
        place: &'static str,
        /// The offending sequence, e.g. `%zz`.
        escape: String,
    },
    /// Some text decoded to bytes that are not UTF-8; `place` says which, e.g. `parameter "id" in the query string`.
    NotUtf8 { place: String },
    /// The Content-Type is multipart/form-data without a usable boundary; holds the reason.
    MultipartBoundary(&'static str),
    /// The multipart body ends before its closing boundary line (usually a truncated upload).
    MultipartUnclosed,
    /// Any other defect in a multipart body; holds a description.
    InvalidMultipart(String),
    /// A parameter is present but its value has the wrong type or range.
    InvalidValue {
        name: String,
        /// What was wanted, e.g. "a non-negative number of seconds".
        expected: &'static str,
        /// What was sent, as JSON (strings quoted, long values shortened) or "an object"/"an array".
        got: String,
    },
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::InvalidJson(detail) => write!(f, "body is not valid JSON: {detail}"),
            ParamError::BadPercentEscape { place, escape } => write!(
                f,
                "{place} has an invalid percent escape \"{escape}\" (expected % and two hex digits)"
            ),
            ParamError::NotUtf8 { place } => write!(f, "{place} is not valid UTF-8"),
            ParamError::MultipartBoundary(reason) => {
                write!(f, "multipart/form-data content type {reason}")
            }
            ParamError::MultipartUnclosed => write!(f, "multipart body has no closing boundary"),
            ParamError::InvalidMultipart(detail) => {
                write!(f, "multipart body is malformed: {detail}")
            }
            ParamError::InvalidValue {
                name,
                expected,
                got,
            } => write!(f, "{name} must be {expected}, got {got}"),
        }
    }
}

impl std::error::Error for ParamError {}

/// How the body is to be read, decided from the Content-Type.
enum BodyKind<'a> {
    Json,
    Form,
    /// Holds the Content-Type's parameter list (everything after the media type).
    Multipart(&'a str),
    /// No or unknown Content-Type: guess from the body.
    Sniff,
}

impl Params {
    /// For the APIs whose documents speak JSON (HAL, request-queue, gatekeeper): the body is JSON —
    /// strictly, so a truncated or non-JSON body is an error, not an empty form — unless its content
    /// type says it is a form.
    pub fn parse_json_body(content_type: Option<&str>, body: &[u8]) -> Result<Params, ParamError> {
        let is_form = content_type.is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("application/x-www-form-urlencoded")
                || ct.starts_with("multipart/form-data")
        });
        if is_form {
            Params::parse(None, content_type, body)
        } else {
            Params::parse(None, Some("application/json"), body)
        }
    }

    /// Parses a request's parameters.
    ///
    /// `query` is the raw query string without `?`; `content_type` the Content-Type header value.
    /// The body is read by content type: `application/json` and any `+json` type as JSON,
    /// `application/x-www-form-urlencoded` as a form, `multipart/form-data; boundary=...` as a
    /// multipart form. Without a content type, or with any other, a body starting with `{` is JSON
    /// and anything else is urlencoded. Two deliberate leniencies:
    /// - an empty or all-whitespace body is no parameters whatever the content type (clients often
    ///   send a Content-Type on an empty POST);
    /// - a *form* body starting with `{` is read as JSON, because `curl -d '{"id":"x"}'` labels
    ///   its JSON as a form, and a real form never starts with an unescaped `{`.
    ///
    /// A JSON body that is not an object keeps its value (see [`Params::json`]) but contributes no
    /// fields. Body fields override query fields of the same name; within one source the last
    /// occurrence of a name wins.
    pub fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Params, ParamError> {
        let mut params = Params::default();
        if let Some(query) = query {
            params.extend(parse_urlencoded(query.as_bytes(), "query string")?);
        }

        let trimmed = body.trim_ascii_start();
        if trimmed.is_empty() {
            return Ok(params);
        }
        let looks_like_json = trimmed.starts_with(b"{");
        match body_kind(content_type) {
            BodyKind::Json => params.read_json(body)?,
            BodyKind::Form | BodyKind::Sniff if looks_like_json => params.read_json(body)?,
            BodyKind::Form | BodyKind::Sniff => {
                params.extend(parse_urlencoded(body, "form body")?);
            }
            BodyKind::Multipart(ct_params) => {
                let boundary = multipart_boundary(ct_params)?;
                params.extend(parse_multipart(body, &boundary)?);
            }
        }
        Ok(params)
    }

    /// The body's raw JSON value, if the body was JSON; for APIs that validate their input strictly.
    /// Unaffected by [`Params::set`].
    pub fn json(&self) -> Option<&Value> {
        self.json.as_ref()
    }

    /// A parameter's value; form and query values are `Value::String`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// The names of all parameters present, in sorted order (for APIs that reject unknown ones).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// A text parameter: a JSON string, or a JSON number or boolean rendered as text (`5`, `0.5`,
    /// `true`). None when absent or null; an object or array is an error.
    pub fn text(&self, name: &str) -> Result<Option<String>, ParamError> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(invalid(name, "a string", other)),
        }
    }

    /// A number of seconds: a JSON number, or a string of decimal digits with an optional fraction
    /// (`"2"`, `"0.5"`, `".5"`), surrounding whitespace ignored. Signs, exponents, `inf` and `NaN` in
    /// strings are errors, as are negative or unrepresentably large values. None when absent, null
    /// or an empty string (what an HTML form sends for an empty field). Strings are converted
    /// exactly, digits finer than a nanosecond are dropped.
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>, ParamError> {
        let value = match self.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(value) => value,
        };
        let bad = || invalid(name, "a non-negative number of seconds", value);
        match value {
            Value::Number(n) => {
                if let Some(whole) = n.as_u64() {
                    return Ok(Some(Duration::from_secs(whole)));
                }
                match n.as_f64() {
                    // try_from_secs_f64 rejects NaN, infinities, negatives and overflow, but let -0.0
                    // through as zero, which is harmless.
                    Some(secs) => Duration::try_from_secs_f64(secs)
                        .map(Some)
                        .map_err(|_| bad()),
                    None => Err(bad()),
                }
            }
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => decimal_seconds(s.trim()).map(Some).ok_or_else(bad),
            _ => Err(bad()),
        }
    }

    /// A boolean: JSON `true`/`false`/`1`/`0`, or (case-insensitively, whitespace trimmed) the strings
    /// `true`/`false`, `1`/`0`, `yes`/`no` and `on`/`off` (what an HTML checkbox sends). None when
    /// absent, null or an empty string.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, ParamError> {
        let value = match self.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(value) => value,
        };
        let bad = || invalid(name, "true or false", value);
        match value {
            Value::Bool(b) => Ok(Some(*b)),
            Value::Number(n) => match n.as_u64() {
                Some(0) => Ok(Some(false)),
                Some(1) => Ok(Some(true)),
                _ => Err(bad()),
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "" => Ok(None),
                "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" => Ok(Some(false)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }

    /// Sets or overrides a parameter, e.g. the id taken from a path like `/grab/<id>/`.
    pub fn set(&mut self, name: &str, value: Value) {
        self.fields.insert(name.to_string(), value);
    }

    fn extend(&mut self, pairs: Vec<(String, String)>) {
        for (name, value) in pairs {
            self.fields.insert(name, Value::String(value));
        }
    }

    fn read_json(&mut self, body: &[u8]) -> Result<(), ParamError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| ParamError::InvalidJson(e.to_string()))?;
        if let Value::Object(map) = &value {
            for (name, field) in map {
                self.fields.insert(name.clone(), field.clone());
            }
        }
        self.json = Some(value);
        Ok(())
    }
}

fn body_kind(content_type: Option<&str>) -> BodyKind<'_> {
    let Some(content_type) = content_type else {
        return BodyKind::Sniff;
    };
    let (essence, rest) = content_type.split_once(';').unwrap_or((content_type, ""));
    let essence = essence.trim().to_ascii_lowercase();
    if essence == "application/json" || (essence.contains('/') && essence.ends_with("+json")) {
        BodyKind::Json
    } else if essence == "application/x-www-form-urlencoded" {
        BodyKind::Form
    } else if essence == "multipart/form-data" {
        BodyKind::Multipart(rest)
    } else {
        BodyKind::Sniff
    }
}

fn invalid(name: &str, expected: &'static str, value: &Value) -> ParamError {
    let got = match value {
        Value::Object(_) => "an object".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::String(s) => quoted(s),
        other => other.to_string(),
    };
    ParamError::InvalidValue {
        name: name.to_string(),
        expected,
        got,
    }
}

/// `s` as a JSON string literal for an error message (so control characters are escaped), cut to
/// [`MAX_QUOTED_CHARS`] characters.
fn quoted(s: &str) -> String {
    if s.chars().count() > MAX_QUOTED_CHARS {
        let head: String = s.chars().take(MAX_QUOTED_CHARS).collect();
        format!("{}...", Value::String(head))
    } else {
        Value::String(s.to_string()).to_string()
    }
}

/// Exact decimal seconds from `digits[.digits]`; None if malformed or too large.
fn decimal_seconds(s: &str) -> Option<Duration> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let secs = if whole.is_empty() {
        0
    } else {
        whole.parse::<u64>().ok()?
    };
    // Pad or cut the fraction to exactly nine digits: nanoseconds.
    let nanos = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u32, |acc, digit| acc * 10 + u32::from(digit - b'0'));
    Some(Duration::new(secs, nanos))
}

/// Splits `a=1&b=2` into decoded pairs. A pair without `=` has an empty value; empty pairs
/// (`a=1&&b=2`) are skipped.
fn parse_urlencoded(
    input: &[u8],
    place: &'static str,
) -> Result<Vec<(String, String)>, ParamError> {
    let mut pairs = Vec::new();
    for pair in input.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        let name = String::from_utf8(percent_decode(raw_name, place)?).map_err(|_| {
            ParamError::NotUtf8 {
                place: format!("a parameter name in the {place}"),
            }
        })?;
        let value = String::from_utf8(percent_decode(raw_value, place)?).map_err(|_| {
            ParamError::NotUtf8 {
                place: format!("parameter {} in the {place}", quoted(&name)),
            }
        })?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// Decodes `+` as a space and `%XX` as a byte.
/// A percent-encoded path segment, decoded (`+` stays a plus, as in paths).
pub fn path_segment(raw: &str) -> Result<String, ParamError> {
    // In a path `+` is a plus, not a space: protect it from the form decoder's rule.
    let bytes = percent_decode(raw.replace('+', "%2B").as_bytes(), "path")?;
    String::from_utf8(bytes).map_err(|_| ParamError::NotUtf8 {
        place: "the path".to_string(),
    })
}

fn percent_decode(raw: &[u8], place: &'static str) -> Result<Vec<u8>, ParamError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&byte) = raw.get(i) {
        match byte {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = |at: usize| raw.get(at).and_then(|&b| char::from(b).to_digit(16));
                match (hex(i + 1), hex(i + 2)) {
                    (Some(high), Some(low)) => {
                        // Two hex digits make at most 0xFF, so the cast is exact.
                        out.push((high * 16 + low) as u8);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(raw.len());
                        return Err(ParamError::BadPercentEscape {
                            place,
                            escape: String::from_utf8_lossy(&raw[i..end]).into_owned(),
                        });
                    }
                }
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The boundary from the parameters of a multipart/form-data Content-Type (`; boundary=...`).
fn multipart_boundary(ct_params: &str) -> Result<Vec<u8>, ParamError> {
    let params = header_params(ct_params.as_bytes())
        .map_err(|_| ParamError::MultipartBoundary("has an unterminated quoted string"))?;
    let boundary = params
        .into_iter()
        .rev()
        .find(|(key, _)| key == "boundary")
        .map(|(_, value)| value)
        .ok_or(ParamError::MultipartBoundary("has no boundary parameter"))?;
    if boundary.is_empty() {
        return Err(ParamError::MultipartBoundary("has an empty boundary"));
    }
    if boundary.len() > MAX_BOUNDARY_LEN {
        return Err(ParamError::MultipartBoundary(
            "has a boundary longer than 70 characters",
        ));
    }
    Ok(boundary)
}

/// Parses a header's parameter list, `; key=value; key="quoted value"` (RFC 9110 section 5.6.6), as it
/// follows the media type in Content-Type and the disposition type in Content-Disposition. Keys are
/// lowercased; parameters without `=` are dropped.
///
/// In quoted strings `\"` and `\\` are escapes, but any other backslash is kept: curl (since 7.81)
/// and browsers follow the HTML form rules, sending backslashes raw (`name="na\me"`) and quotes as
/// `%22`, which is left as it is; curl's `--form-escape` and RFC-minded clients send `name="na\\me"`.
/// Both spellings of `na\me` therefore come out the same.
fn header_params(s: &[u8]) -> Result<Vec<(String, Vec<u8>)>, &'static str> {
    let mut params = Vec::new();
    let mut i = 0;
    loop {
        while s
            .get(i)
            .is_some_and(|&b| b == b';' || b.is_ascii_whitespace())
        {
            i += 1;
        }
        if i >= s.len() {
            return Ok(params);
        }
        let key_start = i;
        while s.get(i).is_some_and(|&b| b != b'=' && b != b';') {
            i += 1;
        }
        let key = String::from_utf8_lossy(s[key_start..i].trim_ascii()).to_ascii_lowercase();
        if s.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while s.get(i).is_some_and(|&b| b == b' ' || b == b'\t') {
            i += 1;
        }
        let mut value = Vec::new();
        if s.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match (s.get(i), s.get(i + 1)) {
                    (None, _) => return Err("has an unterminated quoted string"),
                    (Some(b'"'), _) => break,
                    (Some(b'\\'), Some(&escaped @ (b'"' | b'\\'))) => {
                        value.push(escaped);
                        i += 2;
                    }
                    (Some(&b), _) => {
                        value.push(b);
                        i += 1;
                    }
                }
            }
            // Skip the closing quote and anything up to the next ';'.
            while s.get(i).is_some_and(|&b| b != b';') {
                i += 1;
            }
        } else {
            let start = i;
            while s.get(i).is_some_and(|&b| b != b';') {
                i += 1;
            }
            value.extend_from_slice(s[start..i].trim_ascii_end());
        }
        params.push((key, value));
    }
}

/// Where a delimiter line was found in a multipart body.
struct Delimiter {
    /// Where the preceding part's content ends: the line break before the delimiter belongs to the
    /// delimiter (RFC 2046), so a value never gains a trailing CRLF.
    content_end: usize,
    /// Where the next part starts, or None for the closing delimiter (`--boundary--`).
    next_part: Option<usize>,
}

/// Parses a multipart/form-data body (RFC 7578) into (name, value) pairs, in order.
fn parse_multipart(body: &[u8], boundary: &[u8]) -> Result<Vec<(String, String)>, ParamError> {
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(boundary);

    // The preamble before the first delimiter is ignored, as RFC 2046 requires.
    let mut found = find_delimiter(body, 0, &delimiter).ok_or_else(|| {
        ParamError::InvalidMultipart(
            "the boundary given in the Content-Type never appears in the body".to_string(),
        )
    })?;
    let mut pairs = Vec::new();
    // Everything after the closing delimiter is epilogue, also ignored.
    while let Some(part_start) = found.next_part {
        let next =
            find_delimiter(body, part_start, &delimiter).ok_or(ParamError::MultipartUnclosed)?;
        // An empty part's delimiter can share the line break that ended the previous delimiter line.
        let part = body
            .get(part_start..next.content_end.max(part_start))
            .unwrap_or_default();
        pairs.push(parse_part(part, pairs.len() + 1)?);
        found = next;
    }
    Ok(pairs)
}

/// Finds the next delimiter line at or after `from`: `delimiter` at the start of a line, followed by
/// `--` (closing), or by optional spaces/tabs and a line break. A line that merely begins with the
/// delimiter (`--boundaryXYZ`) is content. CRLF and bare LF are both accepted.
fn find_delimiter(body: &[u8], from: usize, delimiter: &[u8]) -> Option<Delimiter> {
    let mut search = from;
    loop {
        let start = search + find(body.get(search..)?, delimiter)?;
        search = start + 1;
        if start > 0 && body.get(start - 1) != Some(&b'\n') {
            continue;
        }
        let tail = body.get(start + delimiter.len()..).unwrap_or_default();
        let next_part = if tail.starts_with(b"--") {
            None
        } else {
            let padding = tail
                .iter()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
            let line_start = start + delimiter.len() + padding;
            match tail.get(padding..) {
                Some([b'\r', b'\n', ..]) => Some(line_start + 2),
                Some([b'\n', ..]) => Some(line_start + 1),
                _ => continue,
            }
        };
        let content_end = if start >= 2 && body.get(start - 2..start) == Some(&b"\r\n"[..]) {
            start - 2
        } else {
            start.saturating_sub(1)
        };
        return Some(Delimiter {
            content_end,
            next_part,
        });
    }
}

/// The first index of `needle` (non-empty) in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// Parses one part: its headers (case-insensitive, folded lines allowed), then after a blank line its
/// content, which becomes the value whether or not the part has a `filename=` (a file upload).
fn parse_part(part: &[u8], number: usize) -> Result<(String, String), ParamError> {
    let malformed = |what: &str| ParamError::InvalidMultipart(format!("part {number} {what}"));

    let mut headers: Vec<Vec<u8>> = Vec::new();
    let mut pos = 0;
    // Headers that run to the end of the part, without the blank line, mean empty content.
    let mut content: &[u8] = &[];
    while let Some(rest) = part.get(pos..).filter(|rest| !rest.is_empty()) {
        let (line, line_len) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => (&rest[..lf], lf + 1),
            None => (rest, rest.len()),
        };
        pos += line_len;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            content = part.get(pos..).unwrap_or_default();
            break;
        }
        match headers.last_mut() {
            // A line starting with whitespace continues the previous header (obsolete folding).
            Some(previous) if line.starts_with(b" ") || line.starts_with(b"\t") => {
                previous.push(b' ');
                previous.extend_from_slice(line.trim_ascii());
            }
            _ => headers.push(line.to_vec()),
        }
    }

    let mut name = None;
    for header in &headers {
        let colon = header
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| malformed("has a header line without a colon"))?;
        if !header[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(b"content-disposition")
        {
            continue;
        }
        // `form-data; name="id"; filename="f.txt"`: the disposition type is not checked, the name is
        // all that matters.
        let value = &header[colon + 1..];
        let after_type = value
            .iter()
            .position(|&b| b == b';')
            .map_or(&value[value.len()..], |semi| &value[semi..]);
        let params = header_params(after_type)
            .map_err(|reason| malformed(&format!("has a Content-Disposition that {reason}")))?;
        if let Some((_, value)) = params.into_iter().rev().find(|(key, _)| key == "name") {
            name = Some(value);
        }
    }

    let name = name.ok_or_else(|| malformed("has no name in a Content-Disposition header"))?;
    let name = String::from_utf8(name).map_err(|_| ParamError::NotUtf8 {
        place: format!("the name of multipart part {number}"),
    })?;
    let value = String::from_utf8(content.to_vec()).map_err(|_| ParamError::NotUtf8 {
        place: format!("multipart part {}", quoted(&name)),
    })?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CURL_BOUNDARY: &str = "------------------------6bfeb6a8d1f02bc5";

    /// The exact bytes curl 7.88 sends for
    /// `curl -F id=foo -F "token=b a=r" -F up=@idfile.txt -F empty=` (idfile.txt holds "file-id\n").
    const CURL_BODY: &[u8] = b"--------------------------6bfeb6a8d1f02bc5\r\n\
Content-Disposition: form-data; name=\"id\"\r\n\r\nfoo\r\n\
--------------------------6bfeb6a8d1f02bc5\r\n\
Content-Disposition: form-data; name=\"token\"\r\n\r\nb a=r\r\n\
--------------------------6bfeb6a8d1f02bc5\r\n\
Content-Disposition: form-data; name=\"up\"; filename=\"idfile.txt\"\r\n\
Content-Type: text/plain\r\n\r\nfile-id\n\r\n\
--------------------------6bfeb6a8d1f02bc5\r\n\
Content-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n\
--------------------------6bfeb6a8d1f02bc5--\r\n";

    fn curl_content_type() -> String {
        format!("multipart/form-data; boundary={CURL_BOUNDARY}")
    }

    fn parse(query: Option<&str>, ct: Option<&str>, body: &[u8]) -> Params {
        match Params::parse(query, ct, body) {
            Ok(params) => params,
            Err(e) => panic!("{query:?} {ct:?} {:?}: {e}", String::from_utf8_lossy(body)),
        }
    }

    fn parse_err(query: Option<&str>, ct: Option<&str>, body: &[u8]) -> ParamError {
        match Params::parse(query, ct, body) {
            Ok(params) => panic!("expected an error, got {params:?}"),
            Err(e) => e,
        }
    }

    fn text(p: &Params, name: &str) -> Option<String> {
        p.text(name).expect("a text value")
    }

    #[test]
    fn query_string() {
        let p = parse(Some("id=foo&token=b%20r+x&&flag&id2=%C3%A9"), None, b"");
        assert_eq!(text(&p, "id").as_deref(), Some("foo"));
        assert_eq!(text(&p, "token").as_deref(), Some("b r x"));
        assert_eq!(text(&p, "flag").as_deref(), Some(""));
        assert_eq!(text(&p, "id2").as_deref(), Some("é"));
        assert_eq!(text(&p, "missing"), None);
        assert_eq!(p.json(), None);
        assert_eq!(
            p.names().collect::<Vec<_>>(),
            ["flag", "id", "id2", "token"]
        );
    }

    #[test]
    fn repeated_names_last_wins() {
        let p = parse(Some("id=1&id=2"), None, b"");
        assert_eq!(text(&p, "id").as_deref(), Some("2"));
        let p = parse(
            None,
            Some("application/x-www-form-urlencoded"),
            b"id=1&id=2",
        );
        assert_eq!(text(&p, "id").as_deref(), Some("2"));
        let p = parse(None, Some("application/json"), br#"{"id":"1","id":"2"}"#);
        assert_eq!(text(&p, "id").as_deref(), Some("2"));
    }

    #[test]
    fn percent_decoding_errors() {
        for (query, escape) in [
            ("id=%zz", "%zz"),
            ("id=%4", "%4"),
            ("id=%", "%"),
            ("a%g1=1", "%g1"),
        ] {
            assert_eq!(
                parse_err(Some(query), None, b""),
                ParamError::BadPercentEscape {
                    place: "query string",
                    escape: escape.to_string()
                },
                "{query}"
            );
        }
        let err = parse_err(Some("id=%FF"), None, b"");
        assert_eq!(
            err.to_string(),
            "parameter \"id\" in the query string is not valid UTF-8"
        );
        let err = parse_err(Some("%C3=1"), None, b"");
        assert_eq!(
            err.to_string(),
            "a parameter name in the query string is not valid UTF-8"
        );
        let err = parse_err(None, None, b"id=%zz");
        assert_eq!(
            err.to_string(),
            "form body has an invalid percent escape \"%zz\" (expected % and two hex digits)"
        );
        // Raw non-UTF-8 bytes in a form body are rejected, not replaced.
        let err = parse_err(None, Some("application/x-www-form-urlencoded"), b"id=\xff");
        assert!(matches!(err, ParamError::NotUtf8 { .. }), "{err:?}");
    }

    #[test]
    fn json_body() {
        let body = br#"{"id":"foo","ttl":2.5,"wait":true,"n":null,"obj":{"a":1}}"#;
        for ct in [
            Some("application/json"),
            Some("Application/JSON; charset=utf-8"),
            Some("application/hal+json"),
            Some("application/vnd.api+json"),
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"), // what `curl -d '{...}'` sends
            None,
        ] {
            let p = parse(None, ct, body);
            assert_eq!(text(&p, "id").as_deref(), Some("foo"), "{ct:?}");
            assert_eq!(p.get("ttl"), Some(&json!(2.5)));
            assert_eq!(
                p.json(),
                Some(&serde_json::from_slice::<Value>(body).unwrap())
            );
        }
        let p = parse(None, None, body);
        assert_eq!(text(&p, "ttl").as_deref(), Some("2.5"));
        assert_eq!(text(&p, "wait").as_deref(), Some("true"));
        assert_eq!(text(&p, "n"), None);
        assert_eq!(p.get("n"), Some(&Value::Null));
        assert_eq!(
            p.text("obj").unwrap_err().to_string(),
            "obj must be a string, got an object"
        );
        // Leading whitespace before the sniffed '{'.
        let p = parse(None, None, b" \r\n\t{\"id\": 7}");
        assert_eq!(text(&p, "id").as_deref(), Some("7"));
    }

    #[test]
    fn json_that_is_not_an_object() {
        let p = parse(Some("id=q"), Some("application/json"), b"[1]");
        assert_eq!(p.json(), Some(&json!([1])));
        assert_eq!(text(&p, "id").as_deref(), Some("q"));
        assert_eq!(p.names().count(), 1);
        let p = parse(None, Some("application/json"), b"\"x\"");
        assert_eq!(p.json(), Some(&json!("x")));
        assert_eq!(p.names().count(), 0);
    }

    #[test]
    fn invalid_json() {
        let err = parse_err(None, Some("application/json"), b"x");
        assert_eq!(
            err.to_string(),
            "body is not valid JSON: expected value at line 1 column 1"
        );
        let err = parse_err(None, None, b"{\"id\": ");
        assert!(matches!(err, ParamError::InvalidJson(_)), "{err:?}");
        let err = parse_err(None, Some("application/json"), b"{} trailing");
        assert!(
            err.to_string()
                .starts_with("body is not valid JSON: trailing characters")
        );
    }

    #[test]
    fn blank_body_is_no_parameters() {
        for ct in [
            None,
            Some("application/json"),
            Some(curl_content_type().as_str()),
            Some("text/plain"),
        ] {
            for body in [&b""[..], b" \r\n"] {
                let p = parse(Some("id=a"), ct, body);
                assert_eq!(p.names().collect::<Vec<_>>(), ["id"]);
                assert_eq!(p.json(), None);
            }
        }
    }

    #[test]
    fn unknown_content_type_is_sniffed() {
        let p = parse(None, Some("text/plain"), b"id=foo&token=bar");
        assert_eq!(text(&p, "token").as_deref(), Some("bar"));
        let p = parse(None, Some("application/octet-stream"), b"{\"id\":\"x\"}");
        assert_eq!(text(&p, "id").as_deref(), Some("x"));
    }

    #[test]
    fn body_overrides_query_and_set_overrides_both() {
        let mut p = parse(Some("id=q&ttl=1"), None, br#"{"id":"body"}"#);
        assert_eq!(text(&p, "id").as_deref(), Some("body"));
        assert_eq!(text(&p, "ttl").as_deref(), Some("1"));
        p.set("id", json!("path"));
        assert_eq!(text(&p, "id").as_deref(), Some("path"));
        assert_eq!(p.json(), Some(&json!({"id": "body"})));

        let p = parse(Some("id=q"), None, b"id=form");
        assert_eq!(text(&p, "id").as_deref(), Some("form"));
        let p = parse(Some("id=q"), Some(&curl_content_type()), CURL_BODY);
        assert_eq!(text(&p, "id").as_deref(), Some("foo"));
    }

    #[test]
    fn multipart_as_curl_sends_it() {
        let p = parse(None, Some(&curl_content_type()), CURL_BODY);
        assert_eq!(text(&p, "id").as_deref(), Some("foo"));
        assert_eq!(text(&p, "token").as_deref(), Some("b a=r"));
        // A file upload's value is the file's content, exactly.
        assert_eq!(text(&p, "up").as_deref(), Some("file-id\n"));
        assert_eq!(text(&p, "empty").as_deref(), Some(""));
        assert_eq!(p.names().count(), 4);
        assert_eq!(p.json(), None);
    }

    #[test]
    fn multipart_variants() {
        // Quoted boundary, bare LF line ends, preamble, epilogue, odd header case, unquoted name,
        // transport padding after the delimiter, and folded headers.
        let body = b"This is a preamble.\n--a;b\n\
content-DISPOSITION: form-data; name=id\n\n\
one\n\
--a;b \t\n\
Content-Disposition: form-data;\n name=\"token\"\n\n\
line1\r\nline2\n--a;b not a delimiter\n--a;bc\n\
--a;b--\nepilogue\n--a;b\nContent-Disposition: form-data; name=\"late\"\n\nx\n";
        let p = parse(
            None,
            Some("multipart/form-data; boundary=\"a;b\"; charset=utf-8"),
            body,
        );
        assert_eq!(text(&p, "id").as_deref(), Some("one"));
        assert_eq!(
            text(&p, "token").as_deref(),
            Some("line1\r\nline2\n--a;b not a delimiter\n--a;bc")
        );
        assert_eq!(p.names().count(), 2);
    }

    #[test]
    fn multipart_names_and_filenames() {
        let ct = "multipart/form-data; boundary=XyZ";
        let body = b"--XyZ\r\nContent-Disposition: form-data; filename=\"C:\\dir\\a\\\"b.txt\"; name=\"q\\\"uo\\\\te\"\r\n\r\nv\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"q\\\"uo\\\\te\"\r\n\r\nv2\r\n--XyZ--";
        let p = parse(None, Some(ct), body);
        assert_eq!(text(&p, "q\"uo\\te").as_deref(), Some("v2"));
        // Backslashes as curl sends them by default and with --form-escape.
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"na\\me\"\r\n\r\n1\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"na\\\\me\"\r\n\r\n2\r\n--XyZ--\r\n";
        let p = parse(None, Some(ct), body);
        assert_eq!(p.names().collect::<Vec<_>>(), ["na\\me"]);
        assert_eq!(text(&p, "na\\me").as_deref(), Some("2"));
        // A missing delimiter line break before the content (sloppy client) still yields a value.
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n--XyZ--\r\n";
        assert_eq!(text(&parse(None, Some(ct), body), "a").as_deref(), Some(""));
    }

    #[test]
    fn multipart_errors() {
        let ct = "multipart/form-data; boundary=XyZ";
        let truncated = b"--XyZ\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\nfoo\r\n";
        let err = parse_err(None, Some(ct), truncated);
        assert_eq!(err, ParamError::MultipartUnclosed);
        assert_eq!(err.to_string(), "multipart body has no closing boundary");
        // A delimiter cut off before its line break is not a delimiter.
        let cut = b"--XyZ\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\nfoo\r\n--XyZ";
        assert_eq!(
            parse_err(None, Some(ct), cut),
            ParamError::MultipartUnclosed
        );

        let err = parse_err(None, Some(ct), b"id=foo");
        assert_eq!(
            err.to_string(),
            "multipart body is malformed: the boundary given in the Content-Type never appears in the body"
        );
        let err = parse_err(None, Some("multipart/form-data"), CURL_BODY);
        assert_eq!(
            err.to_string(),
            "multipart/form-data content type has no boundary parameter"
        );
        let err = parse_err(None, Some("multipart/form-data; boundary=\"\""), CURL_BODY);
        assert_eq!(err, ParamError::MultipartBoundary("has an empty boundary"));
        let err = parse_err(None, Some("multipart/form-data; boundary=\"abc"), CURL_BODY);
        assert_eq!(
            err,
            ParamError::MultipartBoundary("has an unterminated quoted string")
        );
        let long = format!("multipart/form-data; boundary={}", "x".repeat(71));
        let err = parse_err(None, Some(&long), CURL_BODY);
        assert_eq!(
            err,
            ParamError::MultipartBoundary("has a boundary longer than 70 characters")
        );

        let nameless = b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nfoo\r\n--XyZ--\r\n";
        assert_eq!(
            parse_err(None, Some(ct), nameless).to_string(),
            "multipart body is malformed: part 1 has no name in a Content-Disposition header"
        );
        let headerless = b"--XyZ\r\n\r\nfoo\r\n--XyZ--\r\n";
        assert!(matches!(
            parse_err(None, Some(ct), headerless),
            ParamError::InvalidMultipart(_)
        ));
        let no_colon = b"--XyZ\r\nContent-Disposition: form-data; name=a\r\nfoo\r\n--XyZ--\r\n";
        assert_eq!(
            parse_err(None, Some(ct), no_colon).to_string(),
            "multipart body is malformed: part 1 has a header line without a colon"
        );
        let unterminated =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nfoo\r\n--XyZ--\r\n";
        assert!(matches!(
            parse_err(None, Some(ct), unterminated),
            ParamError::InvalidMultipart(_)
        ));
        let binary = b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\r\n\xff\xfe\r\n--XyZ--\r\n";
        assert_eq!(
            parse_err(None, Some(ct), binary).to_string(),
            "multipart part \"f\" is not valid UTF-8"
        );
    }

    #[test]
    fn seconds() {
        let p = parse(
            Some(
                "a=2&b=0.5&c=+3+&d=&e=.25&f=abc&g=-1&h=1e3&i=inf&j=NaN&k=99999999999999999999&l=1.0000000019",
            ),
            None,
            b"",
        );
        let secs = |name: &str| p.seconds(name);
        assert_eq!(secs("a"), Ok(Some(Duration::from_secs(2))));
        assert_eq!(secs("b"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(
            secs("c"),
            Ok(Some(Duration::from_secs(3))),
            "surrounding whitespace is trimmed"
        );
        assert_eq!(secs("d"), Ok(None), "an empty string is absent");
        assert_eq!(secs("e"), Ok(Some(Duration::from_millis(250))));
        assert_eq!(secs("l"), Ok(Some(Duration::new(1, 1))));
        assert_eq!(secs("missing"), Ok(None));
        assert_eq!(
            secs("f").unwrap_err().to_string(),
            "f must be a non-negative number of seconds, got \"abc\""
        );
        for name in ["g", "h", "i", "j", "k"] {
            assert!(secs(name).is_err(), "{name}");
        }

        let p = parse(
            None,
            None,
            br#"{"a":2,"b":0.5,"c":-1,"d":1e300,"e":null,"f":true,"g":[],"h":"1.5","i":-0.0}"#,
        );
        assert_eq!(p.seconds("a"), Ok(Some(Duration::from_secs(2))));
        assert_eq!(p.seconds("b"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(
            p.seconds("c").unwrap_err().to_string(),
            "c must be a non-negative number of seconds, got -1"
        );
        assert!(p.seconds("d").is_err());
        assert_eq!(p.seconds("e"), Ok(None));
        assert_eq!(
            p.seconds("f").unwrap_err().to_string(),
            "f must be a non-negative number of seconds, got true"
        );
        assert_eq!(
            p.seconds("g").unwrap_err().to_string(),
            "g must be a non-negative number of seconds, got an array"
        );
        assert_eq!(p.seconds("h"), Ok(Some(Duration::from_millis(1500))));
        assert_eq!(p.seconds("i"), Ok(Some(Duration::ZERO)));
    }

    #[test]
    fn flags() {
        let p = parse(
            Some("a=true&b=FALSE&c=1&d=0&e=yes&f=No&g=on&h=off&i=&j=maybe&k=2"),
            None,
            b"",
        );
        for (name, want) in [
            ("a", Some(true)),
            ("b", Some(false)),
            ("c", Some(true)),
            ("d", Some(false)),
            ("e", Some(true)),
            ("f", Some(false)),
            ("g", Some(true)),
            ("h", Some(false)),
            ("i", None),
            ("missing", None),
        ] {
            assert_eq!(p.flag(name), Ok(want), "{name}");
        }
        assert_eq!(
            p.flag("j").unwrap_err().to_string(),
            "j must be true or false, got \"maybe\""
        );
        assert!(p.flag("k").is_err());

        let p = parse(
            None,
            None,
            br#"{"a":true,"b":false,"c":1,"d":0,"e":null,"f":2,"g":{}}"#,
        );
        assert_eq!(p.flag("a"), Ok(Some(true)));
        assert_eq!(p.flag("b"), Ok(Some(false)));
        assert_eq!(p.flag("c"), Ok(Some(true)));
        assert_eq!(p.flag("d"), Ok(Some(false)));
        assert_eq!(p.flag("e"), Ok(None));
        assert!(p.flag("f").is_err());
        assert_eq!(
            p.flag("g").unwrap_err().to_string(),
            "g must be true or false, got an object"
        );
    }

    #[test]
    fn long_values_are_shortened_in_errors() {
        let long = "x".repeat(1000);
        let p = parse(Some(&format!("ttl={long}")), None, b"");
        let message = p.seconds("ttl").unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "ttl must be a non-negative number of seconds, got \"{}\"...",
                "x".repeat(40)
            )
        );
        // Names in messages come from the client too, and are shortened the same way.
        let err = parse_err(Some(&format!("{long}=%FF")), None, b"");
        assert_eq!(
            err.to_string(),
            format!(
                "parameter \"{}\"... in the query string is not valid UTF-8",
                "x".repeat(40)
            )
        );
    }

    /// A deterministic xorshift64 generator, so the garbage test is reproducible.
    struct XorShift(u64);

    impl XorShift {
        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// Exercises every accessor, so a panic anywhere in parsing or reading fails the test.
    fn poke(query: Option<&str>, ct: Option<&str>, body: &[u8]) {
        match Params::parse(query, ct, body) {
            Ok(p) => {
                let names: Vec<String> = p.names().map(str::to_string).collect();
                for name in names.iter().map(String::as_str).chain(["id", "ttl", ""]) {
                    let _ = p.get(name);
                    let _ = p.text(name).map_err(|e| e.to_string());
                    let _ = p.seconds(name).map_err(|e| e.to_string());
                    let _ = p.flag(name).map_err(|e| e.to_string());
                }
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        // Bytes that matter to some parser, so random strings reach deep paths, plus the boundary.
        let palette: &[&[u8]] = &[
            b"-",
            b"--",
            b"\r",
            b"\n",
            b"\r\n",
            b"\"",
            b"\\",
            b"=",
            b";",
            b":",
            b"%",
            b"%4",
            b"%e9",
            b"%C3",
            b"+",
            b"&",
            b"{",
            b"}",
            b"[",
            b"]",
            b" ",
            b"a",
            b"Z",
            b"0",
            b"7",
            b".",
            b"\xff",
            b"\xc3",
            b"\xa9",
            b"name",
            b"id",
            b"ttl",
            b"Content-Disposition",
            b"form-data",
            b"--XyZ",
            b"--XyZ\r\n",
            b"--XyZ--",
            b"\r\n\r\n",
            b"true",
            b"null",
            b"-1",
            b"1e9",
        ];
        let content_types = [
            None,
            Some("application/json"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=XyZ"),
            Some("multipart/form-data; boundary=\"XyZ\""),
            Some("multipart/form-data"),
            Some("multipart/form-data; boundary=\"X"),
            Some("text/plain"),
            Some(";;;=\""),
        ];
        let curl_ct = curl_content_type();
        for round in 0..30_000 {
            let mut body = Vec::new();
            let mode = round % 3;
            if mode == 2 {
                // A valid curl body, mutated: truncated, bytes flipped, chunks inserted.
                body.extend_from_slice(CURL_BODY);
                body.truncate(rng.below(CURL_BODY.len() + 1));
                for _ in 0..rng.below(4) {
                    if !body.is_empty() {
                        let at = rng.below(body.len());
                        body[at] = rng.next_u64() as u8;
                    }
                    let at = rng.below(body.len() + 1);
                    let chunk = palette[rng.below(palette.len())];
                    body.splice(at..at, chunk.iter().copied());
                }
            } else {
                for _ in 0..rng.below(40) {
                    if mode == 0 {
                        body.push(rng.next_u64() as u8);
                    } else {
                        body.extend_from_slice(palette[rng.below(palette.len())]);
                    }
                }
            }
            let query_bytes: Vec<u8> = (0..rng.below(12))
                .flat_map(|_| palette[rng.below(palette.len())].iter().copied())
                .collect();
            let query = String::from_utf8_lossy(&query_bytes).into_owned();
            let query = (rng.below(2) == 0).then_some(query.as_str());
            let ct = if mode == 2 {
                Some(curl_ct.as_str())
            } else {
                content_types[rng.below(content_types.len())]
            };
            poke(query, ct, &body);
        }
    }
}
