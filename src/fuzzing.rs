//! Thin entry points for the fuzz targets in `fuzz/` (see `fuzz/README.md`). Each takes arbitrary bytes
//! and must return without panicking, whatever the bytes are.

use crate::api::params::{Params, path_segment};
use crate::http::{chunked, limits, message as http};

/// Content types a fuzzed body is read as when the bytes do not make a whole request head.
const CONTENT_TYPES: [Option<&str>; 8] = [
    None,
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=XyZ"),
    Some("multipart/form-data; boundary=\"a b\"; charset=utf-8"),
    Some("multipart/form-data"),
    Some("application/problem+json"),
    Some("text/plain"),
];

/// Arbitrary bytes as one request, head and body, through the server's reading path: head-end scan,
/// head parse and framing, chunked decoding (in one piece and in two, which must agree), then parameter
/// parsing of the query and body with the request's own Content-Type and percent-decoding of each path
/// segment. Bytes that do not make a head are parsed as a body, with a content type chosen by the first
/// byte, so the parameter parsers get fuzzed even by inputs that never become a request.
pub fn request(data: &[u8]) {
    use chunked::Chunked;
    use http::{Framing, HeadParse, has_head_end, parse_head};

    let limits = limits::Limits {
        max_body_bytes: 64 * 1024,
        ..limits::Limits::default()
    };
    let _ = has_head_end(data, 0, limits.max_head_bytes);
    let _ = has_head_end(data, data.len() / 2, limits.max_head_bytes);

    let head = match parse_head(data, &limits) {
        Ok(HeadParse::Done(head, len)) => Some((head, len)),
        Ok(HeadParse::Partial) | Err(_) => None,
    };
    let Some((head, len)) = head else {
        if let Some((&selector, body)) = data.split_first() {
            let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
            exercise_params(None, content_type, body);
        }
        return;
    };
    assert!(
        len <= data.len(),
        "head length {len} beyond input {}",
        data.len()
    );
    let raw = &data[len..];

    let body: Vec<u8> = match head.framing {
        Framing::Length(n) => raw[..n.min(raw.len())].to_vec(),
        Framing::Chunked => {
            let mut whole = Chunked::default();
            let one_piece = whole.feed(raw, limits.max_body_bytes);
            // The same bytes in two reads: the decoder resumes, and must come to the same answer.
            let mut split = Chunked::default();
            let cut = raw.len() / 2;
            let two_pieces = match split.feed(&raw[..cut], limits.max_body_bytes) {
                Ok(None) => split.feed(raw, limits.max_body_bytes),
                done => done,
            };
            match (&one_piece, &two_pieces) {
                (Ok(Some(a)), Ok(Some(b))) => {
                    assert_eq!(a, b, "chunked: consumed lengths differ when split");
                    assert_eq!(whole.body, split.body, "chunked: bodies differ when split");
                    assert!(*a <= raw.len());
                }
                (Ok(Some(_)), Ok(None)) => panic!("chunked: split feed did not finish"),
                _ => {}
            }
            whole.body
        }
    };

    for segment in head.path.split('/') {
        let _ = path_segment(segment);
    }
    let content_type = head.headers.get("content-type");
    exercise_params(head.query.as_deref(), content_type, &body);
}

fn exercise_params(query: Option<&str>, content_type: Option<&str>, body: &[u8]) {
    if let Ok(params) = Params::parse(query, content_type, body) {
        let _ = params.json();
        let names: Vec<String> = params.names().map(str::to_string).collect();
        for name in &names {
            let _ = params.text(name);
            let _ = params.seconds(name);
            let _ = params.flag(name);
        }
    }
    let _ = Params::parse_json_body(content_type, body);
}

/// Arbitrary bytes as a journal file: replay must answer `Ok` or `Err`, never panic.
pub fn journal(data: &[u8]) {
    let _ = crate::journal::replay(data);
}
