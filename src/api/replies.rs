//! Answers every dialect gives alike: 404, 405, a bad path segment, in the API's own words.
use crate::http::{Request, Response, Words};
use crate::observe::metrics::Api;

/// One segment of a path (an id, a name, a number) percent-decoded, the same way for every API
/// (`shop%3Alive` is `shop:live`; `+` stays a plus); a bad escape or bytes that are not UTF-8 are a
/// 400 in the API's `words`.
pub fn decode_segment(raw: &str, words: Words) -> Result<String, Response> {
    if !raw.contains('%') {
        return Ok(raw.to_string());
    }
    super::params::path_segment(raw).map_err(|e| Response::refusal(words, 400, e.to_string()))
}

/// The words an API's errors are in.
pub fn words_of(api: Api) -> Words {
    match api {
        Api::Hal | Api::RequestQueue | Api::Gatekeeper => Words::Error,
        Api::WebMutex | Api::Other => Words::Fail,
    }
}

/// 404 for a path no API owns (in WebMutex's words, as outside any dialect), or one inside a dialect.
pub fn not_found(req: &Request) -> Response {
    not_found_in(req, Words::Fail)
}

pub fn not_found_in(req: &Request, words: Words) -> Response {
    Response::refusal(
        words,
        404,
        format!("no such endpoint: {} {}", req.method(), req.path()),
    )
}

/// 405 with the `Allow` header, or `None` when `allowed` lists the request's method (HEAD goes with GET).
pub fn check_method(req: &Request, allowed: &[&str], words: Words) -> Option<Response> {
    let method = req.method();
    let ok = allowed.contains(&method) || (method == "HEAD" && allowed.contains(&"GET"));
    if ok {
        return None;
    }
    let mut list: Vec<&str> = allowed.to_vec();
    if allowed.contains(&"GET") {
        list.push("HEAD");
    }
    let list = list.join(", ");
    Some(
        Response::refusal(
            words,
            405,
            format!(
                "method {method} is not allowed on {}; use {list}",
                req.path()
            ),
        )
        .with_header("Allow", list),
    )
}
