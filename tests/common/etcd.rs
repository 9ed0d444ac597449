//! An etcd for the tests: started lazily, on free loopback ports with a temporary data dir, never the
//! system's service. `WEBLOCK_TEST_STORE=etcd` makes every `Server` the fixture starts keep its
//! state there, under a prefix of its own, so the dialect suites run unchanged against etcd.
//!
//! The process-wide etcd is started from a thread that lives as long as the test process, with
//! `PR_SET_PDEATHSIG` (which fires when the *thread* that forked the child ends): it dies with the
//! test process, however that ends. Test-owned ones (`Etcd::start`) are also killed on drop.
use std::net::TcpStream;
#[cfg(target_os = "linux")]
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// Where Debian's `etcd-server` puts it.
pub const ETCD: &str = "/usr/bin/etcd";
/// How long an etcd may take to answer after it is started.
const STARTUP: Duration = Duration::from_secs(20);

/// Whether the servers of this test process use etcd (`WEBLOCK_TEST_STORE=etcd`).
pub fn store_wanted() -> bool {
    std::env::var("WEBLOCK_TEST_STORE").is_ok_and(|v| v == "etcd")
}

/// Whether etcd is installed; if not, a test that needs it calls this first and returns when false:
/// it fails (with `WEBLOCK_REQUIRE_ETCD=1`, as CI sets) or prints one "skipped" line.
pub fn available(test: &str) -> bool {
    if Path::new(ETCD).exists() {
        return true;
    }
    if std::env::var("WEBLOCK_REQUIRE_ETCD").is_ok_and(|v| v == "1") {
        panic!(
            "{test}: {ETCD} is missing and WEBLOCK_REQUIRE_ETCD=1: install Debian's etcd-server"
        );
    }
    eprintln!("skipped {test}: {ETCD} is not installed (Debian's etcd-server)");
    false
}

/// A fresh `--store` URL for one weblock server (or a group that shares it) on the process-wide etcd.
pub fn fresh_store() -> String {
    shared().store_url(&unique_prefix())
}

/// A prefix no other server of any test process uses.
pub fn unique_prefix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "t{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The etcd of this test process, started on first use.
pub fn shared() -> &'static Etcd {
    static SHARED: OnceLock<Etcd> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (tx, rx) = mpsc::channel();
        // This thread forks etcd and then never ends, so the death signal comes with the process's.
        thread::spawn(move || {
            let _ = tx.send(Etcd::start());
            loop {
                thread::park();
            }
        });
        rx.recv().expect("the etcd starter thread")
    })
}

/// One etcd member, alone in its cluster.
pub struct Etcd {
    child: Option<Child>,
    pub client_port: u16,
    peer_port: u16,
    dir: PathBuf,
}

impl Etcd {
    /// A new etcd on free ports with a temporary data dir.
    pub fn start() -> Etcd {
        remove_stale_dirs();
        let dir = std::env::temp_dir().join(format!(
            "weblock-etcd-{}-{}",
            std::process::id(),
            unique_prefix()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the etcd dir");
        let mut etcd = Etcd {
            child: None,
            client_port: free_port(),
            peer_port: free_port(),
            dir,
        };
        etcd.run();
        etcd
    }

    /// `etcd://127.0.0.1:PORT/PREFIX`.
    pub fn store_url(&self, prefix: &str) -> String {
        format!("etcd://127.0.0.1:{}/{prefix}", self.client_port)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Sends `sig` to etcd (SIGSTOP freezes it: it holds its connections and answers nothing).
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// Kills etcd (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports and data dir (after `kill`).
    pub fn restart(&mut self) {
        self.kill();
        self.run();
    }

    fn run(&mut self) {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::File::create(self.dir.join("etcd.log")).expect("etcd log");
        let mut cmd = Command::new(ETCD);
        cmd.args(["--name", "t", "--data-dir"])
            .arg(self.dir.join("data"))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("t={peer}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // Killed with the test process: Linux's parent-death signal. Elsewhere the test process
        // kills it when it ends normally (`Drop`), and a test process killed outright leaves it.
        #[cfg(target_os = "linux")]
        // SAFETY: prctl in the child between fork and exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {ETCD}: {e}"));
        self.child = Some(child);
        self.wait_ready();
    }

    /// Polls etcd's health endpoint until it answers healthy.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + STARTUP;
        loop {
            if self.healthy() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                let log = std::fs::read_to_string(self.dir.join("etcd.log")).unwrap_or_default();
                panic!("etcd exited at start ({status}):\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "etcd on port {} did not become healthy within {STARTUP:?}",
                self.client_port
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn healthy(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.client_port)) else {
            return false;
        };
        use std::io::{Read, Write};
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let req = "GET /health HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n";
        if s.write_all(req.as_bytes()).is_err() {
            return false;
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.contains("\"health\":\"true\"")
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Data dirs left by test processes that are gone (their etcd died with them).
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("weblock-etcd-")
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        // A process that no longer exists (signal 0 only checks) left it behind.
        let gone = pid
            .parse::<libc::pid_t>()
            // SAFETY: signal 0 sends nothing; it only asks whether the pid exists.
            .is_ok_and(|pid| unsafe { libc::kill(pid, 0) } != 0);
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
