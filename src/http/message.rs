//! HTTP/1.x messages: the parsed request head, the request, and the response with its one-write encoding.
use std::borrow::Cow;
use std::net::SocketAddr;

use serde_json::Value;

use super::checks;
pub use super::checks::Rejection;
pub use super::fields::Fields;
use super::limits::Limits;

/// A request line and headers, parsed by `httparse` and copied out of the read buffer.
#[derive(Debug, Clone)]
pub struct Head {
    /// The usual methods are constants, not copies.
    pub method: Cow<'static, str>,
    /// The path without the query string, as sent (not percent-decoded).
    pub path: String,
    pub query: Option<String>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    pub headers: Fields,
    pub framing: Framing,
    /// Whether the client sent `Expect: 100-continue`.
    pub expects_continue: bool,
    pub keep_alive: bool,
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(usize),
    Chunked,
}

/// Outcome of trying to parse a head from the start of `buf`.
pub enum HeadParse {
    /// The head is complete and took `len` bytes.
    Done(Head, usize),
    Partial,
}

/// Whether `buf` (from the start of a request) holds the blank line that ends its head. Only bytes
/// from `from` on are looked at (minus the three before, in case the terminator straddles two reads),
/// only up to `limit`, and the search stops at the first terminator: a trickled head costs linear time,
/// and a buffer full of pipelined requests costs one head's worth per request, not the whole buffer.
pub fn has_head_end(buf: &[u8], from: usize, limit: usize) -> bool {
    let end = buf.len().min(limit);
    let mut at = from.saturating_sub(3).min(end);
    while let Some(offset) = buf[at..end].iter().position(|&b| b == b'\n') {
        let nl = at + offset;
        let before = &buf[..nl];
        if before.ends_with(b"\n") || before.ends_with(b"\n\r") {
            return true;
        }
        at = nl + 1;
    }
    false
}

/// Header slots kept on the stack; a larger `max_headers` takes them from the heap.
const STACK_HEADERS: usize = 128;

pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<HeadParse, Rejection> {
    let mut on_stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let mut on_heap = Vec::new();
    let slots = if limits.max_headers <= STACK_HEADERS {
        &mut on_stack[..limits.max_headers]
    } else {
        on_heap.resize(limits.max_headers, httparse::EMPTY_HEADER);
        &mut on_heap[..]
    };
    let mut req = httparse::Request::new(slots);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_head_bytes {
                return Err(head_too_large(limits));
            }
            return Ok(HeadParse::Partial);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Rejection::new(
                431,
                format!("too many header fields: at most {}", limits.max_headers),
            ));
        }
        Err(e) => return Err(Rejection::new(400, format!("malformed request: {e}"))),
    };
    if len > limits.max_head_bytes {
        return Err(head_too_large(limits));
    }
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(Rejection::new(400, "malformed request line"));
    };
    if target.len() > limits.max_target_bytes {
        return Err(checks::target_too_long(limits.max_target_bytes));
    }
    let bytes = req
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len())
        .sum();
    let mut headers = Fields::with_capacity(req.headers.len(), bytes);
    // One pass over the fields: each is kept, and the few that frame the request (or say how the
    // connection goes on) are read as they pass. Errors keep their order of precedence: a value that
    // is not text first, then Host, then framing.
    let mut framing = FramingFields::default();
    let (mut hosts, mut connection, mut expect) = (0, None, None);
    for h in req.headers.iter() {
        let value = checks::header_value(h.name, h.value)?;
        let value = value.trim();
        match known_field(h.name) {
            Some(Known::Host) => hosts += 1,
            Some(Known::Connection) if connection.is_none() => connection = Some(value.to_string()),
            Some(Known::Expect) if expect.is_none() => {
                expect = Some(value.eq_ignore_ascii_case("100-continue"));
            }
            Some(Known::ContentLength) => framing.content_length(value),
            Some(Known::TransferEncoding) => framing.transfer_encoding(value),
            _ => {}
        }
        headers.push(h.name, value);
    }
    checks::check_host(hosts, minor_version)?;
    let (target, authority) = checks::origin_form(target);
    if let Some(authority) = authority {
        // The target's authority stands for Host (RFC 9112 §3.2.2).
        headers.set_all("host", &authority);
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.into_owned(), None),
    };
    let framing = framing.decide(minor_version, limits)?;
    let connection = connection.as_deref().unwrap_or("");
    let has_token = |t: &str| {
        connection
            .split(',')
            .any(|c| c.trim().eq_ignore_ascii_case(t))
    };
    let keep_alive = if minor_version == 0 {
        has_token("keep-alive")
    } else {
        !has_token("close")
    };
    let expects_continue = minor_version >= 1 && expect == Some(true);
    Ok(HeadParse::Done(
        Head {
            method: method_name(method),
            path,
            query,
            minor_version,
            headers,
            framing,
            expects_continue,
            keep_alive,
        },
        len,
    ))
}

