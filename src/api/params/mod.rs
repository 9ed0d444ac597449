//! Request parameters, parsed the same way for every API.
//!
//! Clients of a lock service are mostly shell scripts, so a parameter may arrive in the query string
//! (`?id=foo`), in a JSON body (`-d '{"id":"foo"}'`), in an urlencoded form (`-d id=foo`) or in a
//! multipart form (`-F id=foo`, `-F id=@file`). [`Params`] folds all of these into one map of JSON
//! values, so that each API reads `id`, `ttl` or `wait` without caring how it was sent, and every
//! malformed input becomes a [`ParamError`] with a sentence fit for a 400 response. Nothing here
//! panics on any input.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde_json::Value;

mod multipart;
use multipart::{multipart_boundary, parse_multipart};

/// Values quoted in error messages are cut to this many characters so a huge parameter cannot
/// produce a huge response.
const MAX_QUOTED_CHARS: usize = 40;

/// How many fields a source's are put in place one by one (`Params::add`); past it, sorted once.
const PLACED_ONE_BY_ONE: usize = 32;

/// The parameters of one request: query fields, overridden by body fields, overridden by [`Params::set`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    /// Sorted by name, one entry per name. A request has a handful of parameters: a sorted `Vec`
    /// finds one as fast as a map and costs one allocation, not one per node.
    fields: Vec<(Name, Value)>,
    json: Option<Value>,
}

/// A parameter's name. Nearly all are short (`id`, `token`, `ttl`) and kept in place: reading a
/// request's parameters allocates nothing for their names.
#[derive(Debug, Clone)]
enum Name {
    Short { len: u8, bytes: [u8; SHORT_NAME] },
    Long(String),
}

/// The longest name kept in place (a `Name` is then about as large as a `String`).
const SHORT_NAME: usize = 22;

impl Name {
    fn new(name: Cow<'_, str>) -> Name {
        match name.len() {
            len @ 0..=SHORT_NAME => {
                let mut bytes = [0; SHORT_NAME];
                bytes[..len].copy_from_slice(name.as_bytes());
                Name::Short {
                    len: len as u8,
                    bytes,
                }
            }
            _ => Name::Long(name.into_owned()),
        }
    }

    /// Its bytes: names compare as these (as `str`s compare), with no check of their UTF-8.
    fn as_bytes(&self) -> &[u8] {
        match self {
            Name::Short { len, bytes } => &bytes[..usize::from(*len)],
            Name::Long(name) => name.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Made from a `str` (`new`): always UTF-8.
            Name::Short { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or("")
            }
            Name::Long(name) => name,
        }
    }
}

