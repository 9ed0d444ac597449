//! multipart/form-data bodies (RFC 7578), as curl's `-F` sends them: the boundary from the
//! Content-Type, the parts between its delimiters, each part's name and content.
use super::{ParamError, quoted};

/// RFC 2046 caps boundaries at 70 characters; enforcing it also bounds the cost of searching for one.
const MAX_BOUNDARY_LEN: usize = 70;

/// The boundary from the parameters of a multipart/form-data Content-Type (`; boundary=...`).
pub(super) fn multipart_boundary(ct_params: &str) -> Result<Vec<u8>, ParamError> {
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
pub(super) fn parse_multipart(
    body: &[u8],
    boundary: &[u8],
) -> Result<Vec<(String, String)>, ParamError> {
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
