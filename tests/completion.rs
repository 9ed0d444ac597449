//! The completion scripts as a shell runs them, against a live server: lock, gate and service names
//! come from it (`weblock __complete`), options are offered after NAME, and after `--` the command to
//! run is completed. bash always; fish and zsh when installed (CI installs them), else a skip line.
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::cli_helpers::{BIN, Sandbox};
use crate::common::{Enc, Server};

/// A server holding `db` and `gpu`, with service `shop` (gates `live`, `testing`).
fn server_with_names() -> Server {
    let server = Server::start();
    server.grab_ok(Enc::Json, &[("id", "db")]);
    server.grab_ok(Enc::Json, &[("id", "gpu")]);
    let created = server.request(
        "POST",
        "/api/services/shop",
        &[("Content-Type", "application/json")],
        br#"{"group": "g", "environments": ["live", "testing"]}"#,
    );
    assert_eq!(created.status, 200, "{}", created.text());
    server
}

/// `weblock` on the PATH (its directory first), talking to `server`.
fn shell(program: &str, server: &Server) -> Command {
    let dir = Path::new(BIN).parent().expect("the binary's directory");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(program);
    cmd.env("PATH", path)
        .env("WEBLOCK_URL", server.url(""))
        .env_remove("WEBLOCK_AUTH");
    cmd
}

fn output(mut cmd: Command) -> Vec<String> {
    let out = cmd.output().expect("the shell runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// What bash's completion offers for the words `line` (the last one being completed).
fn bash_completes(sb: &Sandbox, server: &Server, line: &[&str]) -> Vec<String> {
    let script = sb.path("weblock.bash");
    let generated = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .expect("weblock completions");
    std::fs::write(&script, generated.stdout).expect("the script");
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
         _weblock_complete weblock; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.join(" "),
        line.len() - 1,
        line.join(" ")
    );
    let mut cmd = shell("bash", server);
    cmd.args(["-c", &program]).current_dir(&sb.dir);
    output(cmd)
}

fn has(offered: &[String], want: &str) -> bool {
    offered.iter().any(|o| o.trim() == want)
}

#[test]
fn bash_offers_names_from_the_server_options_after_name_and_commands_after_dashdash() {
    let server = server_with_names();
    let sb = Sandbox::new("completion-bash");
    let names = bash_completes(&sb, &server, &["weblock", "status", ""]);
    assert!(has(&names, "db") && has(&names, "gpu"), "{names:?}");
    let names = bash_completes(&sb, &server, &["weblock", "--server", "X", "release", "g"]);
    assert_eq!(names, ["gpu"], "the word after --server is no subcommand");
    let gates = bash_completes(&sb, &server, &["weblock", "gate", "enter", "shop:"]);
    assert!(
        has(&gates, "shop:live") && has(&gates, "shop:testing"),
        "{gates:?}"
    );
    let services = bash_completes(&sb, &server, &["weblock", "gate", "close", ""]);
    assert_eq!(services, ["shop"]);
    let options = bash_completes(&sb, &server, &["weblock", "wait-grab", "db", "--tt"]);
    assert!(has(&options, "--ttl"), "options after NAME: {options:?}");
    let commands = bash_completes(&sb, &server, &["weblock", "wait-grab", "db", "--", "ech"]);
    assert!(has(&commands, "echo"), "the command after --: {commands:?}");
}

/// Names are anyone's (any client may create a service), and bash's `compgen -W` expands the words
/// it is given: a service named `$(touch${IFS}pwned)` must be no more than text to a TAB.
#[test]
fn bash_runs_nothing_a_name_from_the_server_says() {
    let server = server_with_names();
    for (path, body) in [
        (
            "/api/services/%24(touch%24%7BIFS%7Dpwned)",
            r#"{"group": "g", "environments": ["live"]}"#,
        ),
        (
            "/api/services/other",
            r#"{"group": "g", "environments": ["`touch${IFS}pwned2`"]}"#,
        ),
    ] {
        let created = server.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(created.status, 200, "{}", created.text());
    }
    let sb = Sandbox::new("completion-hostile");
    let services = bash_completes(&sb, &server, &["weblock", "gate", "close", ""]);
    let gates = bash_completes(&sb, &server, &["weblock", "gate", "enter", ""]);
    for file in ["pwned", "pwned2"] {
        assert!(
            !sb.path(file).exists(),
            "a TAB ran a command from a name on the server ({file} made; offered {services:?} {gates:?})"
        );
    }
    assert!(has(&services, "shop"), "{services:?}");
    assert!(has(&gates, "shop:live"), "{gates:?}");
}

#[test]
fn names_come_quickly_and_silently_when_no_server_answers() {
    let sb = Sandbox::new("completion-away");
    // A listener that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["__complete", "locks"])
        .env(
            "WEBLOCK_URL",
            format!("http://{}", silent.local_addr().expect("addr")),
        )
        .env("XDG_STATE_HOME", sb.path("state"))
        .output()
        .expect("weblock runs");
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a TAB must not hang: {:?}",
        started.elapsed()
    );
}

