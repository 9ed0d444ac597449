//! The clap definition of every command and option.
use clap::{Args, Parser, Subcommand};

/// An `after_help` text followed by the exit codes and environment every client command shares, and
/// any more of either that a command adds (each a line starting "\n  ").
macro_rules! client_help {
    ($text:expr) => {
        client_help!($text, exits: "", env: "")
    };
    ($text:expr, exits: $exits:expr, env: $env:expr) => {
        concat!(
            $text,
            "\n\nExit codes:\n  0  done\n  \
1  the answer is no (busy, not held, denied)\n  \
2  usage or bad input (an empty or invalid name, before anything is sent)\n  3  timed out waiting\n  \
4  server unreachable or server error (one-shot commands give up after 5 s), or its TLS \
certificate refused (not trusted, expired, another name: at once)\n  \
6  a secret is missing or refused (HTTP 401; WEBLOCK_AUTH, or WEBLOCK_ADMIN_CREDENTIALS for break)\n  \
N  busy or timed out, with -E N",
            $exits,
            "\n\nEnvironment:\n  \
WEBLOCK_URL        the server, or several comma-separated (the first that answers is used; \
on a connection error the next): default http://127.0.0.1:7878\n  \
WEBLOCK_AUTH       the secret for a server started with --auth-file\n  \
WEBLOCK_AUTH_FILE  a file whose first line is that secret (or NAME:SECRET SCOPE..., as in the server's file)\n  \
WEBLOCK_CA_FILE    CA certificates (PEM) an https:// server's certificate is checked against (--ca-file)",
            $env
        )
    };
}

/// The environment line of the commands that remember tokens.
macro_rules! tokens_env {
    () => {
        "\n  XDG_STATE_HOME     tokens are remembered in $XDG_STATE_HOME/weblock/tokens.json \
(default ~/.local/state)"
    };
}

/// The whole command line: `Cli`'s, with the client's options (`--server`, `--json`, `-E`, global so
/// that they go anywhere on a client command's line) left out of the help of the commands that are
/// no client: `serve` and `completions`.
pub fn command() -> clap::Command {
    use clap::{Arg, ArgAction, CommandFactory};
    // A subcommand that has an argument of a global's name does not get the global: these stand in
    // for them, accepted (so a line that names them still works) and hidden.
    let stand_ins = [
        Arg::new("server")
            .long("server")
            .value_name("URL")
            .hide(true),
        Arg::new("json")
            .long("json")
            .action(ArgAction::SetTrue)
            .hide(true),
        Arg::new("ca_file")
            .long("ca-file")
            .value_name("FILE")
            .hide(true),
        Arg::new("conflict_exit_code")
            .short('E')
            .long("conflict-exit-code")
            .value_parser(clap::value_parser!(u8))
            .hide(true),
    ];
    let mut cmd = Cli::command();
    for name in ["serve", "completions"] {
        cmd = cmd.mut_subcommand(name, |sub| sub.args(stand_ins.clone()));
    }
    cmd
}

/// The top-level `--help` and the `weblock(1)` page: an overview, and what every client command shares.
const OVERVIEW: &str = include_str!("overview.txt");

