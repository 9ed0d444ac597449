//! The shell completions in `completions/` and the man pages in `man/` are generated from the clap
//! definition (`src/cli/args.rs`, through `weblock::cli::docs_gen`) and committed. These tests fail when
//! the committed files are not, byte for byte, what the definition generates now. Then regenerate them:
//!
//! ```sh
//! WEBLOCK_REGENERATE=1 cargo test --test main -- generated_docs::
//! ```
//!
//! and commit `completions/` and `man/`. Both directories hold generated files only.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use weblock::cli::docs_gen::{self, COMPLETIONS_DIR, MAN_DIR, SHELLS};

/// Set to 1, the freshness test rewrites the committed files instead of comparing them.
const REGENERATE: &str = "WEBLOCK_REGENERATE";
const HOW_TO_REGENERATE: &str = "Regenerate them with\n\n    WEBLOCK_REGENERATE=1 cargo test --test main -- generated_docs::\n\n\
and commit completions/ and man/.";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "weblock-generated-docs-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Every file under `root`'s `completions/` and `man/`, as paths relative to `root`.
fn files_under(root: &Path) -> BTreeSet<PathBuf> {
    let mut files = BTreeSet::new();
    for dir in [COMPLETIONS_DIR, MAN_DIR] {
        let Ok(entries) = fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let entry = entry.expect("read a directory entry");
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                files.insert(Path::new(dir).join(entry.file_name()));
            }
        }
    }
    files
}

/// Where two texts first differ, as "line N: committed `…`, generated `…`".
fn first_difference(committed: &[u8], generated: &[u8]) -> String {
    let committed = String::from_utf8_lossy(committed);
    let generated = String::from_utf8_lossy(generated);
    let mut old = committed.lines();
    let mut new = generated.lines();
    for n in 1.. {
        match (old.next(), new.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (None, None) => return "they differ only in line endings".to_string(),
            (a, b) => {
                let show =
                    |l: Option<&str>| l.map_or("end of file".to_string(), |l| format!("`{l}`"));
                return format!("line {n}: committed {}, generated {}", show(a), show(b));
            }
        }
    }
    unreachable!()
}

/// `completions/` and `man/` hold exactly what `docs_gen::write_all` generates now (or, with
/// WEBLOCK_REGENERATE=1, are rewritten to).
#[test]
fn committed_completions_and_man_pages_are_up_to_date() {
    if std::env::var_os(REGENERATE).is_some_and(|v| v == "1") {
        let written: BTreeSet<PathBuf> = docs_gen::write_all(repo())
            .expect("write the generated files into the repository")
            .into_iter()
            .collect();
        for stale in files_under(repo()).difference(&written) {
            fs::remove_file(repo().join(stale)).expect("remove a file no longer generated");
            eprintln!("removed {}", stale.display());
        }
        eprintln!("wrote {} files into completions/ and man/", written.len());
        return;
    }

    let tmp = TempDir::new();
    let generated: BTreeSet<PathBuf> = docs_gen::write_all(&tmp.0)
        .expect("write the generated files into a temporary directory")
        .into_iter()
        .collect();
    let mut problems = Vec::new();
    for path in &generated {
        let fresh = fs::read(tmp.0.join(path)).expect("read a generated file");
        match fs::read(repo().join(path)) {
            Ok(committed) if committed == fresh => {}
            Ok(committed) => problems.push(format!(
                "  {} is stale ({})",
                path.display(),
                first_difference(&committed, &fresh)
            )),
            Err(_) => problems.push(format!("  {} is missing", path.display())),
        }
    }
    for extra in files_under(repo()).difference(&generated) {
        problems.push(format!(
            "  {} is not generated any more (a command that is gone?)",
            extra.display()
        ));
    }
    assert!(
        problems.is_empty(),
        "completions/ and man/ are not what the clap definition (src/cli/args.rs) generates now:\n{}\n\n{HOW_TO_REGENERATE}",
        problems.join("\n")
    );
}

