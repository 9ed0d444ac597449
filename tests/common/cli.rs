//! Helpers for the black-box tests of the `weblock` client: a per-test sandbox directory (each "user"
//! gets its own state directory, so its token memory is its own), `weblock` commands aimed at a server,
//! and child processes that are always killed and reaped, even when a test fails.
//!
//! Every child runs in its own process group, with its output going to files in the sandbox (so a
//! grandchild that outlives it never holds a pipe open), and is waited for with a deadline.
#![allow(dead_code)]

use std::fmt;
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_weblock");
/// How long a command that should finish by itself may take before the test gives up on it. Generous:
/// one-shot commands against an unreachable server retry for 5 s.
pub const FINISH: Duration = Duration::from_secs(20);
/// Pause between two polls of a condition.
pub const PAUSE: Duration = Duration::from_millis(10);

static SANDBOXES: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system's temporary directory, removed on drop.
pub struct Sandbox {
    pub dir: PathBuf,
    spawned: AtomicUsize,
}

impl Sandbox {
    pub fn new(tag: &str) -> Sandbox {
        let n = SANDBOXES.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "weblock-cli-{tag}-{}-{n}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        Sandbox {
            dir,
            spawned: AtomicUsize::new(0),
        }
    }

    /// A path inside the sandbox (not created).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The state directory (`XDG_STATE_HOME`, and `HOME`) of one user, created.
    pub fn user(&self, name: &str) -> PathBuf {
        let dir = self.dir.join(format!("user-{name}"));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        dir
    }

    /// Starts `cmd` (see `Proc`).
    pub fn spawn(&self, cmd: Command) -> Proc {
        let n = self.spawned.fetch_add(1, Ordering::SeqCst);
        Proc::spawn(cmd, &self.dir, n)
    }

    /// Runs `cmd` to its end (at most `FINISH`).
    pub fn run(&self, cmd: Command) -> Outcome {
        self.spawn(cmd).finish_within(FINISH)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `weblock` aimed at `url`, with `state` as its user's state directory and home.
pub fn weblock_at(url: &str, state: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    user_env(&mut cmd, url, state);
    cmd
}

/// The environment of a user whose state directory (and home) is `state`, talking to `url`; for
/// `weblock` itself or for a shell that runs it.
pub fn user_env<'a>(cmd: &'a mut Command, url: &str, state: &Path) -> &'a mut Command {
    cmd.env("WEBLOCK_URL", url)
        .env("XDG_STATE_HOME", state)
        .env("HOME", state)
        .env_remove("WEBLOCK_NAME")
        .env_remove("WEBLOCK_TOKEN")
        .env_remove("WEBLOCK_FENCE")
        .env_remove("WEBLOCK_HOLDER")
}

/// How a command ended, and what it printed.
pub struct Outcome {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// The exit code; panics when a signal ended the process.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("{self}: ended by a signal, not an exit code"))
    }

    /// Asserts the exit code.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.status.code(), Some(code), "wrong exit code: {self}");
        self
    }

    /// Asserts that signal `sig` ended the process (rather than an exit code).
    pub fn expect_signal(&self, sig: libc::c_int) -> &Self {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            self.status.signal(),
            Some(sig),
            "should have died of signal {sig}: {self}"
        );
        self
    }

    /// Asserts exit 0 with nothing on stderr.
    pub fn expect_ok(&self) -> &Self {
        self.expect_code(0);
        assert_eq!(
            self.stderr, "",
            "a successful command is silent on stderr: {self}"
        );
        self
    }

    /// Asserts exit `code`, nothing on stdout, and exactly one line on stderr, starting `weblock: `
    /// and containing each of `words`; returns that line.
    pub fn expect_error(&self, code: i32, words: &[&str]) -> String {
        self.expect_code(code);
        assert_eq!(
            self.stdout, "",
            "a failure prints nothing on stdout: {self}"
        );
        self.one_error_line(words)
    }

    /// Asserts exactly one line on stderr, starting `weblock: ` and containing each of `words`.
    pub fn one_error_line(&self, words: &[&str]) -> String {
        assert!(
            self.stderr.ends_with('\n') && self.stderr.matches('\n').count() == 1,
            "stderr should be exactly one line: {self}"
        );
        let line = self.stderr.trim_end().to_string();
        assert!(
            line.starts_with("weblock: "),
            "stderr should start `weblock: `: {self}"
        );
        for w in words {
            assert!(line.contains(w), "stderr should mention {w:?}: {self}");
        }
        line
    }

    /// The one line on stdout, which must be a UUID (a token).
    pub fn token(&self) -> String {
        let line = self
            .stdout
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("stdout should be one line ending with a newline: {self}"));
        assert!(!line.contains('\n'), "stdout should be one line: {self}");
        uuid::Uuid::parse_str(line)
            .unwrap_or_else(|e| panic!("stdout {line:?} is not a UUID token ({e}): {self}"));
        line.to_string()
    }

    /// stdout parsed as one JSON value.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` ended with {} | stdout: {:?} | stderr: {:?}",
            self.what, self.status, self.stdout, self.stderr
        )
    }
}