#[derive(Debug, Parser)]
#[command(
    name = "weblock",
    version,
    about = "An HTTP lock service and its blocking client: take turns on anything from shell scripts and CI jobs",
    after_long_help = OVERVIEW
)]
pub struct Cli {
    /// The weblock server, or several comma-separated (failover in order) [default: http://127.0.0.1:7878]
    #[arg(long, global = true, env = "WEBLOCK_URL", value_name = "URL")]
    pub server: Option<String>,
    /// CA certificates (PEM) that an https:// server's certificate must be signed by, instead of the
    /// well-known public CAs (for a server with a private CA or a self-signed certificate)
    #[arg(long, global = true, env = "WEBLOCK_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Print one JSON object instead of the human lines, for success and failure alike: the server's
    /// answer (for `status`, {"locks": [...], "gates": [...]}), its "status" "ok" for exit 0, else
    /// "fail" with "exit_code" and "error" (the line on stderr)
    #[arg(long, global = true)]
    pub json: bool,
    /// Exit with N instead of 1 when busy (a lock held, a gate closed) and instead of 3 when timed
    /// out, as flock's -E
    #[arg(
        short = 'E',
        long,
        global = true,
        value_name = "N",
        value_parser = clap::value_parser!(u8)
    )]
    pub conflict_exit_code: Option<u8>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Take a lock now (or within --wait), print its token, and keep holding it after exit
    #[command(after_help = client_help!(
        "Examples:\n  token=$(weblock grab db --ttl 5m) && ./migrate; weblock release db\n  \
weblock grab gpu --slots 3          # one of 3 slots\n  weblock grab db --shared            # beside other readers\n\n\
With --wait on a terminal, a line on stderr shows whom it waits for and its place in line.",
        exits: "", env: tokens_env!()
    ))]
    Grab(GrabArgs),
    /// Give a lock up (its token is remembered from `weblock grab`)
    #[command(after_help = client_help!("Example:\n  weblock release db", exits: "", env: tokens_env!()))]
    Release(ReleaseArgs),
    /// Renew the lease of a lock held with --ttl
    #[command(after_help = client_help!("Example:\n  weblock renew db --ttl 5m", exits: "", env: tokens_env!()))]
    Renew(RenewArgs),
    /// Show who holds a lock, since when, its lease and its queue; without NAME, every lock and gate
    #[command(after_help = client_help!(
        "Examples:\n  weblock status db\n  weblock status\n  weblock status --json | jq '.locks[].id'\n\n\
Without NAME: a table of the locks (name, holder, held for, lease left, waiting; a lock with several \
holders shows a row for each) and one of the gates (state, tickets, message). --json prints \
{\"locks\": [...], \"gates\": [...]}: the server's lock objects, and a {service, group, gate, state, \
message, tickets} object per gate."
    ))]
    Status(StatusArgs),
    /// Wait until a lock is free (or a gate SERVICE:ENV is open), without taking it
    #[command(after_help = client_help!(
        "Examples:\n  weblock wait deploy --timeout 10m && ./run-tests\n  weblock wait shop:live && ./deploy\n\n\
A NAME with a colon is a gate (SERVICE:ENV); --lock makes it a lock name. On a terminal, a line on \
stderr shows whom it waits for, and for how long they have held it."
    ))]
    Wait(WaitArgs),
    /// Gates: services with named gates that are open or closed, taken together with tickets
    #[command(subcommand, after_help = client_help!(
        "Examples:\n  weblock gate create shop --group team12 --env testing --env live\n  \
weblock gate close shop live --message \"testing the release. -Jens\"\n  \
weblock gate enter shop:live --queue -- ./deploy"
    ))]
    Gate(GateCommand),
    /// Wait in line for a lock; then print its token, or run a command while holding it
    #[command(after_help = client_help!(
        "Examples:\n  weblock wait-grab db -- ./migrate\n  weblock wait-grab gpu --timeout 1h -- python train.py\n  \
weblock wait-grab gpu --slots 3 -- ./train.sh         # at most 3 at once\n  \
weblock wait-grab db --shared -- ./read-report.sh     # readers together, writers alone\n\n\
With a command, weblock keeps the lease renewed while it runs, releases the lock when it exits, and \
exits with its code (128+N if a signal N killed it; if that was SIGINT, SIGTERM, SIGHUP or SIGQUIT, \
weblock dies of the same signal, so a script stops at Ctrl-C). The terminal's Ctrl-C reaches the \
command as it would without weblock; SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to weblock alone are \
passed on to it. The command never outlives weblock: killed with SIGKILL, weblock takes it along \
(Linux: PR_SET_PDEATHSIG; FreeBSD: PROC_PDEATHSIG_CTL; macOS: a guardian process). The command gets WEBLOCK_NAME, \
WEBLOCK_TOKEN and WEBLOCK_FENCE in its environment. If the lock is lost while it runs (a renewal \
refused, an administrator deleted it, or its lease ran out unrenewed), the command gets SIGTERM, then \
SIGKILL after --kill-after, and weblock exits 5. While it waits on a terminal, a line on stderr shows \
whom it waits for, for how long they have held it, its place in line and the time left.",
        exits: "\n  5  the lock was lost while the command ran; the command was stopped\n  \
N  with a command: its exit code (128+N if signal N ended it; 127 not found, 126 cannot run)",
        env: tokens_env!()
    ))]
    WaitGrab(WaitGrabArgs),
    /// End a stuck lock: every holder and waiter of NAME, with the administrator's credentials
    #[command(after_help = client_help!(
        "Example:\n  WEBLOCK_ADMIN_CREDENTIALS=admin:secret weblock break db\n\n\
Ends whoever holds NAME, and everyone waiting for it (their waits end with \"deleted by an \
administrator\"), as the HAL API's DELETE /resources/NAME does (the server's POST /break); says \
whom it ended. Needs the \
administrator's user:password (the server's --admin-credentials) in WEBLOCK_ADMIN_CREDENTIALS, sent \
as HTTP Basic; without it, nothing is sent (exit 6). A lock nobody holds or waits for: exit 1.",
        exits: "",
        env: "\n  WEBLOCK_ADMIN_CREDENTIALS  the administrator's user:password"
    ))]
    Break(BreakArgs),
    /// Run the lock service
    #[command(after_help = "Example:\n  weblock serve --listen 0.0.0.0:7878\n\n\