/// Two runs give the same bytes: no date, no path, nothing from the environment.
#[test]
fn generation_is_deterministic() {
    assert!(docs_gen::files() == docs_gen::files());
    for (path, contents) in docs_gen::files() {
        let text = String::from_utf8(contents).expect("generated files are UTF-8");
        assert!(
            !text.contains(env!("CARGO_MANIFEST_DIR")),
            "{} names this checkout's path",
            path.display()
        );
    }
}

/// `weblock completions SHELL` prints that shell's script (the one `completions/` holds), and nothing
/// else; an unknown shell is a usage error.
#[test]
fn completions_command_prints_the_script() {
    let bin = env!("CARGO_BIN_EXE_weblock");
    for (shell, arg) in SHELLS
        .into_iter()
        .zip(["bash", "zsh", "fish", "powershell", "elvish"])
    {
        let out = Command::new(bin)
            .args(["completions", arg])
            .env_remove("WEBLOCK_URL")
            .output()
            .expect("run weblock completions");
        assert_eq!(out.status.code(), Some(0), "weblock completions {arg}");
        assert!(
            out.stderr.is_empty(),
            "weblock completions {arg} wrote to stderr"
        );
        assert!(
            out.stdout == docs_gen::completion(shell),
            "weblock completions {arg} is not the generated script"
        );
    }
    let out = Command::new(bin)
        .args(["completions", "tcsh"])
        .output()
        .expect("run weblock completions");
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    assert!(out.stdout.is_empty());
}

/// Every command in the clap tree, depth first, and whether it is hidden (itself or a command above
/// it). Built, so nested commands have their display names (`weblock-gate-enter`).
fn all_commands() -> Vec<(clap::Command, bool)> {
    fn walk(cmd: &clap::Command, hidden_above: bool, out: &mut Vec<(clap::Command, bool)>) {
        let hidden = hidden_above || cmd.is_hide_set();
        out.push((cmd.clone(), hidden));
        for sub in cmd.get_subcommands() {
            walk(sub, hidden, out);
        }
    }
    let mut root = docs_gen::command().disable_help_subcommand(true);
    root.build();
    let mut out = Vec::new();
    walk(&root, false, &mut out);
    out
}

/// Whether `word` occurs in `text` as a whole name: not inside a longer one (`grab` is not in
/// `wait-grab`), though dashes may lead it (`--ttl` holds `ttl`).
fn has_word(text: &str, word: &str) -> bool {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].trim_end_matches('-').chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_name) && !after.is_some_and(|c| is_name(c) || c == '-')
    })
}

/// Every script offers every visible subcommand and option, and none that is hidden (clap_complete
/// itself would offer hidden ones: a hidden command needs keeping out of the scripts by hand).
#[test]
fn completions_offer_visible_commands_and_no_hidden_one() {
    let commands = all_commands();
    let visible_names: BTreeSet<&str> = commands
        .iter()
        .skip(1)
        .filter(|(_, hidden)| !hidden)
        .map(|(c, _)| c.get_name())
        .collect();
    let hidden_names: BTreeSet<&str> = commands
        .iter()
        .filter(|(_, hidden)| *hidden)
        .map(|(c, _)| c.get_name())
        .filter(|name| !visible_names.contains(name))
        .collect();
    let longs = |hidden: bool| -> BTreeSet<String> {
        commands
            .iter()
            .flat_map(|(c, hidden_cmd)| c.get_arguments().map(move |a| (a, *hidden_cmd)))
            .filter(|(a, hidden_cmd)| (a.is_hide_set() || *hidden_cmd) == hidden)
            .map(|(a, _)| a)
            .filter_map(|a| a.get_long().map(str::to_string))
            .collect()
    };
    let (visible_longs, hidden_longs) = (longs(false), longs(true));
    assert!(visible_names.contains("completions") && visible_names.contains("enter"));

    for shell in SHELLS {
        let script = String::from_utf8(docs_gen::completion(shell)).expect("UTF-8 script");
        for name in &visible_names {
            assert!(has_word(&script, name), "{shell} completion lacks `{name}`");
        }
        for long in visible_longs.iter().filter(|l| !hidden_longs.contains(*l)) {
            assert!(
                script.contains(long.as_str()),
                "{shell} completion lacks {long}"
            );
        }
        for name in &hidden_names {
            assert!(
                !has_word(&script, name),
                "{shell} completion offers the hidden command `{name}`"
            );
        }
        for long in hidden_longs.iter().filter(|l| !visible_longs.contains(*l)) {
            assert!(
                !has_word(&script, long),
                "{shell} completion offers the hidden option --{long}"
            );
        }
    }
}

