//! `weblock serve`: the layers put together. The transport (`http`) hands requests to the APIs
//! (`api`), which change the engine through its host (`host`); the observers (`observe`) see every
//! change. `docs/architecture.md` draws the map.
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use crate::api::deliver;
use crate::api::identity::Identity;
use crate::api::shared::{Core, Shared};
use crate::api::{auth, base_url};
use crate::host::{Store, replica};
use crate::http::{Transport, workers};
use crate::observe::changes::Observer;
use crate::observe::events_log::EventLog;
use crate::observe::lock_stats::LockStats;
use crate::observe::metrics::Metrics;
use crate::observe::recent::Recent;
use crate::signals;
use crate::thread::spawn;

pub use crate::http::{Limits, raise_open_files_limit};
pub use crate::observe::events_log::LogFormat;

/// How to run a server.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub limits: Limits,
    /// Worker threads that answer requests (none of them is held by a waiting or idle client);
    /// `None`: as `default_threads` says.
    pub threads: Option<usize>,
    /// Who may make administrative requests; with none, nobody may.
    pub admin: Option<auth::Credentials>,
    /// The secrets every request must carry (`--auth-file`); with none, access is open.
    pub access: Option<auth::Secrets>,
    /// The file `access` was read from, read again on SIGHUP.
    pub auth_file: Option<std::path::PathBuf>,
    /// How absolute URLs in answers are made (`--public-url`, `--trusted-proxy`).
    pub urls: base_url::UrlRules,
    /// How long a queued gatekeeper ticket lives after its last use; `None`: two minutes.
    pub ticket_ttl: Option<std::time::Duration>,
    /// The durable state file (journal); `None`: in memory only.
    pub state: Option<std::path::PathBuf>,
    /// A state shared with other servers in etcd (`--store`); excludes `state`.
    pub store: Option<crate::store::StoreUrl>,
    /// How state changes are logged on stderr.
    pub log: LogFormat,
    /// Locks named in the per-lock metrics (`--metrics-locks`); the rest are summed as `other`.
    pub metrics_locks: usize,
    /// TLS on the listening port (`--tls-cert`, `--tls-key`, `--tls-client-ca`), read again on SIGHUP.
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<crate::http::tls::Tls>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: "127.0.0.1:7878".to_string(),
            limits: Limits::default(),
            threads: None,
            admin: None,
            access: None,
            auth_file: None,
            urls: base_url::UrlRules::default(),
            ticket_ttl: None,
            state: None,
            store: None,
            log: LogFormat::default(),
            metrics_locks: 20,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// How long a server that joins a shared store may take to catch up with its log before serving.
const STORE_CATCH_UP: std::time::Duration = std::time::Duration::from_secs(30);

/// Workers at least, where they wait on a journal's syncs or etcd's round trips.
const WAITING_THREADS: usize = 32;

/// An in-memory server's workers by default. Nothing a request does there waits, so one worker is an
/// event loop that serves every ready connection in turn; on a 2-core machine a second one cost a
/// third more CPU per request (two threads meeting at the engine's lock, and a wake-up per event)
/// for no more requests answered. TLS handshakes are real work, though, worth spreading over cores.
fn memory_threads(config: &Config) -> usize {
    #[cfg(feature = "tls")]
    if config.tls.is_some() {
        return 8;
    }
    let _ = config;
    1
}

/// Ready connections an in-memory server's worker serves from one wait (`Transport::with_batch`).
const MEMORY_BATCH: usize = 16;

/// A running server; its threads run until the process ends.
pub struct Server {
    addr: SocketAddr,
    /// What the server says of its state at start (in memory, or the file and what was replayed).
    state: String,
    /// The `--auth-file`'s secrets, for `serve` to read again on SIGHUP.
    access: Arc<auth::Access>,
    /// The certificate and key, for `serve` to read again on SIGHUP.
    #[cfg(feature = "tls")]
    tls: Option<Arc<crate::http::tls::Tls>>,
}