The first line on stdout is `listening on http://ADDR` with the real port, so `--listen 127.0.0.1:0` \
works for tests and scripts. SIGINT and SIGTERM stop it; SIGHUP reads the --auth-file again (a file \
that does not parse is not taken: the one in force stays, and one line on stderr says why).\n\n\
An --auth-file line per team, and one for the administrators:\n  \
team1:SECRET1 lock:team1-* gate:shop read\n  \
ops:SECRET2 admin\n\
A request out of its identity's scopes gets 403, naming the identity and the scope it lacks.\n\n\
Behind a proxy: --public-url https://locks.example.org makes every absolute URL in answers use it; \
--trusted-proxy 10.0.0.0/8 honours X-Forwarded-Proto and X-Forwarded-Host from those peers only.\n\n\
Exit codes:\n  0  stopped by SIGINT or SIGTERM\n  2  bad option, or an unreadable or malformed credentials/secrets file (the error names the line)\n  \
4  cannot listen on the address, or the state file is damaged, locked or unwritable\n\n\
Environment:\n  WEBLOCK_ADMIN_CREDENTIALS  user:password of the administrator, when --admin-credentials is not given")]
    Serve(Box<ServeArgs>),
    /// Measure a server: throughput, hand-over latency, memory of parked waiters
    #[command(
        after_help = "Example:\n  weblock bench --clients 1,16 --duration 3s\n\n\
It starts its own servers (child processes, so their memory is measured alone: in memory, then \
durable in a temporary directory) unless --server is given on its own command line; WEBLOCK_URL is \
ignored, so a shell that exports it never benchmarks a shared server by accident.\n\n\
Exit codes:\n  0  measured\n  2  usage or bad input\n  4  the server could not be started, reached or measured\n\n\
Environment:\n  none (WEBLOCK_URL is not read)"
    )]
    Bench(BenchArgs),
    /// Print a shell completion script on stdout
    #[command(after_help = "Examples:\n  \
