//! One client connection: its read buffer, where it is in the request/answer cycle, and the steps that
//! move it on. Sockets are non-blocking; a connection is worked on by one thread at a time (the poller's
//! one-shot arming guarantees it, and `Slot::state`'s lock makes it plain), and never holds a thread while
//! it waits for bytes, for room to write, or for a lock.
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::chunked::Chunked;
use super::message::{self as http, Framing, Head, HeadParse, Rejection, Request, Response};
use super::poller::Interest;
use super::socket::{self, Pumped, Session};
use super::{Handled, Handler, Transport, checks as http_checks};

/// A connection and the lock that serialises work on it.
pub struct Slot<H: Handler> {
    /// The key the poller reports this connection by (table index and generation).
    pub key: u64,
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub state: Mutex<ConnState<H>>,
    /// epoll said the peer hung up. A peek cannot tell when bytes it sent before closing are still
    /// unread (it sees the bytes, not the end), so this is what makes such a client count as gone.
    hung_up: AtomicBool,
}

/// Where a connection is between two requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase<W> {
    /// No request under way (keep-alive).
    Idle,
    /// Part of a request has arrived.
    Reading,
    /// A request is being answered by the thread that holds the state lock.
    Busy,
    /// Waiting for a lock: answered later, by the thread that hands the lock over (or by the timer).
    Parked(W),
    /// An answer is partly written; the rest waits for room in the send buffer.
    Writing,
    /// A closing answer is written and our side shut (FIN sent); what the client still sends is
    /// read and thrown away (up to `Limits::linger_bytes`, for `Limits::linger_timeout`) until it
    /// closes too, so that it reads the answer instead of a reset.
    Lingering,
    Closed,
}

/// How an answer must be framed, taken from its request's head (remembered while the request is parked).
#[derive(Debug, Clone, Copy)]
pub struct Shape<T> {
    pub minor_version: u8,
    pub head_only: bool,
    pub keep_alive: bool,
    /// The handler's tag for the request (its answer is counted under it).
    pub tag: Option<T>,
}

pub struct ConnState<H: Handler> {
    pub phase: Phase<H::Wait>,
    /// When the current phase began: idle since, request started, write started.
    pub since: Instant,
    buf: Vec<u8>,
    /// Where the next request starts in `buf` (the bytes before were consumed).
    start: usize,
    /// How much of the next request was already searched for the end of its head.
    scanned: usize,
    /// A parsed head whose body is still arriving, and its length in `buf`.
    head: Option<(Head, usize)>,
    chunked: Option<Chunked>,
    continue_sent: bool,
    /// The framing of the request that is parked.
    pub parked_shape: Option<Shape<H::Tag>>,
    /// An answer is partly written: the pledge it carries, kept once the rest is written.
    pub pending: Option<H::Pledge>,
    out: Vec<u8>,
    close_after_write: bool,
    /// The client closed its side; answer what was read, then close.
    peer_closed: bool,
    /// While `Lingering`: how many more bytes are thrown away before closing anyway.
    linger_left: usize,
    /// The TLS session, on a TLS port: every read and write of the cycle goes through it.
    pub tls: Option<Box<Session>>,
    /// What the poller was last told to watch for; a persistent poller is told again only when it
    /// changes.
    pub armed: Option<Interest>,
}

impl<H: Handler> ConnState<H> {
    pub fn new(now: Instant) -> ConnState<H> {
        ConnState {
            phase: Phase::Idle,
            since: now,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            head: None,
            chunked: None,
            continue_sent: false,
            parked_shape: None,
            pending: None,
            out: Vec::new(),
            close_after_write: false,
            peer_closed: false,
            linger_left: 0,
            tls: None,
            armed: None,
        }
    }
}

impl<H: Handler> Slot<H> {
    pub fn new(key: u64, stream: TcpStream, peer: SocketAddr, local: SocketAddr) -> Slot<H> {
        Slot {
            key,
            stream,
            peer,
            local,
            state: Mutex::new(ConnState::new(Instant::now())),
            hung_up: AtomicBool::new(false),
        }
    }

    pub fn mark_hung_up(&self) {
        self.hung_up.store(true, Ordering::Relaxed);
    }

    pub fn lock(&self) -> MutexGuard<'_, ConnState<H>> {
        // A poisoned lock means a handler panicked mid-request; the state is still structurally sound,
        // and refusing the connection forever would be worse.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether bytes from the client wait in the socket, unread.
    pub fn has_unread_bytes(&self) -> bool {
        self.stream.peek(&mut [0u8; 1]).is_ok_and(|n| n > 0)
    }