fn installed(program: &str, test: &str) -> bool {
    let found = Command::new(program).arg("--version").output().is_ok();
    if !found && std::env::var_os("WEBLOCK_REQUIRE_SHELLS").is_some() {
        panic!("{program} is not installed, and WEBLOCK_REQUIRE_SHELLS is set");
    }
    if !found {
        // Printed past the test harness's capture, so the summary shows it.
        let _ = writeln!(
            std::io::stderr(),
            "{test} skipped: {program} is not installed (Debian: apt-get install {program})"
        );
    }
    found
}

#[test]
fn fish_offers_names_from_the_server_and_commands_after_dashdash() {
    if !installed(
        "fish",
        "fish_offers_names_from_the_server_and_commands_after_dashdash",
    ) {
        return;
    }
    let server = server_with_names();
    let complete = |line: &str| {
        let mut cmd = shell("fish", &server);
        cmd.args([
            "--no-config",
            "-c",
            &format!("weblock completions fish | source; complete -C '{line}'"),
        ]);
        output(cmd)
            .into_iter()
            .map(|l| l.split('\t').next().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    let names = complete("weblock status ");
    assert!(has(&names, "db") && has(&names, "gpu"), "{names:?}");
    let commands = complete("weblock wait-grab db -- ech");
    assert!(has(&commands, "echo"), "{commands:?}");
}

#[test]
fn the_zsh_script_is_valid_zsh() {
    if !installed("zsh", "the_zsh_script_is_valid_zsh") {
        return;
    }
    let sb = Sandbox::new("completion-zsh");
    let script = sb.path("_weblock");
    let generated = Command::new(BIN)
        .args(["completions", "zsh"])
        .output()
        .expect("weblock completions");
    std::fs::write(&script, generated.stdout).expect("the script");
    let checked = Command::new("zsh")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("zsh runs");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// zsh, driven as a person does: typed into an interactive zsh in a tmux pane, TAB pressed, the
/// pane read until what completion offers appears (or a deadline passes).
#[test]
fn zsh_offers_names_from_the_server_options_after_name_and_commands_after_dashdash() {
    let test = "zsh_offers_names_from_the_server_options_after_name_and_commands_after_dashdash";
    if !installed("zsh", test) || !installed("tmux", test) {
        return;
    }
    let server = server_with_names();
    let sb = Sandbox::new("completion-zsh-live");
    let functions = sb.path("functions");
    std::fs::create_dir_all(&functions).expect("a directory");
    let generated = Command::new(BIN)
        .args(["completions", "zsh"])
        .output()
        .expect("weblock completions");
    std::fs::write(functions.join("_weblock"), generated.stdout).expect("the script");
    let home = sb.path("zdot");
    std::fs::create_dir_all(&home).expect("a directory");
    let bin_dir = Path::new(BIN).parent().expect("the binary's directory");
    std::fs::write(
        home.join(".zshrc"),
        format!(
            "PS1='> '\nexport PATH={}:$PATH\nexport WEBLOCK_URL={}\nfpath=({} $fpath)\n\
             autoload -U compinit; compinit -u -d {}\nzstyle ':completion:*' menu no\n",
            bin_dir.display(),
            server.url(""),
            functions.display(),
            sb.path("zcompdump").display()
        ),
    )
    .expect("a zshrc");
    // A tmux server of its own for each line typed: one just told to stop may still answer a new
    // session on the same socket, and then die under it (a blank pane).
    let round = std::cell::Cell::new(0);
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-S")
            .arg(sb.path(&format!("tmux{}.sock", round.get())))
            .args(args)
            .output()
            .expect("tmux runs")
    };
    // Types `line`, presses TAB (twice: the second lists the choices), and waits for `want`.
    let offered = |line: &str, want: &str| -> String {
        round.set(round.get() + 1);
        let shell = format!("env ZDOTDIR={} zsh -i", home.display());
        tmux(&[
            "new-session",
            "-d",
            "-s",
            "z",
            "-x",
            "200",
            "-y",
            "50",
            &shell,
        ]);
        let pane = || {
            String::from_utf8_lossy(&tmux(&["capture-pane", "-t", "z", "-p"]).stdout).into_owned()
        };
        let until = |what: &str, within: Duration| {
            let deadline = Instant::now() + within;
            loop {
                let text = pane();
                if text.contains(what) || Instant::now() > deadline {
                    return text;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        // The prompt (capture-pane drops its trailing space).
        until(">", Duration::from_secs(10));
        tmux(&["send-keys", "-t", "z", line, "Tab"]);
        // One TAB completes what is unambiguous; a second lists the choices.
        let mut text = until(want, Duration::from_secs(2));
        if !text.contains(want) {
            tmux(&["send-keys", "-t", "z", "Tab"]);
            text = until(want, Duration::from_secs(10));
        }
        tmux(&["kill-server"]);
        text
    };
    let names = offered("weblock status ", "gpu");
    assert!(names.contains("db") && names.contains("gpu"), "{names}");
    let options = offered("weblock wait-grab db --t", "--ttl");
    assert!(options.contains("--ttl"), "options after NAME: {options}");
    let command = offered("weblock wait-grab db -- ech", "echo");
    assert!(command.contains("echo"), "the command after --: {command}");
}
