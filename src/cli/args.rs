//! The clap definition of every command and option.
use clap::{Args, Parser, Subcommand};

/// An `after_help` text followed by the exit codes and environment every client command shares.
macro_rules! client_help {
    ($text:expr) => {
        concat!(
            $text,
            "\n\nExit codes:\n  0  done\n  1  the answer is no (busy, not held)\n  \
2  usage or bad input\n  3  timed out waiting\n  4  server unreachable or server error\n\n\
Environment:\n  WEBLOCK_URL  the server (default http://127.0.0.1:7878)"
        )
    };
}

#[derive(Debug, Parser)]
#[command(
    name = "weblock",
    version,
    about = "An HTTP lock service and its blocking client: take turns on anything from shell scripts and CI jobs"
)]
pub struct Cli {
    /// The weblock server [default: http://127.0.0.1:7878]
    #[arg(long, global = true, env = "WEBLOCK_URL", value_name = "URL")]
    pub server: Option<String>,
    /// Print the server's JSON answer instead of the human line
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Take a lock now (or within --wait), print its token, and keep holding it after exit
    #[command(after_help = client_help!(
        "Example:\n  token=$(weblock grab db --ttl 5m) && ./migrate; weblock release db"
    ))]
    Grab(GrabArgs),
    /// Give a lock up (its token is remembered from `weblock grab`)
    #[command(after_help = client_help!("Example:\n  weblock release db"))]
    Release(ReleaseArgs),
    /// Renew the lease of a lock held with --ttl
    #[command(after_help = client_help!("Example:\n  weblock renew db --ttl 5m"))]
    Renew(RenewArgs),
    /// Show who holds a lock, since when, its lease and its queue; without NAME, every lock
    #[command(after_help = client_help!("Example:\n  weblock status db"))]
    Status(StatusArgs),
    /// Wait until a lock is free, without taking it
    #[command(after_help = client_help!("Example:\n  weblock wait deploy --timeout 10m && ./run-tests"))]
    Wait(WaitArgs),
    /// Wait in line for a lock; then print its token, or run a command while holding it
    #[command(after_help = client_help!(
        "Examples:\n  weblock wait-grab db -- ./migrate\n  weblock wait-grab gpu --timeout 1h -- python train.py\n\n\
With a command, weblock keeps the lease renewed while it runs, releases the lock when it exits, and \
exits with its code (128+N if a signal N killed it). The terminal's Ctrl-C reaches the command as it \
would without weblock; SIGTERM and SIGHUP are passed on to it. The command gets WEBLOCK_NAME, \
WEBLOCK_TOKEN and WEBLOCK_FENCE in its environment."
    ))]
    WaitGrab(WaitGrabArgs),
    /// Run the lock service
    #[command(after_help = "Example:\n  weblock serve --listen 0.0.0.0:7878\n\n\
The first line on stdout is `listening on http://ADDR` with the real port, so `--listen 127.0.0.1:0` \
works for tests and scripts. SIGINT and SIGTERM stop it.")]
    Serve(ServeArgs),
    /// Measure a server: throughput, hand-over latency, memory of parked waiters
    #[command(
        after_help = "Example:\n  weblock bench --clients 1,16 --duration 3s\n\n\
Without --server (or WEBLOCK_URL) it starts its own in-memory server (a child process, so its memory is measured alone)."
    )]
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How long each throughput run lasts
    #[arg(long, default_value = "3s", value_parser = crate::duration::parse)]
    pub duration: std::time::Duration,
    /// Client counts for the uncontended throughput runs
    #[arg(
        long,
        default_value = "1,16",
        value_delimiter = ',',
        value_name = "N,..."
    )]
    pub clients: Vec<usize>,
    /// Clients taking turns on one lock, for the hand-over latency (0 skips it)
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub waiters: usize,
    /// Hand-overs to time
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub handovers: usize,
    /// Waiters to park on one lock while the server's memory is read (0 skips it)
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub parked: usize,
    /// Print the figures as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GrabArgs {
    /// The lock
    pub name: String,
    /// Wait in line up to this long if it is held (e.g. 30s, 5m)
    #[arg(long, value_parser = crate::duration::parse, value_name = "DUR")]
    pub wait: Option<std::time::Duration>,
    #[command(flatten)]
    pub hold: HoldArgs,
}

/// How a lock is held once granted.
#[derive(Debug, Args)]
pub struct HoldArgs {
    /// Lease: the lock is freed if not renewed within this (e.g. 30s, 5m)
    #[arg(long, value_parser = crate::duration::parse, value_name = "DUR")]
    pub ttl: Option<std::time::Duration>,
    /// Who holds it, shown in status (default: user@host and the process id)
    #[arg(long, value_name = "TEXT")]
    pub holder: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    pub name: String,
    /// The token from grab (default: the one remembered for NAME)
    #[arg(long, value_name = "T")]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    pub name: String,
    /// New lease length (default: the one in force)
    #[arg(long, value_parser = crate::duration::parse, value_name = "DUR")]
    pub ttl: Option<std::time::Duration>,
    /// The token from grab (default: the one remembered for NAME)
    #[arg(long, value_name = "T")]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    pub name: String,
    /// Give up after this long (default: wait for ever)
    #[arg(long, value_parser = crate::duration::parse, value_name = "DUR")]
    pub timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct WaitGrabArgs {
    pub name: String,
    /// Give up after this long (default: wait for ever)
    #[arg(long, value_parser = crate::duration::parse, value_name = "DUR")]
    pub timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub hold: HoldArgs,
    /// The command to run while holding the lock
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR")]
    pub listen: String,
    /// Worker threads answering requests (waiting and idle clients hold none)
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub threads: usize,
    /// Open connections at most; the oldest idle one is closed to admit a new one
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub max_connections: usize,
    /// Time a client has to send a whole request, from its first byte (then 408)
    #[arg(long, default_value = "10s", value_parser = crate::duration::parse, value_name = "DUR")]
    pub request_timeout: std::time::Duration,
    /// File whose first line is the administrator's user:password (HTTP Basic), for administrative
    /// requests; WEBLOCK_ADMIN_CREDENTIALS may hold it instead. Without either, none are allowed
    #[arg(long, value_name = "FILE")]
    pub admin_credentials: Option<std::path::PathBuf>,
    /// An idle keep-alive connection is closed after this
    #[arg(long, default_value = "60s", value_parser = crate::duration::parse, value_name = "DUR")]
    pub idle_timeout: std::time::Duration,
}