impl Server {
    /// Binds `config.listen` and starts serving on background threads.
    pub fn start(config: Config) -> io::Result<Server> {
        let identity = Identity::new(match (&config.state, &config.store) {
            (_, Some(_)) => "etcd",
            (Some(_), None) => "file",
            (None, None) => "memory",
        });
        let memory_threads = memory_threads(&config);
        let mut limits = config.limits;
        // Leave room for the listener, the poller, logs and state files under the open-files limit.
        if let Ok(files) = raise_open_files_limit() {
            let room = usize::try_from(files.saturating_sub(64))
                .unwrap_or(usize::MAX)
                .max(16);
            limits.max_connections = limits.max_connections.min(room);
        }
        // The address first: a server that cannot listen must not touch the state file.
        let listener = TcpListener::bind(&config.listen)?;
        let addr = listener.local_addr()?;
        let (core, state, threads, journal, queues) = match (&config.state, &config.store) {
            (Some(_), Some(_)) => {
                return Err(io::Error::other(
                    "--state and --store cannot be used together: the state is either in a file on this machine or shared in etcd",
                ));
            }
            (None, None) => (
                Core::default(),
                "state: in memory only (every lock is forgotten when this server stops; --state FILE keeps it)"
                    .to_string(),
                config.threads.unwrap_or(memory_threads),
                None,
                None,
            ),
            (Some(path), None) => {
                let (journal, loaded) = crate::journal::Journal::open(path).map_err(io::Error::other)?;
                if let Some(torn) = &loaded.torn {
                    warn!("weblock: {}: {torn}", path.display());
                }
                let line = format!(
                    "state: {} ({} commands replayed; every change is synced before it is answered)",
                    path.display(),
                    loaded.commands
                );
                let core = Core::new(loaded.engine, Store::Journal(journal.clone()));
                // Threads wait on group commits: more of them make bigger batches per fsync.
                (core, line, config.threads.unwrap_or(WAITING_THREADS).max(WAITING_THREADS), Some(journal), None)
            }
            (None, Some(url)) => {
                let store = crate::store::Store::new(url.clone());
                let snapshot = replica::load(&store).map_err(|e| {
                    io::Error::other(format!("cannot load the shared state from {url}: {e}"))
                })?;
                let (replica, queues) = replica::Replica::new(store);
                let core = Core::replicated(snapshot, replica).map_err(io::Error::other)?;
                // Workers wait on etcd round trips: more of them keep more proposals in flight.
                (core, String::new(), config.threads.unwrap_or(WAITING_THREADS).max(WAITING_THREADS), None, Some(queues))
            }
        };
        let metrics = Arc::new(Metrics::new(journal));
        let log = EventLog::start(config.log, metrics.log_dropped.clone())?;
        let recent = Arc::new(Recent::default());
        let lock_stats = Arc::new(LockStats::new(config.metrics_locks));
        let core = core.with_observer(Observer::new(
            metrics.clone(),
            log,
            recent.clone(),
            lock_stats.clone(),
        ));

        // After a replay: the waits of clients gone with the old process end (logged like any change).
        if config.state.is_some() {
            core.recover();
        }
        let access = Arc::new(auth::Access::new(config.access, config.auth_file));
        let shared = Shared {
            core,
            admin: config.admin,
            access: access.clone(),
            urls: config.urls,
            ticket_ttl: config.ticket_ttl,
            metrics,
            recent,
            lock_stats,
            identity,
        };
        #[cfg(feature = "tls")]
        let acceptor = config
            .tls
            .as_ref()
            .map(|tls| crate::http::socket::Acceptor(tls.config()));
        #[cfg(not(feature = "tls"))]
        let acceptor = None;
        // In memory, handling a request never blocks: a worker serves a batch of ready connections
        // from one wait. With a journal or etcd a handler waits for its sync, so one at a time.
        // With TLS, a batch would hold handshakes (real work) on one worker while others idle.
        let batch = if config.state.is_none() && config.store.is_none() && acceptor.is_none() {
            MEMORY_BATCH
        } else {
            1
        };
        let net = Arc::new(
            Transport::new(limits, shared, threads.max(1))?
                .with_tls(acceptor)
                .with_batch(batch),
        );
        let state = match (queues, &config.store) {
            (Some(queues), Some(url)) => {
                let from = net.handler.core.applied_revision();
                replica::start(&net, queues, STORE_CATCH_UP)
                    .map_err(|e| io::Error::other(format!("{url}: {e}")))?;
                let to = net.handler.core.applied_revision();
                format!(
                    "state: shared in etcd at {url} (caught up from revision {from} to {to}; every change is applied in etcd's order before it is answered)"
                )
            }
            _ => state,
        };
        for i in 0..threads.max(1) {
            let net = net.clone();
            spawn(format!("worker-{i}"), move || workers::worker(net))?;
        }
        let timer_net = net.clone();
        spawn("timer".into(), move || deliver::timer(timer_net))?;
        spawn("acceptor".into(), move || workers::acceptor(net, listener))?;
        Ok(Server {
            addr,
            state,
            access,
            #[cfg(feature = "tls")]
            tls: config.tls,
        })
    }