source <(weblock completions bash)\n  \
weblock completions zsh > ~/.zfunc/_weblock      # a directory on $fpath\n  \
weblock completions fish > ~/.config/fish/completions/weblock.fish\n\n\
Exit codes:\n  0  printed\n  1  stdout could not be written\n  2  usage: SHELL is not one of the possible values\n\n\
Environment:\n  none")]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
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
    /// Waiters to park on one lock: the server's memory while they wait, then whether they are
    /// served in FIFO order and how long it takes (0 skips it)
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub parked: usize,
    /// Skip the runs against a durable server (--state in a temporary directory)
    #[arg(long)]
    pub no_durable: bool,
    /// Also run the throughput and hand-over runs over TLS, against a server with a self-signed
    /// certificate (made with the openssl command), beside the plain ones
    #[arg(long)]
    pub tls: bool,
    /// Print the figures as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GrabArgs {
    /// The lock
    pub name: String,
    /// Wait in line up to this long if it is held (e.g. 30s, 5m)
    #[arg(long, value_parser = crate::duration::parse, value_name = "DUR", allow_hyphen_values = true)]
    pub wait: Option<std::time::Duration>,
    #[command(flatten)]
    pub hold: HoldArgs,
}

/// How a lock is held once granted.
#[derive(Debug, Args)]
pub struct HoldArgs {
    /// Lease: the lock is freed if not renewed within this (e.g. 30s, 5m)
    #[arg(long, value_parser = crate::duration::parse, value_name = "DUR", allow_hyphen_values = true)]
    pub ttl: Option<std::time::Duration>,
    /// Who holds it, shown in status (default: user@host and the process id; the user is $USER,
    /// $LOGNAME, or the uid's name)
    #[arg(long, env = "WEBLOCK_HOLDER", value_name = "TEXT")]
    pub holder: Option<String>,
    /// Up to N holders at once (a counting semaphore). The first request of a free lock sets N;
    /// asking for another N while it is in use is refused (exit 1)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::engine::MAX_SLOTS)))]
    pub slots: Option<u32>,
    /// Hold it shared, beside other shared holders (readers); never beside an exclusive one
    #[arg(long)]
    pub shared: bool,
}

#[derive(Debug, Args)]
pub struct BreakArgs {
    /// The lock to end
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The lock to give up
    pub name: String,
    /// The token from grab (default: the one remembered for NAME)
    #[arg(long, value_name = "T")]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    /// The lock whose lease to renew
    pub name: String,
    /// New lease length (default: the one in force)
    #[arg(long, value_parser = crate::duration::parse, value_name = "DUR", allow_hyphen_values = true)]
    pub ttl: Option<std::time::Duration>,
    /// The token from grab (default: the one remembered for NAME)
    #[arg(long, value_name = "T")]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The lock to look at (without it: every lock and gate)
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// A lock, or a gate as SERVICE:ENV
    pub name: String,
    /// Give up after this long (default: wait for ever)
    #[arg(long, value_parser = crate::duration::parse, value_name = "DUR", allow_hyphen_values = true)]
    pub timeout: Option<std::time::Duration>,
    /// NAME is a lock even though it has a colon
    #[arg(long)]
    pub lock: bool,
}

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Create a service with gates (they start open)
    #[command(after_help = client_help!("Example:\n  weblock gate create shop --group team12 --env testing --env live"))]
    Create {
        service: String,
        /// The team or group it belongs to
        #[arg(long, value_name = "G")]
        group: String,
        /// A gate (environment); repeat for each
        #[arg(long = "env", value_name = "NAME", required = true)]
        envs: Vec<String>,
    },
    /// Show a service's gates, or every service
    #[command(after_help = client_help!("Example:\n  weblock gate show shop"))]
    Show { service: Option<String> },
    /// Open a gate
    #[command(after_help = client_help!("Example:\n  weblock gate open shop live"))]
    Open(GateSetArgs),
    /// Close a gate, with a message for those it stops
    #[command(after_help = client_help!(
        "Example:\n  weblock gate close shop live --message \"testing the release. -Jens\""
    ))]
    Close(GateSetArgs),
    /// Delete a service and its gates
    #[command(after_help = client_help!("Example:\n  weblock gate delete shop"))]
    Delete { service: String },
    /// Take gates together with a ticket (all of them or none); run a command while holding them
    #[command(after_help = client_help!(
        "Examples:\n  weblock gate enter shop:live pipeline:meta -- ./deploy\n  \
weblock gate enter shop:testing,live --queue --timeout 30m -- ./deploy\n\n\
Without --queue, a closed gate is a refusal (exit 1). With --queue, weblock waits in line, keeping \
its ticket alive, until every gate is its. With a command, the ticket is deleted when it exits and \
weblock exits with its code; without, the ticket id is printed (give it back with `weblock gate \
leave TICKET`). The command gets WEBLOCK_TICKET in its environment. While it waits in line on a \
terminal, a line on stderr shows which gates are closed and its place in line.",
        exits: "\n  N  with a command: its exit code (128+N if signal N ended it; 127 not found, 126 cannot run)",
        env: ""
    ))]
    Enter(GateEnterArgs),
    /// Give back a ticket's gates
    #[command(after_help = client_help!("Example:\n  weblock gate leave 4ca72ee9-82b9-48c5-bf66-994ac907386b"))]
    Leave { ticket: String },
}

