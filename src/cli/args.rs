//! The clap definition of every command and option.
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "weblock",
    version,
    about = "An HTTP lock service and its blocking client: take turns on anything from shell scripts and CI jobs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the lock service
    #[command(after_help = "Example:\n  weblock serve --listen 0.0.0.0:7878\n\n\
The first line on stdout is `listening on http://ADDR` with the real port, so `--listen 127.0.0.1:0` \
works for tests and scripts. SIGINT and SIGTERM stop it.")]
    Serve(ServeArgs),
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
}
