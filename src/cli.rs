//! The command line, setkey's way: the same flags, the same modes, the same
//! messages and exit statuses. This is the one table of options (help and
//! usage read it); what each mode does is in [`crate::mode`].
//!
//! Deliberate differences (each listed in the README): `-f` validates the
//! whole script before it sends anything, replies are matched to their
//! requests, `deleteall` deletes every match, and `--strict` turns kernel
//! errors into a non-zero exit status.

use std::ffi::OsString;
use std::path::Path;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};

use crate::mode::context::{Backend, Context, Flags};
use crate::mode::{dump, flush, monitor, raw, script};
use crate::output;

/// rsetkey's command line (setkey's flags, plus long options of its own).
#[derive(Debug, Parser)]
#[command(
    name = "rsetkey",
    disable_help_flag = true,
    disable_version_flag = true,
    // getopt's way: a flag may come again (`-vv`, `-n -n`), the last
    // value of -f counts.
    args_override_self = true,
    about = "Manually keyed IPsec: load and dump the kernel's SAD and SPD"
)]
struct Args {
    /// With -D: also show dead SAs.
    #[arg(short = 'a')]
    all: bool,
    /// Read statements from standard input and run each as soon as it is read.
    #[arg(short = 'c')]
    commands: bool,
    /// Accepted and ignored, like setkey.
    #[arg(short = 'd')]
    debug: bool,
    /// Run the statements of FILE (`-` for standard input).
    #[arg(short = 'f', value_name = "FILE")]
    file: Option<OsString>,
    /// Hex-dump messages.
    #[arg(short = 'H')]
    hex: bool,
    /// With -D: repeat every second.
    #[arg(short = 'l')]
    repeat: bool,
    /// Parse and check only; send nothing.
    #[arg(short = 'n')]
    no_action: bool,
    /// Decode every message sent and received.
    #[arg(short = 'v')]
    verbose: bool,
    /// Monitor every PF_KEY message (twice: raw timestamps).
    #[arg(short = 'x', action = ArgAction::Count)]
    monitor: u8,
    /// Dump the SAD (with -P: the SPD).
    #[arg(short = 'D')]
    dump: bool,
    /// Flush the SAD (with -P: the SPD).
    #[arg(short = 'F')]
    flush: bool,
    /// With -D / -F: the SPD instead of the SAD.
    #[arg(short = 'P')]
    policy: bool,
    /// Show ports in dumps.
    #[arg(short = 'p')]
    ports: bool,
    /// With -DP: hide per-socket policies.
    #[arg(short = 'N')]
    hide_socket_policies: bool,
    /// Print usage.
    #[arg(short = 'h', short_alias = '?')]
    help: bool,
    /// Print the version.
    #[arg(short = 'V')]
    version: bool,
    /// RFC semantics (default): an `in` policy also installs its `fwd` twin.
    #[arg(short = 'r', overrides_with = "kernel")]
    rfc: bool,
    /// Kernel semantics: no automatic `fwd` policy.
    #[arg(short = 'k', overrides_with = "rfc")]
    kernel: bool,
    /// Exit with status 1 when the kernel refuses any statement (setkey
    /// reports the error and exits 0).
    #[arg(long)]
    strict: bool,
    /// With -f: apply the whole script or nothing. The script is tried in
    /// a scratch network namespace holding a copy of the SAD and SPD
    /// first; a refusal, or SIGINT/SIGTERM/SIGHUP during the real run,
    /// restores the databases as they were, and the exit status is not 0.
    #[arg(long)]
    atomic: bool,
    /// Show key material in -v output (masked by default).
    #[arg(long)]
    show_keys: bool,
    /// Do not warn (on stderr) when the -f script holds keys and group or
    /// others may read or write it, or when anyone may change it.
    #[arg(long)]
    no_warn_permissions: bool,
    /// Do not print lints (on stderr): advice about weak algorithms,
    /// replay windows and policies no SA of the script can satisfy.
    #[arg(long)]
    no_lint: bool,
    /// Which kernel interface to use: PF_KEY when the kernel has it, else
    /// XFRM netlink (auto); or one of them.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,
    /// Files of raw PF_KEY messages to print as dumps would.
    #[arg(value_name = "FILE")]
    files: Vec<OsString>,
}