#[derive(Debug, Args)]
pub struct GateSetArgs {
    pub service: String,
    pub env: String,
    /// A message shown with the gate ("" clears it)
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
}

#[derive(Debug, Args)]
pub struct GateEnterArgs {
    /// Gates as SERVICE:ENV or SERVICE:ENV1,ENV2; several may be given
    #[arg(required = true, value_name = "SERVICE:ENV")]
    pub gates: Vec<String>,
    /// Wait in line while a gate is closed, instead of giving up
    #[arg(long)]
    pub queue: bool,
    /// With --queue, give up after this long (default: wait for ever)
    #[arg(long, value_parser = crate::duration::parse, value_name = "DUR", allow_hyphen_values = true)]
    pub timeout: Option<std::time::Duration>,
    /// The command to run while holding the gates
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct WaitGrabArgs {
    /// The lock to wait in line for (letters, digits and . _ - :)
    pub name: String,
    /// Give up after this long (default: wait for ever)
    #[arg(long, value_parser = crate::duration::parse, value_name = "DUR", allow_hyphen_values = true)]
    pub timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub hold: HoldArgs,
    /// If the lock is lost while CMD runs, CMD gets SIGTERM, then SIGKILL after this
    #[arg(long, default_value = "10s", value_parser = crate::duration::parse, value_name = "DUR", allow_hyphen_values = true)]
    pub kill_after: std::time::Duration,
    /// The command to run while holding the lock
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Keep the state in FILE: every change is journaled and synced before it is answered, and a
    /// restart (even after kill -9) finds every holder, fence, gate and ticket as it was
    #[arg(long, value_name = "FILE", conflicts_with = "store")]
    pub state: Option<std::path::PathBuf>,
    /// Share the state with other weblock servers in etcd: etcd://HOST:PORT[,HOST:PORT...][/PREFIX]
    /// (several members: failover between them; PREFIX defaults to weblock). Clients may use any of
    /// the servers: one holder per lock, one FIFO queue, fences that never repeat
    #[arg(long, value_name = "URL", value_parser = parse_store)]
    pub store: Option<crate::store::StoreUrl>,
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR")]
    pub listen: String,
    /// Worker threads answering requests (waiting and idle clients hold none). Default: 1 in memory (an
    /// event loop: nothing a request does waits, so more threads only add hand-offs), 8 with TLS
    /// (handshakes are work worth spreading over cores), at least 32 with --state or --store (threads
    /// wait on syncs)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Open connections at most; the oldest idle one is closed to admit a new one
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub max_connections: usize,
    /// Time a client has to send a whole request, from its first byte (then 408)
    #[arg(long, default_value = "10s", value_parser = crate::duration::parse, value_name = "DUR", allow_hyphen_values = true)]
    pub request_timeout: std::time::Duration,
    /// File of administrators, one user:password a line (HTTP Basic), for administrative requests;
    /// WEBLOCK_ADMIN_CREDENTIALS may hold them instead. Without either, none are allowed
    #[arg(long, value_name = "FILE")]
    pub admin_credentials: Option<std::path::PathBuf>,
    /// File of secrets, one a line (blank and # lines ignored): every request must then carry one, as
    /// `Authorization: Bearer SECRET` or HTTP Basic with SECRET as the password (clients: WEBLOCK_AUTH or
    /// WEBLOCK_AUTH_FILE). A bare SECRET line allows what it always did (everything but administrative
    /// requests, which need --admin-credentials); a `NAME:SECRET SCOPE...` line allows
    /// its scopes: lock:GLOB (take, renew, release, wait on the locks matching; * and ?),
    /// gate:SERVICE (that service's gates and tickets), read (status, listings, metrics, events),
    /// admin (everything, administrative requests included). Read again on SIGHUP
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<std::path::PathBuf>,
    /// The address clients reach this server at, behind a proxy: http[s]://HOST[:PORT], no path.
    /// Every absolute URL in answers (HAL Location, request-queue URLs, ticket links) uses it
    #[arg(long, value_name = "URL", value_parser = parse_public_url)]
    pub public_url: Option<crate::api::base_url::PublicUrl>,
    /// A proxy's address range (CIDR, IPv4 or IPv6; repeatable): only from peers in these ranges are
    /// X-Forwarded-Proto and X-Forwarded-Host used for the URLs in answers (from others, ignored)
    #[arg(long, value_name = "CIDR", value_parser = parse_cidr)]
    pub trusted_proxy: Vec<crate::api::cidr::Cidr>,
    /// Speak TLS (https://) on the port, with this certificate (PEM; the server's first, then its
    /// chain). Read again on SIGHUP: new connections get the new one, open ones keep theirs
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC). Read again on SIGHUP
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Require a client certificate signed by this CA (PEM); its subject's CN is the client's
    /// identity: an --auth-file NAME:SECRET line of that NAME gives its scopes without the secret
    /// (without --auth-file, any such client may do everything)
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<std::path::PathBuf>,
    /// How long a queued gate ticket lives after its last use (the gatekeeper document says 2m)
    #[arg(long, default_value = "2m", value_parser = crate::duration::parse, value_name = "DUR", allow_hyphen_values = true)]
    pub ticket_ttl: std::time::Duration,
    /// An idle keep-alive connection is closed after this
    #[arg(long, default_value = "60s", value_parser = crate::duration::parse, value_name = "DUR", allow_hyphen_values = true)]
    pub idle_timeout: std::time::Duration,
    /// One line on stderr per state change (grant, release, expiry, gate opened…): for people
    /// (human), for log collectors (json: one object a line), or none (off)
    #[arg(long, value_enum, default_value_t = LogFormatArg::Human, value_name = "FORMAT")]
    pub log_format: LogFormatArg,
    /// Locks named in /metrics' per-lock series (the busiest; the rest are summed as lock="other")
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u16))]
    pub metrics_locks: u16,
}