/// A man page's text with roff's escapes for `-` and `'` undone.
fn unescape(page: &[u8]) -> String {
    String::from_utf8_lossy(page)
        .replace("\\-", "-")
        .replace("\\*(Aq", "'")
}

/// One page per visible command, nested ones included; weblock.1 lists the subcommands; each page has
/// its `after_help` text, every word of it, in EXAMPLES / EXIT STATUS / ENVIRONMENT; no dates.
#[test]
fn man_pages_cover_every_command_and_its_after_help() {
    let pages = docs_gen::man_pages();
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    for must in [
        "weblock.1",
        "weblock-serve.1",
        "weblock-grab.1",
        "weblock-gate.1",
        "weblock-gate-enter.1",
        "weblock-wait-grab.1",
        "weblock-completions.1",
    ] {
        assert!(names.contains(&must), "no {must} among {names:?}");
    }

    let version = env!("CARGO_PKG_VERSION");
    let commands = all_commands();
    let visible: Vec<&clap::Command> = commands
        .iter()
        .filter(|(_, hidden)| !hidden)
        .map(|(c, _)| c)
        .collect();
    assert_eq!(pages.len(), visible.len(), "one page per visible command");

    for cmd in visible {
        let name = cmd.get_display_name().unwrap_or(cmd.get_name());
        let (_, page) = pages
            .iter()
            .find(|(n, _)| *n == format!("{name}.1"))
            .unwrap_or_else(|| panic!("no page for {name}"));
        let text = unescape(page);
        let th = format!(".TH {name} 1 \"\" \"weblock {version}\" \"User Commands\"\n");
        assert!(text.contains(&th), "{name}.1 has no dateless header {th:?}");
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let reference = format!("{name}-{}(1)", sub.get_name());
            assert!(
                text.contains(&reference),
                "{name}.1 does not list {reference}"
            );
        }
        let Some(after) = cmd.get_after_help().map(|a| a.to_string()) else {
            continue;
        };
        // Titles ("Examples:") become section names; every other word is kept.
        let body = after
            .lines()
            .filter(|l| l.starts_with(' ') || !l.ends_with(':'))
            .collect::<Vec<_>>()
            .join("\n");
        for word in body.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
            assert!(
                word.is_empty() || text.contains(word),
                "{name}.1 lost `{word}` of its after_help"
            );
        }
        for (title, section) in [
            ("Example", ".SH EXAMPLES\n"),
            ("Exit codes:", ".SH \"EXIT STATUS\"\n"),
            ("Environment:", ".SH ENVIRONMENT\n"),
        ] {
            if after.contains(title) {
                assert!(text.contains(section), "{name}.1 has no {section:?}");
            }
        }
        assert!(
            !text.contains(".SH EXTRA"),
            "{name}.1 kept clap_mangen's EXTRA"
        );
    }
}

/// `--help` of every visible subcommand shows an example, its exit codes and its environment.
#[test]
fn every_subcommands_help_has_an_example_exit_codes_and_environment() {
    for (cmd, hidden) in all_commands().iter().skip(1) {
        if *hidden {
            continue;
        }
        let name = cmd.get_display_name().unwrap_or(cmd.get_name());
        let after = cmd
            .get_after_help()
            .map(|a| a.to_string())
            .unwrap_or_default();
        for title in ["Example", "Exit codes:\n  0  ", "Environment:\n  "] {
            assert!(
                after.contains(title),
                "{name} --help lacks {title:?}: {after}"
            );
        }
    }
}
