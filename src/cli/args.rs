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
    /// Measure a server: throughput, hand-over latency, memory of parked waiters
    #[command(
        after_help = "Example:\n  weblock bench --clients 1,16 --duration 3s\n\n\
Without --server it starts its own in-memory server (a child process, so its memory is measured alone)."
    )]
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Measure this server instead of starting one
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
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