/// Names compare as their text.
impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_bytes() == other.as_bytes()
    }
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
            params.read_urlencoded(query.as_bytes(), "query string")?;
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
                params.read_urlencoded(body, "form body")?;
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
        let at = self.place(name).ok()?;
        self.fields.get(at).map(|(_, value)| value)
    }

    /// The names of all parameters present, in sorted order (for APIs that reject unknown ones).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(name, _)| name.as_str())
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
        self.put(Cow::Borrowed(name), value);
    }

    /// Puts a field in its place, overriding one of the same name.
    fn put(&mut self, name: Cow<'_, str>, value: Value) {
        match self.place(&name) {
            Ok(at) => self.fields[at].1 = value,
            Err(at) => self.fields.insert(at, (Name::new(name), value)),
        }
    }

    /// Where `name` is (`Ok`) or would go (`Err`) in the sorted fields.
    fn place(&self, name: &str) -> Result<usize, usize> {
        self.fields
            .binary_search_by(|(have, _)| have.as_bytes().cmp(name.as_bytes()))
    }

    /// Adds a field read from one source, to be settled (`settle`) once the source is read. While
    /// there are few it is put in its place at once, overriding one of the same name; past
    /// `PLACED_ONE_BY_ONE` it is appended, and `settle` sorts them all once: a body of a hundred
    /// thousand names, each sorting before the last, would otherwise move all the others every
    /// time (n² / 2 moves: minutes of a core for one request).
    fn add(&mut self, name: Cow<'_, str>, value: Value) {
        if self.fields.len() >= PLACED_ONE_BY_ONE {
            self.fields.push((Name::new(name), value));
        } else {
            self.put(name, value);
        }
    }

    /// Sorts the fields by name after `add`, the last of each name winning (a stable sort keeps
    /// the order they came in among fields of one name).
    fn settle(&mut self) {
        if self
            .fields
            .is_sorted_by(|(a, _), (b, _)| a.as_bytes() < b.as_bytes())
        {
            return;
        }
        self.fields
            .sort_by(|(a, _), (b, _)| a.as_str().cmp(b.as_str()));
        self.fields
            .dedup_by(|(later, later_value), (kept, kept_value)| {
                let same = later == kept;
                if same {
                    std::mem::swap(later_value, kept_value);
                }
                same
            });
    }

    fn extend(&mut self, pairs: Vec<(String, String)>) {
        for (name, value) in pairs {
            self.add(Cow::Owned(name), Value::String(value));
        }
        self.settle();
    }

    /// Reads `a=1&b=2` into the fields, decoded. A pair without `=` has an empty value; empty pairs
    /// (`a=1&&b=2`) are skipped; a later pair overrides an earlier one of the same name.
    fn read_urlencoded(&mut self, input: &[u8], place: &'static str) -> Result<(), ParamError> {
        // Split by memchr, not a byte at a time: this runs for every request.
        let mut rest = input;
        while !rest.is_empty() {
            let (pair, after) = match memchr::memchr(b'&', rest) {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = after;
            if pair.is_empty() {
                continue;
            }
            let (raw_name, raw_value) = match memchr::memchr(b'=', pair) {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            let name = decoded_text(raw_name, place, || {
                format!("a parameter name in the {place}")
            })?;
            let value = decoded_text(raw_value, place, || {
                format!("parameter {} in the {place}", quoted(&name))
            })?;
            self.add(name, Value::String(value.into_owned()));
        }
        self.settle();
        Ok(())
    }

    fn read_json(&mut self, body: &[u8]) -> Result<(), ParamError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| ParamError::InvalidJson(e.to_string()))?;
        if let Value::Object(map) = &value {
            for (name, field) in map {
                self.add(Cow::Borrowed(name), field.clone());
            }
            self.settle();
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
    let essence = essence.trim();
    let is = |name: &str| essence.eq_ignore_ascii_case(name);
    let suffix_json = essence.len() >= 5
        && essence
            .as_bytes()
            .get(essence.len() - 5..)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"+json"));
    if is("application/json") || (essence.contains('/') && suffix_json) {
        BodyKind::Json
    } else if is("application/x-www-form-urlencoded") {
        BodyKind::Form
    } else if is("multipart/form-data") {
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

/// A percent-encoded path segment, decoded (`+` stays a plus, as in paths).
pub fn path_segment(raw: &str) -> Result<String, ParamError> {
    // In a path `+` is a plus, not a space: protect it from the form decoder's rule.
    let bytes = percent_decode(raw.replace('+', "%2B").as_bytes(), "path")?;
    String::from_utf8(bytes).map_err(|_| ParamError::NotUtf8 {
        place: "the path".to_string(),
    })
}

/// Form text decoded and checked for UTF-8; borrowed when there is nothing to decode (the usual case).
/// `where_` names the text for the error when it is not UTF-8.
fn decoded_text<'a>(
    raw: &'a [u8],
    place: &'static str,
    where_: impl FnOnce() -> String,
) -> Result<Cow<'a, str>, ParamError> {
    let not_utf8 = || ParamError::NotUtf8 { place: where_() };
    if memchr::memchr2(b'%', b'+', raw).is_none() {
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| not_utf8());
    }
    String::from_utf8(percent_decode(raw, place)?)
        .map(Cow::Owned)
        .map_err(|_| not_utf8())
}

/// Decodes `+` as a space and `%XX` as a byte.
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

#[cfg(test)]
mod tests;