/// A child process in its own process group, with stdin empty and stdout/stderr going to files.
/// Dropped before it was reaped, its whole group is killed with SIGKILL and it is reaped.
pub struct Proc {
    child: Child,
    reaped: bool,
    what: String,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    fn spawn(mut cmd: Command, dir: &Path, n: usize) -> Proc {
        let what = describe(&cmd);
        let out = dir.join(format!("proc-{n}.out"));
        let err = dir.join(format!("proc-{n}.err"));
        let file = |p: &Path| {
            fs::File::create(p).unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()))
        };
        cmd.stdin(Stdio::null())
            .stdout(file(&out))
            .stderr(file(&err))
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn `{what}`: {e}"));
        Proc {
            child,
            reaped: false,
            what,
            out,
            err,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// What it printed on stdout so far.
    pub fn stdout_so_far(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Sends `sig` to the process (not its group). Only while it is not reaped, so the pid is ours.
    pub fn signal(&self, sig: libc::c_int) {
        assert!(!self.reaped, "`{}` was already reaped", self.what);
        // SAFETY: a plain syscall on the pid of our own unreaped child.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// Sends `sig` to its whole process group, as a terminal does with Ctrl-C. Only while it is not
    /// reaped, so the group is ours.
    pub fn signal_group(&self, sig: libc::c_int) {
        assert!(!self.reaped, "`{}` was already reaped", self.what);
        // SAFETY: a plain syscall on the process group our own unreaped child leads.
        let rc = unsafe { libc::kill(-self.pid(), sig) };
        assert_eq!(rc, 0, "kill(-{}, {sig}) failed", self.pid());
    }

    /// Whether it is still running (not exited). Does not reap it.
    pub fn is_running(&mut self) -> bool {
        if self.reaped {
            return false;
        }
        // WNOWAIT: look without reaping, so the pid (and the group) stay ours until `finish`.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid on our own child with a valid out-pointer.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                self.child.id() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: si_pid is valid to read after a successful waitid.
        rc == 0 && unsafe { info.si_pid() } == 0
    }

    /// Waits (at most `within`) for it to end, reaps it, and returns how it ended; panics on time out
    /// (and the drop then kills it).
    pub fn finish_within(&mut self, within: Duration) -> Outcome {
        let deadline = Instant::now() + within;
        loop {
            if !self.is_running() {
                let status = self.child.wait().expect("wait for a child");
                self.reaped = true;
                return self.outcome(status);
            }
            if Instant::now() >= deadline {
                panic!(
                    "`{}` did not end within {within:?}; stdout so far: {:?}; stderr so far: {:?}",
                    self.what,
                    self.stdout_so_far(),
                    fs::read_to_string(&self.err).unwrap_or_default()
                );
            }
            std::thread::sleep(PAUSE);
        }
    }

    fn outcome(&self, status: ExitStatus) -> Outcome {
        Outcome {
            what: self.what.clone(),
            status,
            stdout: fs::read_to_string(&self.out).unwrap_or_default(),
            stderr: fs::read_to_string(&self.err).unwrap_or_default(),
        }
    }

    /// Whether the process has a socket open (the client's connection to the server).
    pub fn has_socket(&self) -> bool {
        let Ok(entries) = fs::read_dir(format!("/proc/{}/fd", self.pid())) else {
            return false;
        };
        entries.flatten().any(|e| {
            fs::read_link(e.path())
                .map(|target| target.to_string_lossy().starts_with("socket:"))
                .unwrap_or(false)
        })
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.reaped {
            // The child is not reaped, so its pid and process group are still ours.
            // SAFETY: plain syscall on our own child's process group.
            unsafe {
                libc::kill(-self.pid(), libc::SIGKILL);
            }
            let _ = self.child.wait();
        }
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = Path::new(cmd.get_program())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Polls `cond` every few ms until it holds, for at most `within`; panics with `what` otherwise.
pub fn wait_until(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        std::thread::sleep(PAUSE);
    }
}

/// A loopback port that was free a moment ago (bound, read, released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// `weblock serve --listen ADDR` started by the test itself (the fixture only listens on port 0),
/// once it printed its `listening on http://ADDR` line. Killed on drop.
pub struct OwnServer {
    pub proc: Proc,
    pub addr: SocketAddr,
}

impl OwnServer {
    pub fn start(sandbox: &Sandbox, listen: SocketAddr) -> OwnServer {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", &listen.to_string()]);
        let mut proc = sandbox.spawn(cmd);
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = loop {
            let out = proc.stdout_so_far();
            if let Some(addr) = out
                .lines()
                .find_map(|l| l.strip_prefix("listening on http://"))
                .and_then(|a| a.trim().trim_end_matches('/').parse().ok())
            {
                break addr;
            }
            assert!(
                proc.is_running(),
                "weblock serve --listen {listen} exited: {}",
                proc.finish_within(Duration::from_secs(1))
            );
            assert!(
                Instant::now() < deadline,
                "weblock serve --listen {listen} printed no `listening on` line; stdout: {out:?}"
            );
            std::thread::sleep(PAUSE);
        };
        OwnServer { proc, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Runs `workers` shells (as users `worker0`, `worker1`, …, talking to `url`), each running
/// `weblock wait-grab ARGS -- sh -c SECTION` `rounds` times, with `LOG` (a file in the sandbox) in
/// its environment; waits for all of them to exit 0 (within `within`); checks that the log has an
/// `enter F` and a `leave F` line for every section, and returns it, with its events (`log_events`).
pub fn run_workers(
    sb: &Sandbox,
    url: &str,
    (workers, rounds): (usize, usize),
    wait_grab: &str,
    section: &str,
    within: Duration,
) -> (String, Vec<(bool, u64)>) {
    let log = sb.path("log");
    let urls = [url.to_string()];
    let mut procs = spawn_workers(sb, &urls, (workers, rounds), wait_grab, section, &log);
    for p in &mut procs {
        p.finish_within(within).expect_ok();
    }
    let text = fs::read_to_string(&log).expect("the workers wrote a log");
    let events = log_events(&text);
    assert_eq!(
        events.len(),
        2 * workers * rounds,
        "{} critical sections, entered and left:\n{text}",
        workers * rounds
    );
    (text, events)
}

/// `workers` shells (as users `worker0`, `worker1`, …; worker `i` talks to `urls[i % urls.len()]`),
/// each running `weblock wait-grab ARGS -- sh -c SECTION` `rounds` times, with `LOG=log` in its
/// environment.
pub fn spawn_workers(
    sb: &Sandbox,
    urls: &[String],
    (workers, rounds): (usize, usize),
    wait_grab: &str,
    section: &str,
    log: &Path,
) -> Vec<Proc> {
    let script = format!(
        "i=0; while [ $i -lt {rounds} ]; do \
           \"$WEBLOCK_BIN\" wait-grab {wait_grab} -- sh -c '{section}' || exit $?; \
           i=$((i+1)); \
         done"
    );
    spawn_scripts(sb, urls, workers, &script, log)
}

/// `workers` bash shells running `script` (as users `worker0`, `worker1`, …; worker `i` talks to
/// `urls[i % urls.len()]`), with `WEBLOCK_BIN` and `LOG=log` in their environment.
pub fn spawn_scripts(
    sb: &Sandbox,
    urls: &[String],
    workers: usize,
    script: &str,
    log: &Path,
) -> Vec<Proc> {
    (0..workers)
        .map(|i| {
            let mut bash = Command::new("bash");
            user_env(
                &mut bash,
                &urls[i % urls.len()],
                &sb.user(&format!("worker{i}")),
            )
            .args(["-c", script])
            .env("WEBLOCK_BIN", BIN)
            .env("LOG", log);
            sb.spawn(bash)
        })
        .collect()
}

/// Parses `enter F` / `leave F` lines into (entered, fence) pairs, panicking on anything else.
pub fn log_events(log: &str) -> Vec<(bool, u64)> {
    log.lines()
        .map(|l| {
            let (word, fence) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("bad log line {l:?} in:\n{log}"));
            let fence: u64 = fence
                .parse()
                .unwrap_or_else(|_| panic!("bad fence in {l:?} in:\n{log}"));
            match word {
                "enter" => (true, fence),
                "leave" => (false, fence),
                _ => panic!("bad log line {l:?} in:\n{log}"),
            }
        })
        .collect()
}

/// `n` shell workers that each take lock `L` with `weblock wait-grab` `rounds` times, and inside it
/// log `enter FENCE`, pause `pause` seconds, log `leave FENCE` to `log`. Worker `i` talks to
/// `urls[i % urls.len()]`.
pub fn section_workers(
    sb: &Sandbox,
    urls: &[String],
    n: usize,
    rounds: usize,
    pause: &str,
    log: &Path,
) -> Vec<Proc> {
    let section = format!(
        "echo \"enter $WEBLOCK_FENCE\" >> \"$LOG\"; sleep {pause}; \
         echo \"leave $WEBLOCK_FENCE\" >> \"$LOG\""
    );
    spawn_workers(sb, urls, (n, rounds), "L --timeout 60s", &section, log)
}

/// Checks the log `section_workers` wrote: `sections` critical sections, entered and left in turn
/// (never two at once), each left with its own fence, fences strictly growing.
pub fn assert_sections(log: &Path, sections: usize) {
    let text = fs::read_to_string(log).expect("the workers wrote a log");
    let events = log_events(&text);
    assert_eq!(
        events.len(),
        2 * sections,
        "{sections} critical sections, entered and left:\n{text}"
    );
    let mut last_fence = None;
    for pair in events.chunks(2) {
        let [(true, enter), (false, leave)] = pair else {
            panic!("critical sections overlap (enter/leave do not alternate) at {pair:?}:\n{text}");
        };
        assert_eq!(enter, leave, "a section left with another fence:\n{text}");
        assert!(
            last_fence.is_none_or(|f| f < *enter),
            "fences grow strictly from one holder to the next:\n{text}"
        );
        last_fence = Some(*enter);
    }
}
