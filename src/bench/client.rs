//! A lean HTTP/1.1 keep-alive client for the benchmark: one connection, one request at a time, answers
//! framed by `Content-Length` (all weblock sends). Lean so that the figures measure the server.
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    /// The request being sent, kept for the next one's bytes.
    out: Vec<u8>,
}

/// The connection itself: plain, or TLS (`bench --tls`).
enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => &s.sock,
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write_all(buf).and_then(|()| s.flush()),
        }
    }
}

/// While set, every connection opened speaks TLS with this configuration (`bench --tls`: the runs
/// are the plain ones again, and their functions take addresses only). Set and cleared by `run`.
#[cfg(feature = "tls")]
pub static TLS: std::sync::RwLock<Option<std::sync::Arc<rustls::ClientConfig>>> =
    std::sync::RwLock::new(None);

pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    /// A top-level string field of the JSON body. weblock writes compact JSON, so `"name":"` is
    /// looked for first (the client's own cost per request stays small beside the server's); anything
    /// else is read as JSON.
    pub fn string_field(&self, name: &str) -> Option<String> {
        let key = format!("\"{name}\":\"");
        if let Some(at) = memchr::memmem::find(&self.body, key.as_bytes()) {
            let rest = &self.body[at + key.len()..];
            if let Some(end) = memchr::memchr2(b'"', b'\\', rest)
                && rest[end] == b'"'
            {
                return std::str::from_utf8(&rest[..end]).ok().map(str::to_string);
            }
        }
        match self.field(name)? {
            serde_json::Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A top-level string or number field of the JSON body.
    pub fn field(&self, name: &str) -> Option<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        v.get(name).cloned()
    }
}

impl Conn {
    pub fn open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        #[cfg(feature = "tls")]
        let tls = TLS
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        #[cfg(feature = "tls")]
        let stream = match tls {
            None => Stream::Plain(stream),
            Some(config) => {
                let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                let conn = rustls::ClientConnection::new(config, name).map_err(io::Error::other)?;
                Stream::Tls(Box::new(rustls::StreamOwned::new(conn, stream)))
            }
        };
        #[cfg(not(feature = "tls"))]
        let stream = Stream::Plain(stream);
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
            out: Vec::with_capacity(512),
        })
    }

    pub fn set_read_timeout(&self, d: Duration) -> io::Result<()> {
        self.stream.tcp().set_read_timeout(Some(d))
    }

    /// Sends a request without reading its answer (for parking waiters).
    pub fn send(&mut self, method: &str, path: &str, form: &str) -> io::Result<()> {
        form_request(&mut self.out, method, path, form);
        self.stream.write_all(&self.out)
    }

    pub fn call(&mut self, method: &str, path: &str, form: &str) -> io::Result<Answer> {
        self.send(method, path, form)?;
        self.receive()
    }

    pub fn receive(&mut self) -> io::Result<Answer> {
        loop {
            if let Some((answer, used)) = parse(&self.buf)? {
                self.buf.drain(..used);
                return Ok(answer);
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The bytes of a request with a urlencoded `form` body, into `out` (emptied first).
pub fn form_request(out: &mut Vec<u8>, method: &str, path: &str, form: &str) {
    out.clear();
    let _ = write!(
        out,
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
}

/// Whether connections opened now speak TLS (`bench --tls`).
pub fn tls_active() -> bool {
    #[cfg(feature = "tls")]
    return TLS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .is_some();
    #[cfg(not(feature = "tls"))]
    false
}

/// The first whole answer in `buf`, and how many bytes it took; `None` while it is partial.
pub fn parse(buf: &[u8]) -> io::Result<Option<(Answer, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
    };
    let length = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        })
        .unwrap_or(0);
    if buf.len() < head_len + length {
        return Ok(None);
    }
    let answer = Answer {
        status: resp.code.unwrap_or(0),
        body: buf[head_len..head_len + length].to_vec(),
    };
    Ok(Some((answer, head_len + length)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Answer {
        Answer {
            status: 200,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn string_fields_are_found_fast_or_read_as_json() {
        let compact = answer(r#"{"fence":3,"id":"db","token":"0123-ab"}"#);
        assert_eq!(compact.string_field("token").as_deref(), Some("0123-ab"));
        assert_eq!(compact.string_field("id").as_deref(), Some("db"));
        assert_eq!(
            compact.string_field("fence"),
            None,
            "a number is not a string"
        );
        assert_eq!(compact.string_field("missing"), None);
        // An escape inside, or spaces around the colon: read as JSON.
        let escaped = answer(r#"{"holder":"a \"b\"", "id" : "db"}"#);
        assert_eq!(escaped.string_field("holder").as_deref(), Some("a \"b\""));
        assert_eq!(escaped.string_field("id").as_deref(), Some("db"));
    }
}
