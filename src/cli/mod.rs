//! The command line: its definition (shared with the completion and man-page generators) and dispatch.
//! Client commands talk HTTP to a server; they know its API, nothing of its insides.
mod admin;
pub mod args;
mod client;
mod complete;
pub mod docs_gen;
mod gate;
mod holder;
mod json_out;
mod lock;
mod names;
mod progress;
mod renewal;
mod run;
mod spawn;
mod status;
mod tether;
mod text;
mod ticket;
#[cfg(feature = "tls")]
mod tls;
mod tokens;
mod transport;

use std::io::Write;
use std::process::ExitCode;

use args::{BenchArgs, Cli, Command, CompletionsArgs, GateCommand, ServeArgs};
use clap::FromArgMatches;
use lock::{Ctx, Waiting, Want};

use crate::api::auth;
use crate::serve::{self as server, Config, Limits};

/// The server a client talks to when neither --server nor WEBLOCK_URL says.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7878";

/// Exit codes, as documented in `--help`, the README and the man pages.
pub mod exit {
    pub const OK: u8 = 0;
    /// The answer is no: busy, not held.
    pub const NO: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const TIMED_OUT: u8 = 3;
    /// The server is unreachable, or failing.
    pub const UNREACHABLE: u8 = 4;
    /// `wait-grab NAME -- CMD`: the lock was lost while CMD ran (a renewal refused, an administrator
    /// deleted it, or its lease ran out unrenewed); CMD was stopped.
    pub const LOST: u8 = 5;
    /// A secret is missing or refused (HTTP 401): `WEBLOCK_AUTH` for access, or the administrator's
    /// credentials for `break`.
    pub const REFUSED: u8 = 6;
}

/// A command that did not do what was asked: one line for stderr, and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    /// Busy (what was asked for is held, or a gate closed): `-E N` makes it exit N, as it does a
    /// timeout.
    pub busy: bool,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            busy: false,
        }
    }

    /// The answer is no because it is busy (exit 1, or `-E N`).
    pub fn busy(message: impl Into<String>) -> Failure {
        Failure {
            busy: true,
            ..Failure::new(exit::NO, message)
        }
    }

    /// The exit code, with `--conflict-exit-code` applied to a busy or timed-out end.
    pub fn exit_code(&self, conflict: Option<u8>) -> u8 {
        match conflict {
            Some(code) if self.busy || self.code == exit::TIMED_OUT => code,
            _ => self.code,
        }
    }
}

pub fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // The completion scripts' helper, kept out of clap so that no help or script lists it.
    if argv.first().is_some_and(|a| a == "__complete") {
        let rest: Vec<String> = argv[1..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return complete::main(&rest);
    }
    // `wait-grab NAME -- CMD`, as shell loops run it: no clap needed (see `plain_wait_grab`); with a
    // private CA named in the environment, clap reads it.
    let server = std::env::var_os("WEBLOCK_URL");
    let holder = std::env::var_os("WEBLOCK_HOLDER");
    let plain = std::env::var_os("WEBLOCK_CA_FILE")
        .is_none()
        .then(|| args::plain_wait_grab(&argv, server, holder))
        .flatten();
    if let Some(cli) = plain {
        return run_cli(cli, false);
    }
    let matches = args::command().get_matches();
    // `bench` measures a shared server only when told so on its own command line: an exported
    // WEBLOCK_URL is for the client commands.
    let server_given = |m: &clap::ArgMatches| {
        m.value_source("server") == Some(clap::parser::ValueSource::CommandLine)
    };
    let bench_server_given =
        server_given(&matches) || matches.subcommand().is_some_and(|(_, m)| server_given(m));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    run_cli(cli, bench_server_given)
}

/// Runs what the command line says.
fn run_cli(cli: Cli, bench_server_given: bool) -> ExitCode {
    let result = match cli.command {
        Command::Serve(args) => return serve(*args),
        Command::Bench(args) => return bench(args, cli.server.filter(|_| bench_server_given)),
        command => {
            quiet_on_closed_pipe();
            one_malloc_arena();
            match command {
                Command::Completions(args) => return completions(args),
                command => client_command(command, cli.server, cli.ca_file.as_deref(), cli.json),
            }
        }
    };
    let code = match &result {
        Ok(code) => *code,
        Err(failure) => failure.exit_code(cli.conflict_exit_code),
    };
    if cli.json {
        json_out::finish(&result, code);
    }
    if let Err(failure) = result {
        // A closed stderr is no reason to panic; the exit code still says what happened.
        let _ = writeln!(std::io::stderr(), "weblock: {}", failure.message);
    }
    ExitCode::from(code)
}