const USAGE: &str = "usage: setkey [-vrk] file ...
       setkey [-nvrk] -c
       setkey [-nvrk] -f filename
       setkey [-PalpvNrk] -D
       setkey [-Pv] -F
       setkey [-H] -x
       setkey [-V] [-h]
";

/// Runs rsetkey with the given arguments; returns the exit status.
pub fn main(argv: Vec<OsString>) -> i32 {
    let program = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map_or_else(
            || "rsetkey".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
    let parsed = Args::command()
        .try_get_matches_from(&argv)
        .and_then(|m| Args::from_arg_matches(&m).map(|args| (last_mode(&m), args)));
    let (mode, args) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{program}: {}", option_error(&e));
            return usage(&program);
        }
    };
    dispatch(program, args, mode)
}

/// setkey's modes of operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `-f FILE`.
    Script,
    /// `-c`.
    Commands,
    /// `-D`.
    Dump,
    /// `-F`.
    Flush,
    /// `-x`.
    Monitor,
}

/// The mode whose flag came last on the command line: setkey keeps
/// overwriting its mode while it reads options (`-f a.conf -D` dumps).
fn last_mode(m: &clap::ArgMatches) -> Option<Mode> {
    use clap::parser::ValueSource;
    [
        ("file", Mode::Script),
        ("commands", Mode::Commands),
        ("dump", Mode::Dump),
        ("flush", Mode::Flush),
        ("monitor", Mode::Monitor),
    ]
    .into_iter()
    .filter(|(id, _)| m.value_source(id) == Some(ValueSource::CommandLine))
    .filter_map(|(id, mode)| Some((m.indices_of(id)?.max()?, mode)))
    .max_by_key(|(index, _)| *index)
    .map(|(_, mode)| mode)
}

/// What is wrong with the command line, in getopt's words where setkey's
/// getopt would have complained (`invalid option -- 'z'`), else clap's.
fn option_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let letter = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg
            .strip_prefix('-')
            .and_then(|a| a.chars().next())
            .filter(|c| *c != '-'),
        _ => None,
    };
    let missing_value = matches!(
        e.get(ContextKind::InvalidValue),
        Some(ContextValue::String(v)) if v.is_empty()
    );
    match (e.kind(), letter) {
        (ErrorKind::UnknownArgument, Some(c)) => format!("invalid option -- '{c}'"),
        (ErrorKind::InvalidValue, Some(c)) if missing_value => {
            format!("option requires an argument -- '{c}'")
        }
        _ => e.kind().to_string(),
    }
}

/// Prints the usage; the exit status (1, like setkey).
fn usage(program: &str) -> i32 {
    let text = format!(
        "{}\n{}",
        version_line(program),
        USAGE.replace("setkey", program)
    );
    match output::print(&text) {
        Ok(()) => 1,
        Err(e) => output::failure_status(&e),
    }
}

fn version_line(program: &str) -> String {
    format!(
        "{program} @(#) rsetkey {} (setkey compatible)",
        env!("CARGO_PKG_VERSION")
    )
}

