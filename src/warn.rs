//! `warn!`: one line on stderr, like `eprintln!` but never a panic. `eprintln!` panics when stderr is
//! closed (`weblock serve 2>&-`, a supervisor's pipe gone), and a panic in the acceptor or the timer
//! would stop the server accepting or expiring leases over a log line.

macro_rules! warn {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
