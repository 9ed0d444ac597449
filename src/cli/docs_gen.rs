//! Shell completions and man pages, generated from the one clap definition in `args.rs`.
//!
//! `weblock completions SHELL` prints a completion script; the repository commits every script under
//! `completions/` and every man page under `man/`, and `tests/generated_docs.rs` fails when those files
//! differ from what this module generates now (`WEBLOCK_REGENERATE=1 cargo test --test main -- generated_docs::`
//! rewrites them). Output is deterministic: no dates, no paths, nothing from the environment.
//!
//! Man pages are clap_mangen's, except for the `after_help` text: clap_mangen prints it as it is under
//! one "EXTRA" heading. Here each titled paragraph of it ("Examples:", "Exit codes:", "Environment:")
//! becomes the man-page section a reader looks for (EXAMPLES, EXIT STATUS, ENVIRONMENT), and untitled
//! paragraphs join the DESCRIPTION. The header has no date and names "weblock VERSION" as the source.
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap_complete::{Generator, Shell};
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

/// The binary's name, as completions and man pages call it.
pub const BIN: &str = "weblock";
/// Where the completion scripts live, relative to the repository (or `write_all`'s directory).
pub const COMPLETIONS_DIR: &str = "completions";
/// Where the man pages live, relative to the repository (or `write_all`'s directory).
pub const MAN_DIR: &str = "man";
/// Every shell a script is generated for.
pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::PowerShell,
    Shell::Elvish,
];

/// The whole command line, as clap builds it from `args.rs`.
pub fn command() -> clap::Command {
    super::args::command()
}

/// The completion script for `shell`, as `weblock completions SHELL` prints it.
pub fn completion(shell: Shell) -> Vec<u8> {
    completion_for(command(), shell)
}

/// The completion script of any command line (the tests use it on a variant of weblock's).
pub fn completion_for(mut cmd: clap::Command, shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut script);
    match shell {
        Shell::Bash => script.extend_from_slice(include_bytes!("completion/extra.bash")),
        Shell::Fish => script.extend_from_slice(include_bytes!("completion/extra.fish")),
        Shell::Zsh => return zsh_extras(&String::from_utf8_lossy(&script)).into_bytes(),
        _ => {}
    }
    script
}

/// What clap's zsh script lacks: names from the server where a lock, gate or service is named,
/// options after NAME (its `*::command` spec took every later word as the command's, so `wait-grab
/// db --<TAB>` offered nothing), and the command after `--` (handled before `_arguments` sees it).
fn zsh_extras(script: &str) -> String {
    let mut out = String::with_capacity(script.len() + 2048);
    let mut dashdash_done = false;
    for line in script.lines() {
        if line.starts_with("'*::command -- ") {
            continue;
        }
        if line.starts_with("if [ \"$funcstack[1]\" = \"_weblock\" ]") {
            out.push_str(include_str!("completion/extra.zsh"));
        }
        // `':name` is a required NAME, `'::name` an optional one (`status [NAME]`).
        let positional = line
            .strip_prefix("'::")
            .or_else(|| line.strip_prefix("':"))
            .unwrap_or("");
        let line = if positional.starts_with("name -- A lock, or a gate") {
            line.replace(":_default'", ":_weblock_locks_and_gates'")
        } else if positional.starts_with("name -- ") {
            line.replace(":_default'", ":_weblock_locks'")
        } else if positional.starts_with("service") {
            line.replace(":_default'", ":_weblock_services'")
        } else if line.starts_with("'*::gates -- ") {
            line.replacen("'*::gates", "'*:gates", 1)
                .replace(":_default'", ":_weblock_gates'")
        } else {
            line.to_string()
        };
        out.push_str(&line);
        out.push('\n');
        if !dashdash_done && line.trim() == "typeset -A opt_args" {
            out.push_str(include_str!("completion/dashdash.zsh"));
            dashdash_done = true;
        }
    }
    out
}

/// The file a shell's script is kept in: `weblock.bash`, `_weblock`, `weblock.fish`, `_weblock.ps1`,
/// `weblock.elv`.
pub fn completion_file_name(shell: Shell) -> String {
    shell.file_name(BIN)
}

/// Every man page: `weblock.1`, then one per visible subcommand, nested ones included
/// (`weblock-gate-enter.1`), as (file name, roff source).
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    man_pages_for(command())
}

/// The man pages of any command line.
pub fn man_pages_for(cmd: clap::Command) -> Vec<(String, Vec<u8>)> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let source = format!("{} {}", BIN, cmd.get_version().unwrap_or_default());
    let mut pages = Vec::new();
    add_pages(&cmd, &[], &source, &mut pages);
    pages
}

/// Every generated file, as (path relative to the repository, contents), completions first.
pub fn files() -> Vec<(PathBuf, Vec<u8>)> {
    let completions = SHELLS.iter().map(|&shell| {
        let path = Path::new(COMPLETIONS_DIR).join(completion_file_name(shell));
        (path, completion(shell))
    });
    let man = man_pages()
        .into_iter()
        .map(|(name, page)| (Path::new(MAN_DIR).join(name), page));
    completions.chain(man).collect()
}

/// Writes every generated file under `dir` (`dir/completions/…`, `dir/man/…`), creating the two
/// directories if need be, and returns the relative paths it wrote.
pub fn write_all(dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir.join(COMPLETIONS_DIR))?;
    std::fs::create_dir_all(dir.join(MAN_DIR))?;
    let mut written = Vec::new();
    for (path, contents) in files() {
        std::fs::write(dir.join(&path), contents)?;
        written.push(path);
    }
    Ok(written)
}

