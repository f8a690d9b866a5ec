//! Writes the man page `rsetkey.8` and the bash, zsh and fish completions
//! from the flag table (`rsetkey::cli::command`) into `deploy/`, where the
//! Debian package takes them from:
//!
//!     cargo run --example gen-docs [DIR]
//!
//! An example rather than an `xtask` crate or a feature-gated binary:
//! examples build with the dev-dependencies, so clap_mangen and
//! clap_complete never reach the installed binary or its users' builds,
//! and the repository stays a single crate. `tests/packaging.rs` includes
//! this file, regenerates into a scratch directory and fails when the
//! committed files drifted.

use std::io;
use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// The hand-written sections of the man page (roff), after OPTIONS.
pub const MAN_SECTIONS: &str = include_str!("../deploy/man/sections.roff");

/// The generated files, relative to the output directory.
pub const GENERATED: [&str; 4] = [
    "man/rsetkey.8",
    "completions/rsetkey.bash",
    "completions/_rsetkey",
    "completions/rsetkey.fish",
];

/// The man page: clap's title, NAME, SYNOPSIS, DESCRIPTION and OPTIONS, the
/// hand-written sections, then VERSION.
pub fn man_page() -> io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(rsetkey::cli::command())
        .section("8")
        .manual("System Manager's Manual")
        // a fixed date keeps the page reproducible
        .date("2026-12-05");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    page.extend_from_slice(synopsis(&rsetkey::cli::command()).as_bytes());
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    page.extend_from_slice(MAN_SECTIONS.as_bytes());
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// SYNOPSIS, one bracketed word per option of the flag table: clap_mangen's
/// own writes `[-a ]` and leaves out the value of `-f`.
fn synopsis(command: &clap::Command) -> String {
    let roff = |text: &str| text.replace('-', "\\-");
    let mut words = Vec::new();
    for arg in command.get_arguments() {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(short), _) => format!("\\fB\\-{short}\\fR"),
            (None, Some(long)) => format!("\\fB{}\\fR", roff(&format!("--{long}"))),
            (None, None) => continue,
        };
        let value = if !arg.get_action().takes_values() {
            String::new()
        } else if !arg.get_possible_values().is_empty() {
            let values: Vec<_> = arg
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect();
            format!(" \\fI{}\\fR", values.join("|"))
        } else {
            let name = arg
                .get_value_names()
                .and_then(|n| n.first())
                .map_or("VALUE", |n| n.as_str());
            format!(" \\fI{name}\\fR")
        };
        // `\%`: no hyphenation inside an option
        words.push(format!("\\%[{flag}{value}]"));
    }
    for arg in command.get_positionals() {
        let name = arg
            .get_value_names()
            .and_then(|n| n.first())
            .map_or("ARG", |n| n.as_str());
        words.push(format!("[\\fI{name}\\fR ...]"));
    }
    let mut text = format!(
        ".SH SYNOPSIS\n.B {}\n{}\n",
        command.get_name(),
        words.join("\n")
    );
    // the commands for many hosts, one line each
    for sub in command.get_subcommands() {
        let mut words = vec![format!("\\fB{}\\fR", sub.get_name())];
        for arg in sub.get_arguments().filter(|a| !a.is_positional()) {
            let Some(long) = arg.get_long().filter(|l| *l != "help") else {
                continue;
            };
            let value = arg
                .get_value_names()
                .and_then(|n| n.first())
                .filter(|_| arg.get_action().takes_values())
                .map(|n| format!(" \\fI{n}\\fR"))
                .unwrap_or_default();
            let flag = format!("\\fB{}\\fR{value}", roff(&format!("--{long}")));
            words.push(if arg.is_required_set() {
                flag
            } else {
                format!("\\%[{flag}]")
            });
        }
        for arg in sub.get_positionals() {
            let name = arg
                .get_value_names()
                .and_then(|n| n.first())
                .map_or("ARG", |n| n.as_str());
            words.push(format!("\\fI{name}\\fR"));
        }
        text.push_str(&format!(
            ".br\n.B {}\n{}\n",
            command.get_name(),
            words.join("\n")
        ));
    }
    text
}

/// The completion script for `shell`.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut rsetkey::cli::command(), "rsetkey", &mut script);
    script
}

/// Writes every generated file under `dir`.
pub fn generate(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir.join("man"))?;
    std::fs::create_dir_all(dir.join("completions"))?;
    std::fs::write(dir.join(GENERATED[0]), man_page()?)?;
    std::fs::write(dir.join(GENERATED[1]), completion(Shell::Bash))?;
    std::fs::write(dir.join(GENERATED[2]), completion(Shell::Zsh))?;
    std::fs::write(dir.join(GENERATED[3]), completion(Shell::Fish))?;
    Ok(())
}

#[allow(dead_code)] // the drift test includes this file without its main
fn main() -> io::Result<()> {
    let dir = std::env::args_os().nth(1).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy"),
        PathBuf::from,
    );
    generate(&dir)?;
    for file in GENERATED {
        println!("{}", dir.join(file).display());
    }
    Ok(())
}
