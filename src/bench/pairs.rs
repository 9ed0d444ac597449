//! The uncontended run over plain HTTP: `n` keep-alive connections, each taking and giving back a lock
//! of its own as fast as the server answers, all driven from one thread that waits on them with
//! `poll(2)`, as `redis-benchmark` drives Redis. So the server measured beside Redis meets the same
//! kind of client: one that is often already awake when an answer arrives. A thread blocked per
//! connection (as over TLS, `uncontended` in `mod.rs`) makes every answer wake a thread of its own,
//! and the server pays that wake-up inside its `send`.
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Instant;

use super::client::{Answer, form_request, parse};
use super::token_of;

/// Where a connection is in its pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Its grab is on its way; the release follows.
    Grabbing,
    /// Its release is on its way; then a pair is done.
    Releasing,
    /// Past the deadline, its last pair done.
    Done,
}

/// One connection and the lock it takes.
struct Client {
    stream: TcpStream,
    grab_form: String,
    /// The request being sent (kept for the next one's bytes).
    out: Vec<u8>,
    /// What has come in and is not yet a whole answer.
    buf: Vec<u8>,
    step: Step,
}

impl Client {
    fn open(addr: SocketAddr, id: &str) -> io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            grab_form: format!("id={id}"),
            out: Vec::with_capacity(512),
            buf: Vec::with_capacity(4096),
            step: Step::Grabbing,
        })
    }

    /// Sends a form `POST`. The socket is blocking: a request of a few hundred bytes always fits
    /// in its empty send buffer (one request at a time), so this never waits.
    fn post(&mut self, path: &str, form: &str) -> io::Result<()> {
        form_request(&mut self.out, "POST", path, form);
        self.stream.write_all(&self.out)
    }

    fn grab(&mut self) -> io::Result<()> {
        self.step = Step::Grabbing;
        let form = std::mem::take(&mut self.grab_form);
        let sent = self.post("/grab", &form);
        self.grab_form = form;
        sent
    }

    /// Reads what the poller said is there (one `read`, which does not block) and takes the
    /// whole answers out of it, in order.
    fn answers(&mut self) -> Result<Vec<Answer>, String> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed a connection".to_string());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        let mut answers = Vec::new();
        while let Some((answer, used)) = parse(&self.buf).map_err(|e| e.to_string())? {
            self.buf.drain(..used);
            answers.push(answer);
        }
        Ok(answers)
    }

    /// Takes `answer` to this connection's last request; sends the next one unless the run is over.
    /// Returns whether a pair was completed.
    fn on_answer(&mut self, answer: &Answer, over: bool) -> Result<bool, String> {
        match self.step {
            Step::Grabbing => {
                let token = token_of(answer)?;
                let form = format!("{}&token={token}", self.grab_form);
                self.step = Step::Releasing;
                self.post("/release", &form).map_err(|e| e.to_string())?;
                Ok(false)
            }
            Step::Releasing if answer.status != 200 => {
                Err(format!("release failed: {}", answer.status))
            }
            Step::Releasing => {
                // Every lock taken is given back, past the deadline too: none is left held.
                if over {
                    self.step = Step::Done;
                } else {
                    self.grab().map_err(|e| e.to_string())?;
                }
                Ok(true)
            }
            Step::Done => Err("an answer nobody asked for".to_string()),
        }
    }
}

/// Grab+release pairs completed by `ids.len()` connections (connection `i` to
/// `addrs[i % addrs.len()]`, on lock `ids[i]`) until `deadline`.
pub fn drive(addrs: &[SocketAddr], ids: &[String], deadline: Instant) -> Result<u64, String> {
    let mut clients = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Client::open(addrs[i % addrs.len()], id))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| e.to_string())?;
    for client in &mut clients {
        client.grab().map_err(|e| e.to_string())?;
    }
    let mut fds: Vec<libc::pollfd> = clients
        .iter()
        .map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut pairs = 0;
    // A server that stops answering ends the run with an error, not a hang.
    let give_up = deadline + std::time::Duration::from_secs(120);
    while clients.iter().any(|c| c.step != Step::Done) {
        if Instant::now() > give_up {
            return Err("the server stopped answering".to_string());
        }
        // SAFETY: `fds` is a live array of `fds.len()` pollfd structures for the call's duration.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 1_000) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.to_string());
        }
        let over = Instant::now() >= deadline;
        for (client, fd) in clients.iter_mut().zip(&mut fds) {
            if std::mem::take(&mut fd.revents) == 0 {
                continue;
            }
            for answer in client.answers()? {
                pairs += u64::from(client.on_answer(&answer, over)?);
            }
            if client.step == Step::Done {
                // Not polled any more (a negative descriptor is skipped).
                fd.fd = -1;
            }
        }
    }
    Ok(pairs)
}
