//! The progress line of a waiting client: on a terminal (a real pseudo-terminal here), one line on
//! stderr rewritten in place — whom it waits for, how long they have held it, its place in line — and
//! cleared when the wait ends; with stderr on a pipe, nothing but the normal output.

use crate::cli_helpers;
use crate::common;

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cli_helpers::*;
use common::Server;

/// A child in its own process group, killed and reaped on drop unless it was waited for.
struct Guard(Child);

impl Guard {
    fn spawn(mut cmd: Command) -> Guard {
        cmd.stdin(Stdio::null()).process_group(0);
        Guard(cmd.spawn().expect("spawn weblock"))
    }

    /// Waits (bounded) for the end; the exit code.
    fn finish(&mut self) -> Option<i32> {
        let mut status = None;
        wait_until(FINISH, "weblock to end", || {
            status = self.0.try_wait().ok().flatten();
            status.is_some()
        });
        status.and_then(|s| s.code())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: a plain syscall on the process group our own unreaped child leads.
            unsafe {
                libc::kill(-(self.0.id() as i32), libc::SIGKILL);
            }
            let _ = self.0.wait();
        }
    }
}

/// A pseudo-terminal: what is written to its terminal end, read from the other as it comes.
struct Pty {
    terminal: Option<OwnedFd>,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    fn open() -> Pty {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty fills two descriptors; null name, termios and winsize are allowed.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                // Null pointers coerce to each OS's types (`*const` on Linux, `*mut` on macOS).
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors are fresh and ours alone.
        let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut master = master;
            let mut buf = [0u8; 4096];
            // Ends with EIO once no process has the terminal end open.
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            terminal: Some(slave),
            seen,
        }
    }

    /// The terminal end, for one child's stderr (our copy is closed).
    fn take_terminal(&mut self) -> Stdio {
        Stdio::from(self.terminal.take().expect("the terminal end, once"))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }
}

/// A server where alice holds `db`; the sandbox, alice's and bob's state directories.
fn db_held_by_alice(tag: &str) -> (Server, Sandbox, PathBuf, PathBuf) {
    let server = Server::start();
    let sb = Sandbox::new(tag);
    let (alice, bob) = (sb.user("alice"), sb.user("bob"));
    let mut grab = weblock_at(&server.url(""), &alice);
    grab.args(["grab", "db", "--holder", "alice"]);
    sb.run(grab).expect_ok();
    (server, sb, alice, bob)
}

#[test]
fn on_a_terminal_a_waiting_wait_grab_shows_one_line_rewritten_in_place_then_clears_it() {
    let (server, sb, alice, bob) = db_held_by_alice("progress-pty");

    let mut pty = Pty::open();
    let mut cmd = weblock_at(&server.url(""), &bob);
    cmd.args(["wait-grab", "db", "--timeout", "1h"])
        .stdout(File::create(sb.path("bob.out")).expect("create bob.out"))
        .stderr(pty.take_terminal());
    let mut bob = Guard::spawn(cmd);

    wait_until(Duration::from_secs(10), "the line with the holder", || {
        let text = pty.text();
        text.contains("\rwaiting for db: held by alice for ")
            && text.contains(", next in line, ")
            && text.contains(" left\x1b[K")
    });

    let mut release = weblock_at(&server.url(""), &alice);
    release.args(["release", "db"]);
    sb.run(release).expect_ok();
    assert_eq!(bob.finish(), Some(0));
    let text = pty.text();
    assert!(
        text.ends_with("\r\x1b[K"),
        "the line is cleared at the end: {text:?}"
    );
    assert!(!text.contains('\n'), "one line, never a new one: {text:?}");
    let out = std::fs::read_to_string(sb.path("bob.out")).unwrap_or_default();
    uuid::Uuid::parse_str(out.trim()).unwrap_or_else(|e| panic!("{out:?}: not a token ({e})"));
}