    /// Whether the client is gone: a non-blocking peek that reads end-of-stream (or fails) says it hung up.
    pub fn client_gone(&self) -> bool {
        if self.hung_up.load(Ordering::Relaxed) {
            return true;
        }
        let mut byte = [0u8; 1];
        match self.stream.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
            Err(_) => true,
        }
    }
}

/// Reads from the connection: through its TLS session, if it has one.
fn read_some<H: Handler>(
    slot: &Slot<H>,
    st: &mut ConnState<H>,
    buf: &mut [u8],
) -> io::Result<usize> {
    match st.tls.as_mut() {
        Some(tls) => tls.read(&mut &slot.stream, buf),
        None => (&slot.stream).read(buf),
    }
}

/// Writes to the connection: through its TLS session, if it has one.
fn write_some<H: Handler>(slot: &Slot<H>, st: &mut ConnState<H>, buf: &[u8]) -> io::Result<usize> {
    match st.tls.as_mut() {
        Some(tls) => tls.write(&mut &slot.stream, buf),
        None => (&slot.stream).write(buf),
    }
}

/// Sends what the TLS session still holds (nothing to do on a plain connection).
fn flush_tls<H: Handler>(slot: &Slot<H>, st: &mut ConnState<H>) -> io::Result<()> {
    match st.tls.as_mut() {
        Some(tls) => tls.flush(&mut &slot.stream),
        None => Ok(()),
    }
}

/// Handles one readiness report for `slot`. What this made due for other connections (a release
/// hands its lock over) goes to `work`, done by the caller after letting go of this connection.
pub fn on_ready<H: Handler>(net: &Transport<H>, slot: &Arc<Slot<H>>, work: &mut H::Work) {
    let mut st = slot.lock();
    match st.phase {
        Phase::Closed | Phase::Busy => {}
        Phase::Writing => {
            let written = flush(net, slot, &mut st);
            // An answer still being written: its pledge is kept once written, lost if the client
            // is gone first.
            let pending = st.pending.take();
            match written {
                Written::Pending => st.pending = pending,
                Written::Continue | Written::Finished => {
                    if let Some(pledge) = pending {
                        net.handler.kept(pledge);
                    }
                    if written == Written::Continue {
                        serve(net, slot, &mut st, work);
                    }
                }
                Written::Failed => {
                    drop(st);
                    if let Some(pledge) = pending {
                        net.handler.lost(pledge, work);
                    }
                }
            }
        }
        Phase::Parked(wait) => {
            // A TLS client's records are read into its session (their plaintext stays there until
            // the answer): a close_notify is a hang-up, pipelined plaintext is "sent more".
            let pumped = match st.tls.as_mut() {
                Some(tls) => tls.pump(&mut &slot.stream),
                None => Pumped::Quiet,
            };
            if pumped == Pumped::Gone {
                slot.mark_hung_up();
            }
            if slot.client_gone() {
                close(net, slot, &mut st);
                drop(st);
                net.handler.hung_up(slot, wait, work);
            } else if pumped == Pumped::Unread || slot.has_unread_bytes() {
                // The client sent more while waiting (pipelining). Leave it unread until the wait is
                // answered, but keep listening for the client hanging up.
                rearm(net, slot, &mut st, Interest::HangUp);
            } else {
                rearm(net, slot, &mut st, Interest::Read);
            }
        }
        Phase::Idle | Phase::Reading => {
            if fill(net, slot, &mut st) {
                serve(net, slot, &mut st, work);
            }
        }
        Phase::Lingering => discard(net, slot, &mut st),
    }
}

/// After a closing answer: our side is shut (the client reads the answer, then the end), and the
/// socket stays open, read and thrown away, until the client closes too, the bound is read, or
/// `linger_timeout` runs out (the sweeper) — never a reset while the client still sends. No thread
/// waits here: the connection is re-armed for reading like any other.
fn linger<H: Handler>(net: &Transport<H>, slot: &Slot<H>, st: &mut ConnState<H>) {
    // TLS says its end first; then the rest is read raw and thrown away, records and all.
    if let Some(tls) = st.tls.as_mut() {
        tls.close_notify(&mut &slot.stream);
    }
    if st.peer_closed || slot.stream.shutdown(Shutdown::Write).is_err() {
        close(net, slot, st);
        return;
    }
    st.phase = Phase::Lingering;
    st.since = Instant::now();
    st.buf = Vec::new();
    st.start = 0;
    st.scanned = 0;
    st.head = None;
    st.chunked = None;
    st.linger_left = net.limits.linger_bytes;
    discard(net, slot, st);
}