    /// `https` on a TLS port, else `http`: the scheme of the URL clients use.
    pub fn scheme(&self) -> &'static str {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return "https";
        }
        "http"
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &str {
        &self.state
    }
}

/// `weblock serve`: runs until SIGINT or SIGTERM; SIGHUP reads the `--auth-file` again.
pub fn serve(config: Config) -> io::Result<()> {
    let signals = signals::Signals::block(&[signals::SIGINT, signals::SIGTERM, signals::SIGHUP])?;
    let open = config.access.is_none();
    let server = Server::start(config)?;
    let addr = server.local_addr();
    if open && !addr.ip().is_loopback() {
        warn!(
            "weblock: warning: listening on {addr}, beyond loopback, without --auth-file: anyone who can reach it can take, release and delete locks"
        );
    }
    // Written, not `println!`ed: a reader that hung up (`weblock serve | head -1`) must not take the
    // server down with a broken pipe.
    {
        use std::io::Write;
        let mut out = io::stdout().lock();
        let _ = writeln!(
            out,
            "listening on {}://{}",
            server.scheme(),
            server.local_addr()
        );
        let _ = writeln!(out, "{}", server.state());
        let _ = out.flush();
    }
    loop {
        let signal = signals.wait();
        if signal == signals::SIGHUP {
            reload_access(&server.access);
            #[cfg(feature = "tls")]
            if let Some(tls) = &server.tls {
                reload_tls(tls);
            }
            continue;
        }
        warn!("weblock: {} received, stopping", signals::name(signal));
        return Ok(());
    }
}

/// SIGHUP: the `--auth-file` read again, in force if well-formed; one line on stderr either way.
fn reload_access(access: &auth::Access) {
    match access.reload() {
        Ok(Some(lines)) => {
            warn!("weblock: SIGHUP: --auth-file read again ({lines} secrets in force)")
        }
        Ok(None) => warn!("weblock: SIGHUP: no --auth-file to read again; nothing changed"),
        Err(e) => warn!("weblock: SIGHUP: --auth-file kept as it was: {e}"),
    }
}

/// SIGHUP: the certificate and key read again, in force for new handshakes if they are good (the
/// connections open keep their sessions); one line on stderr either way.
#[cfg(feature = "tls")]
fn reload_tls(tls: &crate::http::tls::Tls) {
    match tls.reload() {
        Ok(cert) => warn!(
            "weblock: SIGHUP: --tls-cert {} read again (new connections get it)",
            cert.display()
        ),
        Err(e) => warn!("weblock: SIGHUP: TLS certificate kept as it was: {e}"),
    }
}