#[test]
fn on_a_terminal_waiting_for_a_gate_shows_it_closed_with_its_message() {
    let server = Server::start();
    let sb = Sandbox::new("progress-gate");
    let alice = sb.user("alice");
    let weblock = |args: &[&str]| {
        let mut cmd = weblock_at(&server.url(""), &alice);
        cmd.args(args);
        cmd
    };
    sb.run(weblock(&[
        "gate", "create", "shop", "--group", "g", "--env", "live",
    ]))
    .expect_ok();
    sb.run(weblock(&[
        "gate",
        "close",
        "shop",
        "live",
        "--message",
        "testing",
    ]))
    .expect_ok();

    let mut pty = Pty::open();
    let mut cmd = weblock(&["wait", "shop:live"]);
    cmd.stdout(Stdio::null()).stderr(pty.take_terminal());
    let mut waiter = Guard::spawn(cmd);
    wait_until(Duration::from_secs(10), "the gate's line", || {
        pty.text()
            .contains("\rwaiting for shop:live to open: it is closed (\"testing\"), waited ")
    });
    sb.run(weblock(&["gate", "open", "shop", "live"]))
        .expect_ok();
    assert_eq!(waiter.finish(), Some(0));
    assert!(pty.text().ends_with("\r\x1b[K"), "{:?}", pty.text());
}

#[test]
fn with_stderr_on_a_pipe_a_waiting_client_prints_only_its_normal_output() {
    let (server, sb, alice, bob) = db_held_by_alice("progress-pipe");

    let mut cmd = weblock_at(&server.url(""), &bob);
    cmd.args(["wait-grab", "db", "--timeout", "1h"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut bob = Guard::spawn(cmd);
    server.wait_for_waiting("db", 1);
    // On a terminal the line would be on stderr by now: it is drawn as the wait starts.
    let mut release = weblock_at(&server.url(""), &alice);
    release.args(["release", "db"]);
    sb.run(release).expect_ok();
    assert_eq!(bob.finish(), Some(0));

    let (mut out, mut err) = (String::new(), String::new());
    let child = &mut bob.0;
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read stdout");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    assert_eq!(err, "", "nothing on a piped stderr");
    uuid::Uuid::parse_str(out.trim()).unwrap_or_else(|e| panic!("{out:?}: not a token ({e})"));
}

#[test]
fn on_a_terminal_a_wait_stopped_by_ctrl_c_clears_its_line_and_says_what_stopped_it() {
    for (args, what) in [
        (&["grab", "db", "--wait", "1h"][..], "db"),
        (&["wait", "db"], "db to be free"),
    ] {
        let (server, _sb, _alice, bob) = db_held_by_alice("progress-sigint");
        let mut pty = Pty::open();
        let mut cmd = weblock_at(&server.url(""), &bob);
        cmd.args(args)
            .stdout(Stdio::null())
            .stderr(pty.take_terminal());
        let mut waiter = Guard::spawn(cmd);
        wait_until(Duration::from_secs(10), "the waiting line", || {
            pty.text()
                .contains(&format!("\rwaiting for {what}: held by alice"))
        });
        // SAFETY: a plain syscall on our own unreaped child.
        unsafe {
            libc::kill(waiter.0.id() as i32, libc::SIGINT);
        }
        assert_eq!(waiter.finish(), None, "it died of the signal");
        use std::os::unix::process::ExitStatusExt;
        let status = waiter.0.try_wait().ok().flatten();
        assert_eq!(status.and_then(|s| s.signal()), Some(libc::SIGINT));
        let expected = format!("\r\x1b[Kweblock: SIGINT: stopped waiting for {what}");
        wait_until(Duration::from_secs(5), "the last line", || {
            pty.text().contains(&expected)
        });
        let text = pty.text();
        let last = text.rsplit("\r\x1b[K").next().unwrap_or_default();
        assert!(
            last.trim_end() == expected.trim_start_matches("\r\x1b[K"),
            "the line was cleared, and nothing drawn after the message: {text:?}"
        );
    }
}