/// Reads and drops what a lingering client sends; closes at its end, at an error, or past the bound.
fn discard<H: Handler>(net: &Transport<H>, slot: &Slot<H>, st: &mut ConnState<H>) {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match (&slot.stream).read(&mut chunk) {
            Ok(n) if n > 0 && n < st.linger_left => st.linger_left -= n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                rearm(net, slot, st, Interest::Read);
                return;
            }
            // The client closed (0), failed, or sent more than is read for it.
            _ => {
                close(net, slot, st);
                return;
            }
        }
    }
}

/// The most bytes read ahead for one request: its head, its body, and room for chunked encoding.
fn read_cap(limits: &super::Limits) -> usize {
    limits.max_head_bytes + limits.max_body_bytes + 64 * 1024
}

/// Reads what the socket has, up to what a request may need. False if the connection was closed.
fn fill<H: Handler>(net: &Transport<H>, slot: &Slot<H>, st: &mut ConnState<H>) -> bool {
    // Drop what earlier requests consumed, once per batch.
    if st.start > 0 {
        st.buf.drain(..st.start);
        st.start = 0;
    }
    let cap = read_cap(&net.limits);
    // The bytes land in this thread's scratch buffer first: a fresh zeroed array per call cost more
    // than the whole request's handling (16 KiB of memset per read).
    READ_SCRATCH.with_borrow_mut(|chunk| {
        while st.buf.len() < cap {
            let room = (cap - st.buf.len()).min(chunk.len());
            match read_some(slot, st, &mut chunk[..room]) {
                Ok(0) => {
                    st.peer_closed = true;
                    break;
                }
                Ok(n) => {
                    if st.buf.is_empty() && st.phase == Phase::Idle {
                        st.phase = Phase::Reading;
                        st.since = Instant::now();
                    }
                    st.buf.extend_from_slice(&chunk[..n]);
                    // A plain socket that gave less than asked for is empty for now: the poller
                    // (level-triggered) reports it again when more comes, so the read that would only
                    // say "would block" is saved. A TLS session may hold more plaintext: it reads on.
                    if n < room && st.tls.is_none() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if let Some(refused) = socket::not_tls(&e) {
                        refuse_plain_http(net, slot, st, refused.host.as_deref());
                    } else {
                        close(net, slot, st);
                    }
                    return false;
                }
            }
        }
        true
    })
}

thread_local! {
    /// Where `fill` reads to, one per worker thread, zeroed once.
    static READ_SCRATCH: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0u8; 16 * 1024].into_boxed_slice());
}

/// Plain HTTP on a TLS port: answered at once, in plain HTTP (the connection drops its session), with
/// the URL to use; then closed as any closing answer is.
fn refuse_plain_http<H: Handler>(
    net: &Transport<H>,
    slot: &Slot<H>,
    st: &mut ConnState<H>,
    host: Option<&str>,
) {
    st.tls = None;
    let host = host.map_or_else(|| slot.local.to_string(), str::to_string);
    net.handler.answered(None, 400);
    let response =
        Response::fail(400, format!("this port speaks TLS: use https://{host}")).closing();
    write_answer(net, slot, st, response.encode(1, false, false), false);
}

