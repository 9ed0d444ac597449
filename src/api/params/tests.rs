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

#[test]
fn the_content_type_is_read_in_any_case() {
    // A JSON type, however written, reads the body as JSON: a form-looking body is then an error.
    for ct in [
        "application/vnd.api+JSON",
        "APPLICATION/JSON",
        " application/json ; q=1",
    ] {
        let err = parse_err(None, Some(ct), b"id=x");
        assert!(matches!(err, ParamError::InvalidJson(_)), "{ct}: {err:?}");
    }
    // "+json" without a media type's slash, or a type that only ends in "json", is no JSON type.
    for ct in ["+json", "text/plainjson", "json"] {
        let p = parse(None, Some(ct), b"id=x");
        assert_eq!(text(&p, "id").as_deref(), Some("x"), "{ct}");
    }
    let p = parse(
        None,
        Some("Multipart/Form-Data; boundary=XyZ"),
        b"--XyZ\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\nm\r\n--XyZ--\r\n",
    );
    assert_eq!(text(&p, "id").as_deref(), Some("m"));
    let p = parse(None, Some("Application/X-WWW-Form-Urlencoded"), b"&&id=f&");
    assert_eq!(text(&p, "id").as_deref(), Some("f"));
}

#[test]
fn a_body_of_many_names_in_descending_order_is_read_whole_and_sorted() {
    // Just under the server's 1 MiB body limit: 140,000 names, each sorting before every one
    // before it. Read one by one into a sorted Vec, each would move all the others (n² / 2 moves:
    // 36 s of a core for one request); past 32 names a source's fields are sorted once instead.
    let count = 140_000u32;
    let body: Vec<String> = (0..count).rev().map(|i| format!("{i:06}")).collect();
    let body = body.join("&");
    assert!(body.len() < 1024 * 1024);
    let p = parse(Some("000007=q&x=q"), None, body.as_bytes());
    assert_eq!(p.names().count(), count as usize + 1);
    assert_eq!(
        text(&p, "000007").as_deref(),
        Some(""),
        "the body overrides the query"
    );
    assert_eq!(text(&p, "x").as_deref(), Some("q"));
    assert!(p.names().is_sorted());
}
