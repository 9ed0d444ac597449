//! `weblock bench`: drives a weblock server over real HTTP on loopback, like any client, and reports
//! throughput, hand-over latency and the memory parked waiters cost. It starts its own in-memory server
//! (a child process, so its memory is measured alone) unless given `--server`: one URL, or several
//! comma-separated (servers sharing one `--store`), over which its clients are spread.
mod client;
mod pairs;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use client::Conn;

pub struct Options {
    pub server: Option<String>,
    pub duration: Duration,
    pub clients: Vec<usize>,
    pub waiters: usize,
    pub handovers: usize,
    pub parked: usize,
    /// Also measure a server with `--state` (a journal in a temporary directory), beside in-memory.
    pub durable: bool,
    /// Also measure a server on a TLS port (a self-signed certificate made with `openssl`), beside
    /// plain.
    pub tls: bool,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub server: String,
    pub uncontended: Vec<Throughput>,
    pub handover: Option<Handover>,
    pub parked: Option<Parked>,
    /// The same throughput and hand-over runs against a server with `--state` (only when bench
    /// starts its servers itself).
    pub durable: Option<Durable>,
    /// The same throughput and hand-over runs over TLS (`--tls`; in memory).
    pub tls: Option<Durable>,
}

#[derive(Debug, Serialize)]
pub struct Durable {
    pub uncontended: Vec<Throughput>,
    pub handover: Option<Handover>,
}