/// Answers every complete request in the buffer, in order, until one parks, an answer has to wait for
/// room, or more bytes are needed; then re-arms the connection for what it waits on.
pub fn serve<H: Handler>(
    net: &Transport<H>,
    slot: &Arc<Slot<H>>,
    st: &mut ConnState<H>,
    work: &mut H::Work,
) {
    loop {
        let request = match next_request(net, slot, st) {
            Ok(Some(request)) => request,
            Ok(None) => {
                // Plaintext the TLS session decrypted but `fill` left (its bound reached, or read
                // while parked) is not in the socket: no readiness will come for it.
                if st.tls.as_mut().is_some_and(|tls| tls.has_plaintext()) {
                    let before = st.buf.len() - st.start;
                    if !fill(net, slot, st) {
                        return;
                    }
                    if st.buf.len() - st.start > before {
                        continue;
                    }
                }
                if st.peer_closed {
                    close(net, slot, st);
                } else {
                    rearm(net, slot, st, Interest::Read);
                }
                return;
            }
            Err(Refused::Rejected(rejection)) => {
                net.handler.answered(None, rejection.status);
                let response = Response::fail(rejection.status, rejection.reason).closing();
                write_answer(net, slot, st, response.encode(1, false, false), false);
                return;
            }
            // Answered before its body was asked for: the body, if the client sends it anyway, is
            // read and dropped while the connection lingers.
            Err(Refused::BeforeBody(response, tag)) => {
                net.handler.answered(Some(tag), response.status);
                let response = response.closing();
                write_answer(net, slot, st, response.encode(1, false, false), false);
                return;
            }
        };
        st.phase = Phase::Busy;
        let shape = Shape {
            minor_version: request.head.minor_version,
            head_only: request.method() == "HEAD",
            keep_alive: request.head.keep_alive && !st.peer_closed,
            tag: Some(net.handler.tag(&request)),
        };
        match net.handler.handle(net, slot, &request, work) {
            Handled::Parked(wait) => {
                st.phase = Phase::Parked(wait);
                st.parked_shape = Some(shape);
                rearm(net, slot, st, Interest::Read);
                return;
            }
            Handled::Respond(response) => {
                if respond_marked(net, slot, st, &response, shape, work) != Written::Continue {
                    return;
                }
            }
        }
    }
}

/// What became of an answer handed to the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// All written; the connection goes on to its next request.
    Continue,
    /// All written, and the connection closed as agreed (`Connection: close`).
    Finished,
    /// Part written; the rest waits for room (the poller calls back).
    Pending,
    /// The client is gone; it did not get the answer.
    Failed,
}

/// Answers a parked request (granted, timed out, ended), then serves what the client sent meanwhile.
/// Returns whether the client got (or is getting) the answer. An answer only partly written keeps
/// `pledge` until the rest is (then kept) or the client is gone (then lost); otherwise it is given
/// back to the caller.
pub fn answer_parked<H: Handler>(
    net: &Transport<H>,
    slot: &Arc<Slot<H>>,
    st: &mut ConnState<H>,
    response: &Response,
    pledge: Option<H::Pledge>,
    work: &mut H::Work,
) -> (Written, Option<H::Pledge>) {
    let shape = st.parked_shape.take().unwrap_or(Shape {
        minor_version: 1,
        head_only: false,
        keep_alive: false,
        tag: None,
    });
    match respond_marked(net, slot, st, response, shape, work) {
        Written::Continue => {
            serve(net, slot, st, work);
            (Written::Continue, pledge)
        }
        Written::Pending => {
            st.pending = pledge;
            (Written::Pending, None)
        }
        other => (other, pledge),
    }
}

/// The tag of the request a connection is parked with.
pub fn parked_tag<H: Handler>(st: &ConnState<H>) -> Option<H::Tag> {
    st.parked_shape.and_then(|shape| shape.tag)
}

/// `respond`, then `response.mark` given back to the handler (`Handler::written`), even if writing
/// panics: a mark left outstanding could hold the handler back for good (a lease that cannot end).
fn respond_marked<H: Handler>(
    net: &Transport<H>,
    slot: &Slot<H>,
    st: &mut ConnState<H>,
    response: &Response,
    shape: Shape<H::Tag>,
    work: &mut H::Work,
) -> Written {
    struct GiveBack<'a, H: Handler> {
        handler: &'a H,
        mark: Option<u64>,
        work: &'a mut H::Work,
    }
    impl<H: Handler> Drop for GiveBack<'_, H> {
        fn drop(&mut self) {
            if let Some(mark) = self.mark.take() {
                self.handler.written(mark, self.work);
            }
        }
    }
    let _give_back = GiveBack {
        handler: &net.handler,
        mark: response.mark,
        work,
    };
    respond(net, slot, st, response, shape)
}

fn respond<H: Handler>(
    net: &Transport<H>,
    slot: &Slot<H>,
    st: &mut ConnState<H>,
    response: &Response,
    shape: Shape<H::Tag>,
) -> Written {
    net.handler.answered(shape.tag, response.status);
    let keep_alive = shape.keep_alive && !response.close;
    // Into the buffer the last answer left (see `flush`): no allocation per answer.
    let mut bytes = std::mem::take(&mut st.out);
    bytes.clear();
    response.encode_into(&mut bytes, shape.minor_version, shape.head_only, keep_alive);
    write_answer(net, slot, st, bytes, keep_alive)
}