/// Like every Unix filter, a client command whose output is cut off (`weblock status | head -1`)
/// ends quietly by SIGPIPE instead of panicking on the failed write. The server keeps ignoring
/// SIGPIPE: its sockets report a closed peer as an error, connection by connection.
fn quiet_on_closed_pipe() {
    // SAFETY: setting a signal's disposition to its default is async-signal-safe and affects only
    // this process (and what it spawns, which gets the default anyway).
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A client command's few threads (signals, renewals, the waiting line) share the main thread's
/// malloc arena: glibc would otherwise reserve 64 MiB of address space for each thread's own, an
/// mmap and munmaps that cost more than such a thread's work. The server keeps an arena per thread.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread is started.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Refuses names the server would refuse, or take for "no name" (see `names`), before anything is sent.
fn check_names(command: &Command) -> Result<(), Failure> {
    match command {
        Command::Grab(a) => names::lock(&a.name),
        Command::Release(a) => names::lock(&a.name),
        Command::Renew(a) => names::lock(&a.name),
        Command::Status(a) => a.name.as_deref().map_or(Ok(()), names::lock),
        Command::Wait(a) if a.name.contains(':') && !a.lock => {
            gate::parse_gates(std::slice::from_ref(&a.name)).map(drop)
        }
        Command::Wait(a) => names::lock(&a.name),
        Command::WaitGrab(a) => names::lock(&a.name),
        Command::Break(a) => names::lock(&a.name),
        Command::Gate(GateCommand::Create { service, envs, .. }) => {
            names::gate("service", service)?;
            envs.iter().try_for_each(|e| names::gate("gate", e))
        }
        Command::Gate(GateCommand::Show { service }) => service
            .as_deref()
            .map_or(Ok(()), |s| names::gate("service", s)),
        Command::Gate(GateCommand::Open(a) | GateCommand::Close(a)) => {
            names::gate("service", &a.service)?;
            names::gate("gate", &a.env)
        }
        Command::Gate(GateCommand::Delete { service }) => names::gate("service", service),
        Command::Gate(GateCommand::Leave { ticket }) => names::ticket(ticket),
        Command::Gate(GateCommand::Enter(a)) => gate::parse_gates(&a.gates).map(drop),
        Command::Serve(_) | Command::Bench(_) | Command::Completions(_) => Ok(()),
    }
}

fn client_command(
    command: Command,
    server: Option<String>,
    ca_file: Option<&std::path::Path>,
    json: bool,
) -> Result<u8, Failure> {
    check_names(&command)?;
    let server = server.unwrap_or_else(|| DEFAULT_SERVER.to_string());
    let client =
        client::Client::with_ca_file(&server, ca_file).map_err(|e| Failure::new(exit::USAGE, e))?;
    let ctx = Ctx {
        client,
        json,
        progress: progress::wanted(),
    };
    let done = |r: Result<(), Failure>| r.map(|()| exit::OK);
    match command {
        Command::Grab(args) => {
            let want = Want {
                name: args.name.clone(),
                holder: holder::chosen(args.hold.holder),
                ttl: args.hold.ttl,
                waiting: args.wait.map_or(Waiting::No, Waiting::For),
                slots: args.hold.slots,
                shared: args.hold.shared,
            };
            // Through `run`, without a command: a signal while it waits takes it out of the line.
            run::run(run::LockClaim::new(ctx, want), Vec::new(), run::KILL_AFTER)
        }
        Command::Release(args) => done(lock::release(&ctx, &args.name, args.token)),
        Command::Break(args) => done(admin::break_lock(&ctx, &args.name)),
        Command::Renew(args) => done(lock::renew(&ctx, &args.name, args.token, args.ttl)),
        Command::Status(args) => done(status::status(&ctx, args.name.as_deref())),
        Command::Wait(args) if args.name.contains(':') && !args.lock => {
            run::stop_on_signals(format!("{} to open", args.name))?;
            done(gate::wait_open(&ctx, &args.name, args.timeout))
        }
        Command::Wait(args) => {
            run::stop_on_signals(format!("{} to be free", args.name))?;
            done(lock::wait_free(&ctx, &args.name, args.timeout))
        }
        Command::Gate(GateCommand::Create {
            service,
            group,
            envs,
        }) => done(gate::create(&ctx, &service, &group, &envs)),
        Command::Gate(GateCommand::Show { service }) => done(gate::show(&ctx, service.as_deref())),
        Command::Gate(GateCommand::Open(a)) => done(gate::set(
            &ctx,
            &a.service,
            &a.env,
            "open",
            a.message.as_deref(),
        )),
        Command::Gate(GateCommand::Close(a)) => done(gate::set(
            &ctx,
            &a.service,
            &a.env,
            "closed",
            a.message.as_deref(),
        )),
        Command::Gate(GateCommand::Delete { service }) => done(gate::delete(&ctx, &service)),
        Command::Gate(GateCommand::Leave { ticket }) => done(gate::leave(&ctx, &ticket)),
        Command::Gate(GateCommand::Enter(args)) => {
            let gates = gate::parse_gates(&args.gates)?;
            let claim = ticket::GateClaim::new(ctx, gates, args.queue, args.timeout);
            run::run(claim, args.command, run::KILL_AFTER)
        }
        Command::WaitGrab(args) => {
            let ttl = match (args.hold.ttl, args.command.is_empty()) {
                (Some(ttl), _) => Some(ttl),
                (None, false) => Some(run::RUN_TTL),
                (None, true) => None,
            };
            let want = Want {
                name: args.name,
                holder: holder::chosen(args.hold.holder),
                ttl,
                waiting: args.timeout.map_or(Waiting::Forever, Waiting::For),
                slots: args.hold.slots,
                shared: args.hold.shared,
            };
            run::run(
                run::LockClaim::new(ctx, want),
                args.command,
                args.kill_after,
            )
        }
        Command::Serve(_) | Command::Bench(_) | Command::Completions(_) => {
            Err(Failure::new(exit::USAGE, "not a client command"))
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let limits = Limits {
        max_connections: args.max_connections,
        request_timeout: args.request_timeout,
        idle_timeout: args.idle_timeout,
        ..Limits::default()
    };
    if args.ticket_ttl.is_zero() {
        warn!("weblock: --ticket-ttl must be more than 0 (the document's default is 2m)");
        return ExitCode::from(exit::USAGE);
    }
    let admin = match &args.admin_credentials {
        Some(file) => auth::Credentials::from_file(file).map(Some),
        None => auth::Credentials::from_env(),
    };
    let admin = match admin {
        Ok(admin) => admin,
        Err(e) => {
            warn!("weblock: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let access = match args.auth_file.as_deref().map(auth::Secrets::from_file) {
        None => None,
        Some(Ok(secrets)) => Some(secrets),
        Some(Err(e)) => {
            warn!("weblock: --auth-file {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    #[cfg(feature = "tls")]
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let files = crate::http::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca.clone(),
            };
            match crate::http::tls::Tls::load(files) {
                Ok(tls) => Some(std::sync::Arc::new(tls)),
                Err(e) => {
                    warn!("weblock: TLS: {e}");
                    return ExitCode::from(exit::USAGE);
                }
            }
        }
        _ => None,
    };
    let config = Config {
        #[cfg(feature = "tls")]
        tls,
        listen: args.listen.clone(),
        limits,
        threads: args.threads,
        admin,
        access,
        auth_file: args.auth_file.clone(),
        urls: crate::api::base_url::UrlRules {
            public: args.public_url.clone(),
            trusted_proxies: args.trusted_proxy.clone(),
        },
        ticket_ttl: Some(args.ticket_ttl),
        state: args.state.clone(),
        store: args.store.clone(),
        log: match args.log_format {
            args::LogFormatArg::Human => server::LogFormat::Human,
            args::LogFormatArg::Json => server::LogFormat::Json,
            args::LogFormatArg::Off => server::LogFormat::Off,
        },
        metrics_locks: usize::from(args.metrics_locks),
    };
    match server::serve(config) {
        Ok(()) => ExitCode::from(exit::OK),
        // The state file's own errors say what is wrong and where; others are about the address.
        Err(e) if e.kind() == std::io::ErrorKind::Other => {
            warn!("weblock: {e}");
            ExitCode::from(exit::UNREACHABLE)
        }
        Err(e) => {
            warn!("weblock: cannot serve on {}: {e}", args.listen);
            ExitCode::from(exit::UNREACHABLE)
        }
    }
}

fn bench(args: BenchArgs, server: Option<String>) -> ExitCode {
    let opts = crate::bench::Options {
        server,
        duration: args.duration,
        clients: args.clients,
        waiters: args.waiters,
        handovers: args.handovers,
        parked: args.parked,
        durable: !args.no_durable,
        tls: args.tls,
    };
    match crate::bench::run(&opts) {
        Ok(report) if args.json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            ExitCode::from(exit::OK)
        }
        Ok(report) => {
            crate::bench::print(&report);
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            warn!("weblock bench: {e}");
            ExitCode::from(exit::UNREACHABLE)
        }
    }
}

/// `weblock completions SHELL`: the script on stdout.
fn completions(args: CompletionsArgs) -> ExitCode {
    use std::io::Write;
    let script = docs_gen::completion(args.shell);
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&script).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            warn!("weblock: cannot write the completion script: {e}");
            ExitCode::from(exit::NO)
        }
    }
}