fn method_name(method: &str) -> Cow<'static, str> {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"];
    match KNOWN.iter().find(|known| **known == method) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(method.to_string()),
    }
}

fn head_too_large(limits: &Limits) -> Rejection {
    Rejection::new(
        431,
        format!(
            "request head too large: at most {} bytes of request line and headers",
            limits.max_head_bytes
        ),
    )
}

/// The fields a head's handling reads itself.
enum Known {
    Host,
    Connection,
    Expect,
    ContentLength,
    TransferEncoding,
}

fn known_field(name: &str) -> Option<Known> {
    // By length first: most fields are none of these, and are passed over at one comparison.
    let (known, field) = match name.len() {
        4 => ("host", Known::Host),
        6 => ("expect", Known::Expect),
        10 => ("connection", Known::Connection),
        14 => ("content-length", Known::ContentLength),
        17 => ("transfer-encoding", Known::TransferEncoding),
        _ => return None,
    };
    name.eq_ignore_ascii_case(known).then_some(field)
}

/// What the framing fields said, read one by one (the first that cannot be read is the refusal).
#[derive(Default)]
struct FramingFields {
    length: Option<u64>,
    chunked: bool,
    refusal: Option<Rejection>,
}

impl FramingFields {
    fn content_length(&mut self, value: &str) {
        if self.refusal.is_some() {
            return;
        }
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            self.refusal = Some(Rejection::new(400, "Content-Length is not a number"));
            return;
        }
        // All digits: a parse failure can only be overflow, which is "too large" anyway.
        let n = value.parse::<u64>().unwrap_or(u64::MAX);
        if self.length.is_some_and(|m| m != n) {
            self.refusal = Some(Rejection::new(400, "conflicting Content-Length headers"));
            return;
        }
        self.length = Some(n);
    }

    fn transfer_encoding(&mut self, value: &str) {
        if self.refusal.is_some() {
            return;
        }
        let mut codings = value.split(',').map(str::trim);
        let only_chunked = codings
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case("chunked"))
            && codings.next().is_none();
        if !only_chunked {
            self.refusal = Some(Rejection::new(
                501,
                format!(
                    "Transfer-Encoding {value:?} is not supported: send chunked or Content-Length"
                ),
            ));
            return;
        }
        self.chunked = true;
    }

    /// Decides the body framing, and refuses what cannot be read safely before reading any of it.
    fn decide(self, minor_version: u8, limits: &Limits) -> Result<Framing, Rejection> {
        if let Some(refusal) = self.refusal {
            return Err(refusal);
        }
        match (self.chunked, self.length) {
            // HTTP/1.0 has no chunked coding (RFC 9112 §6.1): its body could not be framed.
            (true, _) if minor_version == 0 => Err(Rejection::new(
                400,
                "Transfer-Encoding: chunked in an HTTP/1.0 request",
            )),
            (true, Some(_)) => Err(Rejection::new(
                400,
                "both Transfer-Encoding and Content-Length given",
            )),
            (true, None) => Ok(Framing::Chunked),
            (false, Some(n)) if n > limits.max_body_bytes as u64 => {
                Err(body_too_large(limits.max_body_bytes))
            }
            (false, n) => Ok(Framing::Length(n.unwrap_or(0) as usize)),
        }
    }
}

pub fn body_too_large(max_body: usize) -> Rejection {
    Rejection::new(
        413,
        format!("request body too large: at most {max_body} bytes"),
    )
}

/// A whole request, body read.
#[derive(Debug, Clone)]
pub struct Request {
    pub head: Head,
    pub body: Vec<u8>,
    pub peer: SocketAddr,
    /// The server's own address on this connection.
    pub local: SocketAddr,
    /// Who the client is by its TLS client certificate (the subject's CN, verified against
    /// `--tls-client-ca`); `None` on plain connections or without client certificates.
    pub peer_identity: Option<String>,
}

impl Request {
    pub fn method(&self) -> &str {
        &self.head.method
    }
    pub fn path(&self) -> &str {
        &self.head.path
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name)
    }
    /// The `Host` the client used, for absolute URLs in answers (the address it reached, without one).
    pub fn host(&self) -> String {
        self.header("host")
            .filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
            })
            .map(str::to_string)
            .unwrap_or_else(|| self.local.to_string())
    }
}

