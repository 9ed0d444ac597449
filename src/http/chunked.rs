//! An incremental decoder for chunked request bodies: it resumes where the last read stopped, so a body
//! that trickles in costs linear time, and it refuses an oversized body as soon as a chunk size says so.
use super::checks::Rejection;

const MAX_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Default)]
pub struct Chunked {
    /// Offset in the raw input up to which everything is decoded.
    pos: usize,
    state: State,
    pub body: Vec<u8>,
    trailer_bytes: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Size,
    Data(usize),
    DataEnd,
    Trailer,
}

impl Chunked {
    /// Decodes what `raw` (the bytes after the head) holds. `Ok(Some(n))`: the body is complete and took
    /// `n` raw bytes; `Ok(None)`: more input is needed.
    pub fn feed(&mut self, raw: &[u8], max_body: usize) -> Result<Option<usize>, Rejection> {
        loop {
            match self.state {
                State::Size => {
                    let Some(line) = self.line(raw)? else {
                        return Ok(None);
                    };
                    let digits = line.split(|&b| b == b';').next().unwrap_or(&[]);
                    let digits = std::str::from_utf8(digits).unwrap_or("").trim();
                    // Hex digits only: `from_str_radix` would also take a sign, which a proxy in
                    // front may read differently (a request-smuggling shape).
                    let size = Some(digits)
                        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_hexdigit()))
                        .and_then(|d| usize::from_str_radix(d, 16).ok())
                        .ok_or_else(|| {
                            Rejection::new(
                                400,
                                format!("bad chunk size {digits:?} in chunked body"),
                            )
                        })?;
                    if size > max_body.saturating_sub(self.body.len()) {
                        return Err(super::message::body_too_large(max_body));
                    }
                    self.state = if size == 0 {
                        State::Trailer
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    let available = raw.len() - self.pos;
                    if available == 0 {
                        return Ok(None);
                    }
                    let take = left.min(available);
                    self.body.extend_from_slice(&raw[self.pos..self.pos + take]);
                    self.pos += take;
                    self.state = if take == left {
                        State::DataEnd
                    } else {
                        State::Data(left - take)
                    };
                }
                State::DataEnd => {
                    let Some(line) = self.line(raw)? else {
                        return Ok(None);
                    };
                    if !line.is_empty() {
                        return Err(Rejection::new(400, "chunk data longer than its size"));
                    }
                    self.state = State::Size;
                }
                State::Trailer => {
                    let Some(line) = self.line(raw)? else {
                        return Ok(None);
                    };
                    if line.is_empty() {
                        return Ok(Some(self.pos));
                    }
                    self.trailer_bytes += line.len();
                    if self.trailer_bytes > MAX_TRAILERS {
                        return Err(Rejection::new(431, "chunked body trailers too large"));
                    }
                }
            }
        }
    }

    /// The next line (without its CRLF or LF), consuming it; `None` if it has not fully arrived.
    fn line<'a>(&mut self, raw: &'a [u8]) -> Result<Option<&'a [u8]>, Rejection> {
        let rest = &raw[self.pos..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(end) => {
                self.pos += end + 1;
                let line = &rest[..end];
                Ok(Some(line.strip_suffix(b"\r").unwrap_or(line)))
            }
            None if rest.len() > MAX_LINE => {
                Err(Rejection::new(400, "chunk line too long in chunked body"))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_in_one_piece_and_byte_by_byte() {
        let raw = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: y\r\n\r\nNEXT";
        let mut whole = Chunked::default();
        assert_eq!(whole.feed(raw, 1024).unwrap(), Some(raw.len() - 4));
        assert_eq!(whole.body, b"Wikipedia");

        let mut trickle = Chunked::default();
        let mut done = None;
        for end in 1..=raw.len() {
            if let Some(n) = trickle.feed(&raw[..end], 1024).unwrap() {
                done = Some(n);
                break;
            }
        }
        assert_eq!(done, Some(raw.len() - 4));
        assert_eq!(trickle.body, b"Wikipedia");
    }

    #[test]
    fn refuses_oversized_and_malformed_bodies() {
        let mut c = Chunked::default();
        assert_eq!(c.feed(b"ffffffff\r\n", 1024).unwrap_err().status, 413);
        let mut c = Chunked::default();
        assert_eq!(c.feed(b"zz\r\n", 1024).unwrap_err().status, 400);
        let mut c = Chunked::default();
        assert_eq!(c.feed(b"2\r\nabc\r\n", 1024).unwrap_err().status, 400);
        let mut c = Chunked::default();
        assert_eq!(
            c.feed(b"+5\r\nhello\r\n0\r\n\r\n", 1024)
                .unwrap_err()
                .status,
            400
        );
        let mut c = Chunked::default();
        let endless = vec![b'1'; MAX_LINE + 2];
        assert_eq!(c.feed(&endless, 1024).unwrap_err().status, 400);
    }
}