/// Runs the mode the command line asked for.
fn dispatch(program: String, args: Args, mode: Option<Mode>) -> i32 {
    if args.help {
        return usage(&program);
    }
    if args.version {
        return match output::print(&format!("{}\n", version_line(&program))) {
            Ok(()) => 1,
            Err(e) => output::failure_status(&e),
        };
    }
    let ctx = Context {
        program,
        flags: Flags {
            all: args.all,
            ports: args.ports,
            hide_socket_policies: args.hide_socket_policies,
            policy: args.policy,
            repeat: args.repeat,
            no_action: args.no_action,
            verbose: args.verbose,
            hex: args.hex,
            monitor: args.monitor,
            kernel_semantics: args.kernel,
            strict: args.strict,
            atomic: args.atomic,
            show_keys: args.show_keys,
            no_warn_permissions: args.no_warn_permissions,
            no_lint: args.no_lint,
            backend: args.backend,
        },
    };
    if args.file.is_some() && !args.files.is_empty() {
        // setkey reads the FILE arguments as raw PF_KEY messages and
        // ignores -f: `-f a.conf b.conf` applied nothing and said nothing.
        ctx.error(
            "-f runs one script, and FILE arguments are not scripts but dumps \
             of raw PF_KEY messages to print; nothing was applied",
        );
        return usage(&ctx.program);
    }
    if !args.files.is_empty() {
        return raw::run(&ctx, &args.files);
    }
    match (mode, &args.file) {
        (Some(Mode::Script), Some(file)) => script::run_file(&ctx, file),
        (Some(Mode::Commands), _) => script::commands(&ctx),
        (Some(Mode::Dump), _) => dump::run(&ctx),
        (Some(Mode::Monitor), _) => monitor::run(&ctx),
        (Some(Mode::Flush), _) => flush::run(&ctx),
        _ => usage(&ctx.program),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arguments and mode of a command line, or clap's error.
    fn parse(line: &[&str]) -> Result<(Option<Mode>, Args), clap::Error> {
        let argv = std::iter::once("rsetkey").chain(line.iter().copied());
        let m = Args::command().try_get_matches_from(argv)?;
        Ok((last_mode(&m), Args::from_arg_matches(&m)?))
    }

    /// What setkey's getopt (`acdf:HlnvxDFPphVrk?`) accepts, rsetkey
    /// accepts with the same meaning: flags repeated and combined.
    #[test]
    fn repeated_and_combined_flags_are_accepted_as_getopt_accepts_them() {
        for line in [
            &["-vv", "-f", "a"][..],
            &["-n", "-n", "-f", "a"],
            &["-nvf", "a"],
            &["-nvfa"],
            &["-DPv"],
            &["-Pd", "-D"],
            &["-D", "-P", "-P", "-a", "-a"],
            &["-HH", "-x"],
        ] {
            assert!(parse(line).is_ok(), "{line:?}");
        }
        let (mode, args) = parse(&["-nvf", "a"]).expect("parses");
        assert_eq!(mode, Some(Mode::Script));
        assert!(args.no_action && args.verbose);
        assert_eq!(args.file, Some(OsString::from("a")));
        // -x counts every occurrence
        let (_, args) = parse(&["-xx", "-x"]).expect("parses");
        assert_eq!(args.monitor, 3);
        // the last -f names the script
        let (_, args) = parse(&["-f", "a", "-f", "b"]).expect("parses");
        assert_eq!(args.file, Some(OsString::from("b")));
    }

    /// -r and -k set one switch: the last one counts, as in setkey.
    #[test]
    fn the_last_of_r_and_k_wins() {
        let (_, args) = parse(&["-k", "-r", "-D"]).expect("parses");
        assert!(!args.kernel);
        let (_, args) = parse(&["-r", "-k", "-D"]).expect("parses");
        assert!(args.kernel);
    }

    /// Mode flags overwrite one another: the last one counts.
    #[test]
    fn the_last_mode_flag_wins() {
        let cases: [(&[&str], Mode); 4] = [
            (&["-f", "a", "-D"], Mode::Dump),
            (&["-D", "-f", "a"], Mode::Script),
            (&["-c", "-F"], Mode::Flush),
            (&["-Dx", "-c"], Mode::Commands),
        ];
        for (line, mode) in cases {
            assert_eq!(
                parse(line).ok().and_then(|(m, _)| m),
                Some(mode),
                "{line:?}"
            );
        }
    }

    /// What getopt rejects stays a usage error, in getopt's words.
    #[test]
    fn what_getopt_rejects_stays_an_error() {
        let unknown = parse(&["-z"]).expect_err("unknown option");
        assert_eq!(option_error(&unknown), "invalid option -- 'z'");
        let missing = parse(&["-f"]).expect_err("missing argument");
        assert_eq!(option_error(&missing), "option requires an argument -- 'f'");
    }
}