fn write_answer<H: Handler>(
    net: &Transport<H>,
    slot: &Slot<H>,
    st: &mut ConnState<H>,
    bytes: Vec<u8>,
    keep_alive: bool,
) -> Written {
    st.out = bytes;
    st.close_after_write = !keep_alive;
    st.phase = Phase::Writing;
    st.since = Instant::now();
    flush(net, slot, st)
}

/// The largest answer buffer a connection keeps between answers.
const KEPT_OUT_BYTES: usize = 1024;

/// Writes what is pending.
fn flush<H: Handler>(net: &Transport<H>, slot: &Slot<H>, st: &mut ConnState<H>) -> Written {
    let mut written = 0;
    while written < st.out.len() {
        let out = std::mem::take(&mut st.out);
        let result = write_some(slot, st, &out[written..]);
        st.out = out;
        match result {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                st.out.drain(..written);
                rearm(net, slot, st, Interest::Write);
                return Written::Pending;
            }
            Err(_) => break,
        }
    }
    if written < st.out.len() {
        close(net, slot, st);
        return Written::Failed;
    }
    // Written: the buffer is kept for the next answer, unless a large answer grew it (an idle
    // connection keeps at most `KEPT_OUT_BYTES`).
    st.out.clear();
    if st.out.capacity() > KEPT_OUT_BYTES {
        st.out = Vec::new();
    }
    // TLS: the answer's records may still wait in the session for room in the socket.
    match flush_tls(slot, st) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            rearm(net, slot, st, Interest::Write);
            return Written::Pending;
        }
        Err(_) => {
            close(net, slot, st);
            return Written::Failed;
        }
    }
    if st.close_after_write {
        linger(net, slot, st);
        return Written::Finished;
    }
    st.phase = if st.buf.len() == st.start {
        Phase::Idle
    } else {
        Phase::Reading
    };
    st.since = Instant::now();
    Written::Continue
}

/// Takes the next complete request out of the buffer, if one has fully arrived. The request starts at
/// `st.start`; the bytes before it were consumed and are dropped once per batch (`fill`).
fn next_request<H: Handler>(
    net: &Transport<H>,
    slot: &Slot<H>,
    st: &mut ConnState<H>,
) -> Result<Option<Request>, Refused<H>> {
    let limits = &net.limits;
    let base = st.start;
    if st.head.is_none() {
        let pending = st.buf.len() - base;
        if pending == 0 {
            return Ok(None);
        }
        let head = &st.buf[base..];
        if !http::has_head_end(head, st.scanned, limits.max_head_bytes + 4) {
            // Every byte so far is the head's. A bare CR never ends a line: 400 now, not a wait for
            // a line end that never comes. (Once the head has ended, httparse refuses one.)
            let window = &head[..pending.min(limits.max_head_bytes + 4)];
            if http_checks::has_bare_cr(window, st.scanned) {
                return Err(Rejection::new(
                    400,
                    "bare CR in the request head: lines end with CRLF",
                )
                .into());
            }
            // The request line alone is over its bound (method and version take the 16 more).
            if http_checks::line_too_long(head, limits.max_target_bytes + 16) {
                return Err(http_checks::target_too_long(limits.max_target_bytes).into());
            }
            st.scanned = pending;
            if pending > limits.max_head_bytes {
                return Err(Rejection::new(
                    431,
                    format!(
                        "request head too large: at most {} bytes of request line and headers",
                        limits.max_head_bytes
                    ),
                )
                .into());
            }
            return Ok(None);
        }
        match http::parse_head(&st.buf[base..], limits)? {
            HeadParse::Partial => {
                st.scanned = pending;
                return Ok(None);
            }
            HeadParse::Done(head, len) => {
                if head.framing == Framing::Chunked {
                    st.chunked = Some(Chunked::default());
                }
                st.head = Some((head, len));
            }
        }
    }
    let Some((head, head_len)) = &st.head else {
        return Ok(None);
    };
    let body_at = base + *head_len;
    let (body, consumed) = match head.framing {
        Framing::Length(n) => {
            if st.buf.len() - body_at < n {
                ask_for_body(net, slot, st)?;
                return Ok(None);
            }
            (st.buf[body_at..body_at + n].to_vec(), body_at + n)
        }
        Framing::Chunked => {
            let Some(decoder) = st.chunked.as_mut() else {
                return Ok(None);
            };
            match decoder.feed(&st.buf[body_at..], limits.max_body_bytes)? {
                Some(raw_len) => (std::mem::take(&mut decoder.body), body_at + raw_len),
                None if st.buf.len() >= read_cap(limits) => {
                    // Its encoding (tiny chunks, long extensions) outgrew what is read for one
                    // request, though the body itself may be small: refuse it rather than wait.
                    return Err(Rejection::new(
                        413,
                        "chunked encoding too large: send bigger chunks, or Content-Length",
                    )
                    .into());
                }
                None => {
                    ask_for_body(net, slot, st)?;
                    return Ok(None);
                }
            }
        }
    };
    let Some((head, _)) = st.head.take() else {
        return Ok(None);
    };
    st.start = consumed;
    st.scanned = 0;
    st.chunked = None;
    st.continue_sent = false;
    Ok(Some(Request {
        head,
        body,
        peer: slot.peer,
        local: slot.local,
        peer_identity: st.tls.as_mut().and_then(|tls| tls.identity()),
    }))
}

