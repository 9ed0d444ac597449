//! The command line: its definition (shared with the completion and man-page generators) and dispatch.
pub mod args;

use std::process::ExitCode;

use args::{BenchArgs, Cli, Command, ServeArgs};
use clap::Parser;

use crate::server::{self, Config, Limits};

/// Exit codes, as documented in `--help`, the README and the man pages.
pub mod exit {
    pub const OK: u8 = 0;
    pub const USAGE: u8 = 2;
    pub const UNREACHABLE: u8 = 4;
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Bench(args) => bench(args),
    }
}

fn bench(args: BenchArgs) -> ExitCode {
    let opts = crate::bench::Options {
        server: args.server,
        duration: args.duration,
        clients: args.clients,
        waiters: args.waiters,
        handovers: args.handovers,
        parked: args.parked,
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
            eprintln!("weblock bench: {e}");
            ExitCode::from(exit::UNREACHABLE)
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let limits = Limits {
        max_connections: args.max_connections,
        ..Limits::default()
    };
    let config = Config {
        listen: args.listen.clone(),
        limits,
        threads: args.threads,
    };
    match server::serve(config) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("weblock: cannot serve on {}: {e}", args.listen);
            ExitCode::from(exit::UNREACHABLE)
        }
    }
}