#[derive(Debug, Serialize)]
pub struct Throughput {
    pub clients: usize,
    pub pairs_per_sec: f64,
    /// With `--state`: the journal's fdatasyncs per second during the run (from the servers'
    /// `weblock_journal_syncs_total`), so what group commit shares is seen.
    pub syncs_per_sec: Option<f64>,
    /// The server's CPU time (user + system) per pair, in microseconds: steadier than pairs/s on a
    /// shared machine. Only for a server this benchmark started, where `/proc` tells (Linux).
    pub server_cpu_us_per_pair: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Handover {
    pub waiters: usize,
    pub grants: usize,
    pub median_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

#[derive(Debug, Serialize)]
pub struct Parked {
    pub waiters: usize,
    /// The server's resident memory with every waiter parked (only when bench started the server).
    pub rss_kib: Option<u64>,
    pub idle_rss_kib: Option<u64>,
    /// Whether every waiter was granted in the order the server queued them.
    pub fifo: bool,
    /// From the first release to the last waiter's grant, each releasing at once to the next.
    pub served_ms: f64,
}

/// A server this benchmark started, stopped when dropped.
struct Spawned {
    child: Child,
    /// Its stdout, kept open while it runs (it writes more than its address line).
    _stdout: Option<BufReader<std::process::ChildStdout>>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(opts: &Options) -> Result<Report, String> {
    // Each parked waiter is a socket here and one in the server.
    let _ = crate::http::raise_open_files_limit();
    let (addrs, spawned) = match &opts.server {
        Some(urls) => (resolve_all(urls)?, None),
        None => {
            let (addr, s) = spawn_server(&[])?;
            (vec![addr], Some(s))
        }
    };
    let addr = addrs[0];
    let pid = spawned.as_ref().map(|s| s.child.id());
    let idle_rss = pid.and_then(rss_kib);
    let (uncontended, handover) = throughput_and_handover(&addrs, opts, pid)?;
    let servers: Vec<String> = addrs.iter().map(|a| format!("http://{a}")).collect();
    let mut report = Report {
        server: servers.join(","),
        uncontended,
        handover,
        parked: None,
        durable: None,
        tls: None,
    };
    if opts.parked > 0 {
        report.parked = Some(parked(addr, opts.parked, pid, idle_rss)?);
    }
    drop(spawned);
    if opts.durable && opts.server.is_none() {
        let dir = std::env::temp_dir().join(format!("weblock-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let state = dir.join("state");
        let result =
            spawn_server(&["--state", &state.to_string_lossy()]).and_then(|(addr, server)| {
                let runs = throughput_and_handover(&[addr], opts, Some(server.child.id()));
                drop(server);
                runs
            });
        let _ = std::fs::remove_dir_all(&dir);
        let (uncontended, handover) = result?;
        report.durable = Some(Durable {
            uncontended,
            handover,
        });
    }
    if opts.tls && opts.server.is_none() {
        report.tls = Some(over_tls(opts)?);
    }
    Ok(report)
}

/// The throughput and hand-over runs against a server of its own on a TLS port, with a self-signed
/// certificate for 127.0.0.1 made by the `openssl` command (weblock makes no certificates itself).
#[cfg(feature = "tls")]
fn over_tls(opts: &Options) -> Result<Durable, String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let dir = std::env::temp_dir().join(format!("weblock-bench-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let result = match made {
        Ok(status) if status.success() => (|| {
            let der = CertificateDer::from_pem_file(&cert).map_err(|e| format!("{e:?}"))?;
            let mut roots = rustls::RootCertStore::empty();
            roots.add(der).map_err(|e| e.to_string())?;
            let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let (addr, server) = spawn_server(&[
                "--tls-cert",
                &cert.to_string_lossy(),
                "--tls-key",
                &key.to_string_lossy(),
            ])?;
            *client::TLS
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(std::sync::Arc::new(config));
            let runs = throughput_and_handover(&[addr], opts, Some(server.child.id()));
            *client::TLS
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            runs
        })(),
        _ => Err("--tls needs the openssl command, to make a certificate".to_string()),
    };
    let _ = std::fs::remove_dir_all(&dir);
    let (uncontended, handover) = result?;
    Ok(Durable {
        uncontended,
        handover,
    })
}

#[cfg(not(feature = "tls"))]
fn over_tls(_: &Options) -> Result<Durable, String> {
    Err("--tls: this weblock was built without TLS (the tls feature)".to_string())
}

/// The runs against `addrs`: client `i` talks to `addrs[i % addrs.len()]` (servers sharing one store).
fn throughput_and_handover(
    addrs: &[SocketAddr],
    opts: &Options,
    pid: Option<u32>,
) -> Result<(Vec<Throughput>, Option<Handover>), String> {
    let mut runs = Vec::new();
    for &n in &opts.clients {
        runs.push(uncontended(addrs, n, opts.duration, pid)?);
    }
    let handover = match opts.waiters {
        0 => None,
        n => Some(handover(addrs, n, opts.handovers)?),
    };
    Ok((runs, handover))
}

/// `http://A,http://B,...` (or one URL): every server's address.
fn resolve_all(urls: &str) -> Result<Vec<SocketAddr>, String> {
    urls.split(',')
        .filter(|u| !u.trim().is_empty())
        .map(|u| resolve(u.trim()))
        .collect::<Result<Vec<_>, _>>()
        .and_then(|addrs| match addrs.is_empty() {
            true => Err(format!("no server URL in {urls:?}")),
            false => Ok(addrs),
        })
}

fn resolve(url: &str) -> Result<SocketAddr, String> {
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    host.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {url}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {url}"))
}

fn spawn_server(extra: &[&str]) -> Result<(SocketAddr, Spawned), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find weblock itself: {e}"))?;
    // Its event log is off: a line per grant on the bench's own terminal would measure the terminal.
    // (Its stderr stays inherited, for its errors.)
    let mut child = Command::new(exe)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "off"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start a server: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from the server")?;
    let mut spawned = Spawned {
        child,
        _stdout: None,
    };
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    reader
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the server's address: {e}"))?;
    let line_addr = line.trim();
    let addr = line_addr
        .strip_prefix("listening on http://")
        .or_else(|| line_addr.strip_prefix("listening on https://"))
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("unexpected first line from the server: {line:?}"))?;
    spawned._stdout = Some(reader);
    Ok((addr, spawned))
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The CPU time process `pid` has used so far (user + system), from `/proc/PID/stat` (Linux).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ...`: comm may hold spaces; utime and stime are the 12th and 13th fields
    // after it, in clock ticks.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // SAFETY: plain libc call with no arguments to check.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_sec = u64::try_from(per_sec).ok().filter(|&t| t > 0)?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / per_sec as f64,
    ))
}

fn token_of(answer: &client::Answer) -> Result<String, String> {
    match answer.string_field("token") {
        Some(t) if answer.status == 200 => Ok(t),
        _ => Err(format!(
            "grab failed: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        )),
    }
}

/// Grab+release pairs per second from `n` keep-alive clients, each on its own lock.
fn uncontended(
    addrs: &[SocketAddr],
    n: usize,
    duration: Duration,
    pid: Option<u32>,
) -> Result<Throughput, String> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let syncs_before = journal_syncs(addrs);
    let cpu_before = pid.and_then(cpu_time);
    let start = Instant::now();
    let deadline = start + duration;
    let ids: Vec<String> = (0..n).map(|i| format!("bench-{run}-{i}")).collect();
    let total = if client::tls_active() {
        pairs_threaded(addrs, &ids, deadline)?
    } else {
        pairs::drive(addrs, &ids, deadline)?
    };
    let elapsed = start.elapsed().as_secs_f64();
    let syncs = journal_syncs(addrs)
        .zip(syncs_before)
        .map(|(after, before)| after - before);
    let cpu = pid
        .and_then(cpu_time)
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    Ok(Throughput {
        clients: n,
        pairs_per_sec: total as f64 / elapsed,
        syncs_per_sec: syncs.map(|s| s as f64 / elapsed),
        server_cpu_us_per_pair: cpu
            .filter(|_| total > 0)
            .map(|c| c.as_secs_f64() * 1e6 / total as f64),
    })
}

/// The uncontended run over TLS: a thread per connection, blocked on its own answers (a TLS
/// session does not fit the plain run's `poll` loop; see `pairs`).
fn pairs_threaded(addrs: &[SocketAddr], ids: &[String], deadline: Instant) -> Result<u64, String> {
    let threads: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let addr = addrs[i % addrs.len()];
            let grab_form = format!("id={id}");
            std::thread::spawn(move || -> Result<u64, String> {
                let mut conn = Conn::open(addr).map_err(|e| e.to_string())?;
                let mut pairs = 0;
                let mut release_form = String::new();
                while Instant::now() < deadline {
                    let grab = conn
                        .call("POST", "/grab", &grab_form)
                        .map_err(|e| e.to_string())?;
                    let token = token_of(&grab)?;
                    release_form.clear();
                    release_form.push_str(&grab_form);
                    release_form.push_str("&token=");
                    release_form.push_str(&token);
                    let rel = conn
                        .call("POST", "/release", &release_form)
                        .map_err(|e| e.to_string())?;
                    if rel.status != 200 {
                        return Err(format!("release failed: {}", rel.status));
                    }
                    pairs += 1;
                }
                Ok(pairs)
            })
        })
        .collect();
    let mut total = 0;
    for t in threads {
        total += t.join().map_err(|_| "a client thread panicked")??;
    }
    Ok(total)
}

/// The journal syncs the servers have made so far (`None` without `--state`, or without metrics).
fn journal_syncs(addrs: &[SocketAddr]) -> Option<u64> {
    addrs.iter().try_fold(0, |sum, &addr| {
        let answer = Conn::open(addr).ok()?.call("GET", "/metrics", "").ok()?;
        let text = String::from_utf8(answer.body).ok()?;
        let line = text
            .lines()
            .find(|l| l.starts_with("weblock_journal_syncs_total "))?;
        Some(sum + line.rsplit(' ').next()?.parse::<u64>().ok()?)
    })
}

/// `waiters` clients take turns on one lock, each waiting on the server; the time from a holder sending
/// its release to the next holder receiving its grant, over `grants` hand-overs.
fn handover(addrs: &[SocketAddr], waiters: usize, grants: usize) -> Result<Handover, String> {
    let id = format!("bench-handover-{}", uuid::Uuid::new_v4().simple());
    let granted = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    // fence → when its grant arrived; fence → when the release of it was sent.
    let arrivals = Arc::new(Mutex::new(Vec::<(u64, Instant)>::new()));
    let releases = Arc::new(Mutex::new(Vec::<(u64, Instant)>::new()));
    let threads: Vec<_> = (0..waiters)
        .map(|i| {
            let addr = addrs[i % addrs.len()];
            let (id, granted, failed) = (id.clone(), granted.clone(), failed.clone());
            let (arrivals, releases) = (arrivals.clone(), releases.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let mut conn = Conn::open(addr).map_err(|e| e.to_string())?;
                while granted.load(Ordering::SeqCst) < grants && !failed.load(Ordering::SeqCst) {
                    let grab = conn
                        .call("POST", "/grab", &format!("id={id}&wait=60"))
                        .map_err(|e| e.to_string())?;
                    let at = Instant::now();
                    let token =
                        token_of(&grab).inspect_err(|_| failed.store(true, Ordering::SeqCst))?;
                    let fence = grab.field("fence").and_then(|f| f.as_u64()).unwrap_or(0);
                    arrivals.lock().map_err(|_| "poisoned")?.push((fence, at));
                    granted.fetch_add(1, Ordering::SeqCst);
                    let sent = Instant::now();
                    releases.lock().map_err(|_| "poisoned")?.push((fence, sent));
                    conn.call("POST", "/release", &format!("id={id}&token={token}"))
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "a client thread panicked")??;
    }
    let arrivals = arrivals.lock().map_err(|_| "poisoned")?;
    let releases: std::collections::HashMap<u64, Instant> = releases
        .lock()
        .map_err(|_| "poisoned")?
        .iter()
        .copied()
        .collect();
    // On one lock, the grant with fence f follows the release of the holder before it: the largest fence
    // below f (fences are server-wide, so they need not be consecutive).
    let mut fences: Vec<u64> = releases.keys().copied().collect();
    fences.sort_unstable();
    let mut latencies: Vec<f64> = arrivals
        .iter()
        .filter_map(|(fence, at)| {
            let i = fences.partition_point(|f| f < fence);
            let previous = fences.get(i.checked_sub(1)?)?;
            let sent = releases.get(previous)?;
            Some(at.saturating_duration_since(*sent).as_secs_f64() * 1e6)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    Ok(Handover {
        waiters,
        grants: latencies.len(),
        median_us: pick(0.5),
        p99_us: pick(0.99),
        max_us: pick(1.0),
    })
}

/// Parks `n` waiters on one held lock and reads the server's memory while they wait; then lets them
/// through, each releasing to the next at once, and checks they were served in the order the server
/// queued them (its `/status` queue, listed before the first release).
fn parked(
    addr: SocketAddr,
    n: usize,
    pid: Option<u32>,
    idle_rss_kib: Option<u64>,
) -> Result<Parked, String> {
    let id = format!("bench-parked-{}", uuid::Uuid::new_v4().simple());
    let mut holder = Conn::open(addr).map_err(|e| e.to_string())?;
    let token = token_of(
        &holder
            .call("POST", "/grab", &format!("id={id}"))
            .map_err(|e| e.to_string())?,
    )?;
    let mut waiters = Vec::with_capacity(n);
    for i in 0..n {
        let mut conn = Conn::open(addr).map_err(|e| format!("opening waiter {i}: {e}"))?;
        conn.send("POST", "/grab", &format!("id={id}&wait=600&holder=w{i}"))
            .map_err(|e| e.to_string())?;
        waiters.push(conn);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let queue = loop {
        let status = holder
            .call("GET", &format!("/status?id={id}"), "")
            .map_err(|e| e.to_string())?;
        let waiting = status
            .field("waiting")
            .and_then(|w| w.as_u64())
            .unwrap_or(0);
        if waiting as usize >= n {
            break status.field("queue").unwrap_or_default();
        }
        if Instant::now() > deadline {
            return Err(format!("only {waiting} of {n} waiters queued after 120s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let rss = pid.and_then(rss_kib);
    // The server's queue order, as waiter indexes.
    let order: Vec<usize> = queue
        .as_array()
        .map(|q| {
            q.iter()
                .filter_map(|w| w.get("holder")?.as_str()?.strip_prefix('w')?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let started = Instant::now();
    holder
        .call("POST", "/release", &format!("id={id}&token={token}"))
        .map_err(|e| e.to_string())?;
    let mut fifo = order.len() == n;
    let mut last_fence = 0;
    for &i in &order {
        let Some(conn) = waiters.get_mut(i) else {
            fifo = false;
            break;
        };
        // The next in line must be granted next: a grant elsewhere leaves this read waiting, and the
        // read's timeout ends the run as "not FIFO".
        conn.set_read_timeout(Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        let Ok(grant) = conn.receive() else {
            fifo = false;
            break;
        };
        let fence = grant.field("fence").and_then(|f| f.as_u64()).unwrap_or(0);
        if fence <= last_fence {
            fifo = false;
        }
        last_fence = fence;
        let token = token_of(&grant)?;
        conn.call("POST", "/release", &format!("id={id}&token={token}"))
            .map_err(|e| e.to_string())?;
    }
    Ok(Parked {
        waiters: n,
        rss_kib: rss,
        idle_rss_kib,
        fifo,
        served_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

pub fn print(report: &Report) {
    println!("weblock bench against {}", report.server);
    print_runs("", &report.uncontended, report.handover.as_ref());
    if let Some(p) = &report.parked {
        let mib = |k: Option<u64>| {
            k.map_or("n/a".to_string(), |k| {
                format!("{:.1} MiB", k as f64 / 1024.0)
            })
        };
        println!(
            "  {} waiters on one lock   server RSS {} (idle {}); served {} in {:.0} ms",
            p.waiters,
            mib(p.rss_kib),
            mib(p.idle_rss_kib),
            if p.fifo {
                "in FIFO order"
            } else {
                "OUT OF ORDER"
            },
            p.served_ms
        );
    }
    if let Some(d) = &report.durable {
        println!("with --state (durable, every change synced before it is answered):");
        print_runs("durable ", &d.uncontended, d.handover.as_ref());
    }
    if let Some(t) = &report.tls {
        println!("over TLS (--tls-cert, an ECDSA P-256 certificate; keep-alive connections):");
        print_runs("TLS ", &t.uncontended, t.handover.as_ref());
    }
}

fn print_runs(mode: &str, uncontended: &[Throughput], handover: Option<&Handover>) {
    for t in uncontended {
        let syncs = t
            .syncs_per_sec
            .map(|s| format!("   {s:>7.0} fsyncs/s"))
            .unwrap_or_default();
        let cpu = t
            .server_cpu_us_per_pair
            .map(|c| format!("   server CPU {c:>5.1} µs/pair"))
            .unwrap_or_default();
        println!(
            "  {mode}uncontended grab+release, {:>3} client(s)   {:>10.0} pairs/s{cpu}{syncs}",
            t.clients, t.pairs_per_sec
        );
    }
    if let Some(h) = handover {
        println!(
            "  {mode}hand-over, {} waiters on one lock ({} grants)   median {:.0}µs  p99 {:.0}µs  max {:.0}µs",
            h.waiters, h.grants, h.median_us, h.p99_us, h.max_us
        );
    }
}