/// Milliseconds as JSON seconds: whole seconds as an integer (`30`), otherwise fractional (`2.5`).
pub fn seconds(ms: u64) -> Value {
    if ms.is_multiple_of(1000) {
        (ms / 1000).into()
    } else {
        serde_json::json!(ms as f64 / 1000.0)
    }
}

/// Milliseconds that serialize as `seconds` writes them, for answers built as structs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub u64);

impl serde::Serialize for Seconds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_multiple_of(1000) {
            s.serialize_u64(self.0 / 1000)
        } else {
            s.serialize_f64(self.0 as f64 / 1000.0)
        }
    }
}

/// How an API words a refusal's `status`: WebMutex says `fail`; the gatekeeper document says `error`,
/// and weblock says the same for the APIs whose documents say nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Words {
    Fail,
    Error,
}

/// An answer, encoded in one buffer and sent with one write.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// The media type of a JSON answer (most answers), written before `headers`: a field of its own,
    /// so that an answer with no other header allocates no list of them.
    pub content_type: Option<&'static str>,
    /// Names and values; most values are constants (`application/json`), so they are not copied.
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    pub body: Vec<u8>,
    /// Close the connection after this answer (errors that leave the stream out of step).
    pub close: bool,
    /// A number the handler put on this answer: given back (`Handler::written`) once the answer has
    /// been handed to the socket, or could not be.
    pub mark: Option<u64>,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response {
            status,
            content_type: None,
            headers: Vec::new(),
            body: Vec::new(),
            close: false,
            mark: None,
        }
    }

    pub fn json(status: u16, body: &Value) -> Response {
        // Straight into bytes: `Value`'s `Display` goes through `fmt` a piece at a time.
        Response::json_bytes(status, serde_json::to_vec(body).unwrap_or_default())
    }

    /// A JSON answer already written to bytes.
    pub fn json_bytes(status: u16, body: Vec<u8>) -> Response {
        let mut r = Response::new(status);
        r.body = body;
        r.content_type = Some("application/json");
        r
    }

    /// The error body every API outside a dialect of its own uses: `{"status": "fail", "reason": …}`.
    pub fn fail(status: u16, reason: impl Into<String>) -> Response {
        Response::json(
            status,
            &serde_json::json!({"status": "fail", "reason": reason.into()}),
        )
    }

    /// A refusal in an API's words.
    pub fn refusal(words: Words, status: u16, reason: impl Into<String>) -> Response {
        match words {
            Words::Fail => Response::fail(status, reason),
            Words::Error => Response::error(status, reason),
        }
    }

    /// The error body of the APIs whose documents say `error` (or nothing): `{"status": "error", …}`.
    pub fn error(status: u16, reason: impl Into<String>) -> Response {
        Response::json(
            status,
            &serde_json::json!({"status": "error", "reason": reason.into()}),
        )
    }

    pub fn with_header(
        mut self,
        name: &'static str,
        value: impl Into<Cow<'static, str>>,
    ) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    pub fn closing(mut self) -> Response {
        self.close = true;
        self
    }

    /// The bytes on the wire. `head_only` for HEAD requests; `keep_alive` as agreed with the client.
    pub fn encode(&self, minor_version: u8, head_only: bool, keep_alive: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(160 + self.body.len());
        self.encode_into(&mut out, minor_version, head_only, keep_alive);
        out
    }

    /// `encode`, appended to `out` (a connection's buffer, kept between answers).
    pub fn encode_into(
        &self,
        out: &mut Vec<u8>,
        minor_version: u8,
        head_only: bool,
        keep_alive: bool,
    ) {
        out.reserve(160 + self.body.len());
        out.extend_from_slice(if minor_version == 0 {
            b"HTTP/1.0 "
        } else {
            b"HTTP/1.1 "
        });
        push_decimal(out, u64::from(self.status));
        out.push(b' ');
        out.extend_from_slice(reason_phrase(self.status).as_bytes());
        out.extend_from_slice(b"\r\nServer: weblock\r\nDate: ");
        push_date(out);
        out.extend_from_slice(b"\r\nContent-Length: ");
        push_decimal(out, self.body.len() as u64);
        out.extend_from_slice(b"\r\n");
        if let Some(media_type) = self.content_type {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(media_type.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if minor_version == 0 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&self.body);
        }
    }
}