/// Why no request was taken from the buffer: a head that broke the rules, or a request the handler
/// answered before its body was asked for.
enum Refused<H: Handler> {
    Rejected(Rejection),
    BeforeBody(Response, H::Tag),
}

impl<H: Handler> From<Rejection> for Refused<H> {
    fn from(rejection: Rejection) -> Refused<H> {
        Refused::Rejected(rejection)
    }
}

/// Tells a client that waits for `100 Continue` to send its body, once the head passed its checks
/// and the handler did not answer it already (`Handler::before_body`: a refused secret is said
/// before the body is sent, not after).
fn ask_for_body<H: Handler>(
    net: &Transport<H>,
    slot: &Slot<H>,
    st: &mut ConnState<H>,
) -> Result<(), Refused<H>> {
    let Some(head) = st
        .head
        .as_ref()
        .filter(|(h, _)| h.expects_continue && !st.continue_sent)
        .map(|(h, _)| h.clone())
    else {
        return Ok(());
    };
    {
        let provisional = Request {
            head,
            body: Vec::new(),
            peer: slot.peer,
            local: slot.local,
            peer_identity: st.tls.as_mut().and_then(|tls| tls.identity()),
        };
        if let Some(answer) = net.handler.before_body(&provisional) {
            st.head = None;
            st.chunked = None;
            return Err(Refused::BeforeBody(answer, net.handler.tag(&provisional)));
        }
        st.continue_sent = true;
        // 25 bytes into an empty send buffer: this cannot meaningfully block; if it fails, the client
        // sends its body anyway after its own short wait, as curl does.
        let _ = write_some(slot, st, b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    Ok(())
}

fn rearm<H: Handler>(
    net: &Transport<H>,
    slot: &Slot<H>,
    st: &mut ConnState<H>,
    mut interest: Interest,
) {
    // A TLS session with records still to send (its handshake, a 100 Continue) waits for room first;
    // then its read goes on (`fill` starts by sending them).
    if st.tls.as_ref().is_some_and(|tls| tls.wants_write()) {
        match flush_tls(slot, st) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => interest = Interest::Write,
            Err(_) => {
                close(net, slot, st);
                return;
            }
        }
    }
    if !net.poller.oneshot() && st.armed == Some(interest) {
        return;
    }
    if net.poller.rearm(&slot.stream, slot.key, interest).is_err() {
        close(net, slot, st);
        return;
    }
    st.armed = Some(interest);
}

/// Closes the connection: out of the table and the poller, and the socket shut so the client sees it now
/// even while a parked waiter's entry still refers to it.
pub fn close<H: Handler>(net: &Transport<H>, slot: &Slot<H>, st: &mut ConnState<H>) {
    if st.phase == Phase::Closed {
        return;
    }
    st.phase = Phase::Closed;
    st.buf = Vec::new();
    st.start = 0;
    st.out = Vec::new();
    net.poller.remove(&slot.stream);
    let _ = slot.stream.shutdown(Shutdown::Both);
    net.conns.remove(slot.key);
}

/// Cuts off a connection the sweeper found over its time: a request not sent in time gets its 408.
/// Returns the pledge of an answer the client never read.
pub fn expire<H: Handler>(
    net: &Transport<H>,
    slot: &Slot<H>,
    st: &mut ConnState<H>,
) -> Option<H::Pledge> {
    if st.phase == Phase::Reading {
        let response = Response::fail(
            408,
            format!(
                "request not received within {}",
                crate::duration::format(net.limits.request_timeout)
            ),
        )
        .closing();
        let _ = write_some(slot, st, &response.encode(1, false, false));
        let _ = flush_tls(slot, st);
        net.handler.answered(None, 408);
    }
    close(net, slot, st);
    st.pending.take()
}