/// `serve --log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    Human,
    Json,
    Off,
}

fn parse_public_url(url: &str) -> Result<crate::api::base_url::PublicUrl, String> {
    url.parse()
}

fn parse_cidr(range: &str) -> Result<crate::api::cidr::Cidr, String> {
    range.parse().map_err(|e| format!("{e}"))
}

fn parse_store(url: &str) -> Result<crate::store::StoreUrl, String> {
    url.parse()
}

/// The line shell loops run most, `weblock wait-grab NAME -- CMD [ARG...]` with no option, read
/// without clap: building clap's definition of every command (all of them, to parse any one) took a
/// fair part of such a short command's own time. `server` and `holder` are `WEBLOCK_URL` and
/// `WEBLOCK_HOLDER`. Anything else (an option, a NAME that looks like one, no CMD, an empty or
/// non-UTF-8 value where clap has its own rules, `--help`) is `None`: clap reads it, as it reads
/// every other line, and the two readings agree where this one answers (see the tests).
pub fn plain_wait_grab(
    argv: &[std::ffi::OsString],
    server: Option<std::ffi::OsString>,
    holder: Option<std::ffi::OsString>,
) -> Option<Cli> {
    let [sub, name, dashes, command @ ..] = argv else {
        return None;
    };
    if sub != "wait-grab" || dashes != "--" || command.is_empty() {
        return None;
    }
    let name = name
        .to_str()
        .filter(|n| !n.is_empty() && !n.starts_with('-'))?;
    // Set but empty or not UTF-8: clap's business.
    let text = |v: Option<std::ffi::OsString>| match v {
        None => Some(None),
        Some(v) => v.into_string().ok().filter(|v| !v.is_empty()).map(Some),
    };
    Some(Cli {
        server: text(server)?,
        ca_file: None,
        json: false,
        conflict_exit_code: None,
        command: Command::WaitGrab(WaitGrabArgs {
            name: name.to_string(),
            timeout: None,
            hold: HoldArgs {
                ttl: None,
                holder: text(holder)?,
                slots: None,
                shared: false,
            },
            kill_after: crate::cli::run::KILL_AFTER,
            command: command.to_vec(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;
    use std::ffi::OsString;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// What clap makes of `weblock ARGS` (with this process's environment).
    fn by_clap(args: &[&str]) -> Option<String> {
        let argv = std::iter::once("weblock").chain(args.iter().copied());
        let matches = command().try_get_matches_from(argv).ok()?;
        Cli::from_arg_matches(&matches)
            .ok()
            .map(|cli| format!("{cli:?}"))
    }

    #[test]
    fn a_plain_wait_grab_is_read_as_clap_reads_it() {
        if std::env::var_os("WEBLOCK_URL").is_some() || std::env::var_os("WEBLOCK_HOLDER").is_some()
        {
            // The comparison needs clap to see neither.
            return;
        }
        for args in [
            &["wait-grab", "L", "--", "true"][..],
            &[
                "wait-grab",
                "db.main-1:x",
                "--",
                "sh",
                "-c",
                "echo --timeout 1s; exit 3",
            ],
            &["wait-grab", "L", "--", "--", "-x"],
        ] {
            let fast = plain_wait_grab(&os(args), None, None).map(|cli| format!("{cli:?}"));
            assert!(fast.is_some(), "{args:?} is a plain wait-grab");
            assert_eq!(fast, by_clap(args), "{args:?}");
        }
    }

    #[test]
    fn anything_but_a_plain_wait_grab_is_left_to_clap() {
        for args in [
            &["wait-grab", "L", "--timeout", "1s", "--", "true"][..],
            &["wait-grab", "--ttl", "5s", "L", "--", "true"],
            &["wait-grab", "L", "--"],
            &["wait-grab", "L"],
            &["wait-grab", "-E", "--", "true"],
            &["wait-grab", "--help", "--", "true"],
            &["wait-grab", "", "--", "true"],
            &["grab", "L", "--", "true"],
            &["--json", "wait-grab", "L", "--", "true"],
        ] {
            assert!(plain_wait_grab(&os(args), None, None).is_none(), "{args:?}");
        }
        let plain = os(&["wait-grab", "L", "--", "true"]);
        let set = |v: &str| Some(OsString::from(v));
        assert!(plain_wait_grab(&plain, set(""), None).is_none());
        assert!(plain_wait_grab(&plain, None, set("")).is_none());
        let cli = plain_wait_grab(&plain, set("http://10.0.0.1:1"), set("me")).expect("plain");
        assert_eq!(cli.server.as_deref(), Some("http://10.0.0.1:1"));
        let Command::WaitGrab(args) = cli.command else {
            panic!("a wait-grab");
        };
        assert_eq!(args.hold.holder.as_deref(), Some("me"));
    }
}