/// Appends `n` in decimal.
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends the `Date` header's value for now. It changes once a second, so each thread keeps the
/// text of the second it last wrote (formatting it was a tenth of a request's time).
fn push_date(out: &mut Vec<u8>) {
    use std::cell::RefCell;
    thread_local! {
        static LAST: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = crate::timefmt::now_ms();
    let second = now / 1000;
    LAST.with_borrow_mut(|(at, text)| {
        if *at != second {
            *text = crate::timefmt::http_date(now);
            *at = second;
        }
        out.extend_from_slice(text.as_bytes());
    });
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Head, Rejection> {
        match parse_head(raw.as_bytes(), &Limits::default())? {
            HeadParse::Done(head, _) => Ok(head),
            HeadParse::Partial => panic!("partial"),
        }
    }

    #[test]
    fn keep_alive_follows_version_and_connection_header() {
        assert!(
            parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        assert!(
            !parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(
            parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
                .unwrap()
                .keep_alive
        );
    }

    #[test]
    fn framing_is_decided_before_the_body() {
        let huge = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000000000\r\n\r\n";
        assert_eq!(parse(huge).unwrap_err().status, 413);
        let overflow =
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n";
        assert_eq!(parse(overflow).unwrap_err().status, 413);
        let both =
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(both).unwrap_err().status, 400);
        let gzip = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n";
        assert_eq!(parse(gzip).unwrap_err().status, 501);
        let conflict =
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
        assert_eq!(parse(conflict).unwrap_err().status, 400);
        let chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(chunked).unwrap().framing, Framing::Chunked);
    }

    #[test]
    fn oversized_heads_are_431() {
        let limits = Limits::default();
        let long = format!(
            "GET / HTTP/1.1\r\nX: {}",
            "a".repeat(limits.max_head_bytes + 1)
        );
        assert_eq!(
            parse_head(long.as_bytes(), &limits).err().map(|r| r.status),
            Some(431)
        );
        let many: String = (0..limits.max_headers + 1)
            .map(|i| format!("X-{i}: y\r\n"))
            .collect();
        let raw = format!("GET / HTTP/1.1\r\nHost: h\r\n{many}\r\n");
        assert_eq!(parse(&raw).unwrap_err().status, 431);
    }

    #[test]
    fn heads_follow_rfc_9112() {
        assert_eq!(
            parse("GET / HTTP/1.1\r\n\r\n").unwrap_err().status,
            400,
            "no Host"
        );
        let two = "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
        assert_eq!(parse(two).unwrap_err().status, 400);
        assert!(
            parse("GET / HTTP/1.0\r\n\r\n").is_ok(),
            "HTTP/1.0 needs none"
        );
        let chunked10 = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(chunked10).unwrap_err().status, 400);
        let absolute =
            parse("GET http://example.com:80/status?id=a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(
            (absolute.path.as_str(), absolute.query.as_deref()),
            ("/status", Some("id=a"))
        );
        assert_eq!(absolute.headers.get("host"), Some("example.com:80"));
        let long = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(9000));
        assert_eq!(parse(&long).unwrap_err().status, 414);
        let latin1 = b"GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: J\xfcrgen\r\n\r\n";
        match parse_head(latin1, &Limits::default()) {
            Ok(HeadParse::Done(head, _)) => {
                assert_eq!(head.headers.get("user-agent"), Some("Jürgen"))
            }
            _ => panic!("obs-text in a header weblock does not read is accepted"),
        }
    }

    #[test]
    fn head_end_is_found_across_reads() {
        let buf = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(has_head_end(buf, buf.len() - 1, 1024));
        assert!(!has_head_end(&buf[..buf.len() - 1], 0, 1024));
        assert!(has_head_end(b"GET / HTTP/1.0\n\n", 0, 1024));
        assert!(!has_head_end(buf, 0, 10), "not beyond the limit");
    }

    #[test]
    fn encode_writes_length_and_connection() {
        let r = Response::fail(404, "no");
        let bytes = String::from_utf8(r.encode(1, false, false)).unwrap();
        assert!(bytes.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(bytes.contains("Connection: close\r\n"));
        assert!(bytes.ends_with("{\"reason\":\"no\",\"status\":\"fail\"}"));
        let head = String::from_utf8(r.encode(1, true, true)).unwrap();
        assert!(head.ends_with("\r\n\r\n"));
    }

    #[test]
    fn encode_writes_numbers_and_the_date() {
        let mut r = Response::new(200);
        r.body = vec![b'x'; 1234];
        let bytes = String::from_utf8(r.encode(0, false, true)).unwrap();
        assert!(bytes.starts_with("HTTP/1.0 200 OK\r\nServer: weblock\r\nDate: "));
        assert!(bytes.contains("\r\nContent-Length: 1234\r\nConnection: keep-alive\r\n\r\n"));
        let date = bytes
            .split("Date: ")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap();
        assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
        for n in [0, 7, 10, 99, 100, 1_000_000, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }
}