/// The page of `cmd`, then those of its visible subcommands; `parents` are the display names of the
/// commands above it (for SEE ALSO).
fn add_pages(
    cmd: &clap::Command,
    parents: &[String],
    source: &str,
    pages: &mut Vec<(String, Vec<u8>)>,
) {
    let name = display_name(cmd);
    pages.push((format!("{name}.1"), man_page(cmd, parents, source)));
    let mut above = parents.to_vec();
    above.push(name);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        add_pages(sub, &above, source, pages);
    }
}

fn display_name(cmd: &clap::Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string()
}

/// One man page: clap_mangen's rendering of `cmd` without its `after_help`, followed by that text as
/// proper sections, and SEE ALSO.
fn man_page(cmd: &clap::Command, parents: &[String], source: &str) -> Vec<u8> {
    let after = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(|text| AfterHelp::parse(&text.to_string()))
        .unwrap_or_default();

    let mut page = cmd.clone().after_help(None).after_long_help(None);
    if !after.prose.is_empty() {
        let about = cmd
            .get_long_about()
            .or_else(|| cmd.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        let description = std::iter::once(about)
            .chain(after.prose.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n\n");
        page = page.long_about(description);
    }

    let mut out = Vec::new();
    Man::new(page)
        // An empty date, quoted so that .TH keeps its place: no date, so every run gives the same bytes.
        .date("\"\"")
        .source(source)
        .manual("User Commands")
        .render(&mut out)
        .expect("writing to a Vec cannot fail");

    let mut extra = Roff::new();
    after.render(&mut extra);
    if !parents.is_empty() {
        extra.control("SH", ["SEE ALSO"]);
        let mut refs = Vec::new();
        for (i, parent) in parents.iter().enumerate() {
            if i > 0 {
                refs.push(roman(", "));
            }
            refs.push(bold(parent.as_str()));
            refs.push(roman("(1)"));
        }
        extra.text(refs);
    }
    // Roff::render starts with a preamble that clap_mangen's output already has: drop it.
    let preamble_len = Roff::new().render().len();
    out.write_all(&extra.render().as_bytes()[preamble_len..])
        .expect("writing to a Vec cannot fail");
    out
}

/// A command's `after_help`, split into its untitled paragraphs and its titled sections.
#[derive(Default)]
struct AfterHelp {
    /// Paragraphs without a title: they go to DESCRIPTION, one line each.
    prose: Vec<String>,
    /// (man-page section title, lines without their common indentation).
    sections: Vec<(String, Vec<String>)>,
}

impl AfterHelp {
    fn parse(text: &str) -> AfterHelp {
        let mut after = AfterHelp::default();
        for paragraph in text.split("\n\n") {
            let lines: Vec<&str> = paragraph.lines().filter(|l| !l.trim().is_empty()).collect();
            let Some((&first, rest)) = lines.split_first() else {
                continue;
            };
            let titled = first.ends_with(':')
                && !first.starts_with(char::is_whitespace)
                && !rest.is_empty()
                && rest.iter().all(|l| l.starts_with(char::is_whitespace));
            if !titled {
                let joined = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
                after.prose.push(joined);
                continue;
            }
            let title = match first.trim_end_matches(':') {
                "Example" | "Examples" => "EXAMPLES".to_string(),
                "Exit codes" | "Exit status" => "EXIT STATUS".to_string(),
                "Environment" => "ENVIRONMENT".to_string(),
                other => other.to_uppercase(),
            };
            let indent = rest
                .iter()
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            let body = rest.iter().map(|l| l[indent..].trim_end().to_string());
            match after.sections.iter_mut().find(|(t, _)| *t == title) {
                Some((_, lines)) => lines.extend(body),
                None => after.sections.push((title, body.collect())),
            }
        }
        // In man-pages(7)'s order, after OPTIONS; other titles between ENVIRONMENT and EXAMPLES, in
        // the order they come (the sort is stable).
        after
            .sections
            .sort_by_key(|(title, _)| match title.as_str() {
                "EXIT STATUS" => 0,
                "ENVIRONMENT" => 1,
                "EXAMPLES" => 3,
                _ => 2,
            });
        after
    }

    fn render(&self, roff: &mut Roff) {
        for (title, lines) in &self.sections {
            roff.control("SH", [title.as_str()]);
            let table: Option<Vec<(&str, &str)>> = if title == "EXAMPLES" {
                None
            } else {
                lines.iter().map(|l| split_term(l)).collect()
            };
            match table {
                // "  0  done", "  WEBLOCK_URL  the server": a term and its meaning.
                Some(rows) => {
                    for (term, meaning) in rows {
                        roff.control("TP", []);
                        roff.text([bold(term)]);
                        roff.text([roman(meaning)]);
                    }
                }
                // Commands, one a line, as they are typed.
                None => {
                    roff.control("RS", ["4"]);
                    roff.control("nf", []);
                    for line in lines {
                        roff.text([roman(line.as_str())]);
                    }
                    roff.control("fi", []);
                    roff.control("RE", []);
                }
            }
        }
    }
}

/// "TERM  meaning" (two or more spaces between them) as (TERM, meaning).
fn split_term(line: &str) -> Option<(&str, &str)> {
    let (term, meaning) = line.split_once("  ")?;
    let meaning = meaning.trim_start();
    (!term.is_empty() && !term.contains(' ') && !meaning.is_empty()).then_some((term, meaning))
}
