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
use crate::mode::{dump, fleet, flush, monitor, raw, script};
use crate::output;

// The groups of `--help` and of the man page's OPTIONS, as in the README's
// table of options.
const MODES: &str = "Modes";
const DUMP_OPTIONS: &str = "Dump options";
const SCRIPT_OPTIONS: &str = "Script options";
const TRACING: &str = "Tracing";
const WARNINGS: &str = "Warnings";

/// rsetkey's command line (setkey's flags, plus long options of its own).
#[derive(Debug, Parser)]
#[command(
    name = "rsetkey",
    version,
    disable_help_flag = true,
    disable_version_flag = true,
    // getopt's way: a flag may come again (`-vv`, `-n -n`), the last
    // value of -f counts.
    args_override_self = true,
    about = "Manually keyed IPsec: load and dump the kernel's SAD and SPD",
    long_about = "Manually keyed IPsec: load and dump the kernel's SAD and SPD. \
        rsetkey is setkey(8) of ipsec-tools for Linux: the same flags, script \
        dialect and dump output, over PF_KEY v2 or XFRM netlink.",
    term_width = 80
)]
struct Args {
    /// Run the statements of FILE (`-` for standard input).
    #[arg(short = 'f', value_name = "FILE", help_heading = MODES)]
    file: Option<OsString>,
    /// Read statements from standard input and run each as soon as it is read.
    #[arg(short = 'c', help_heading = MODES)]
    commands: bool,
    /// Dump the SAD (with -P: the SPD).
    #[arg(short = 'D', help_heading = MODES)]
    dump: bool,
    /// Flush the SAD (with -P: the SPD).
    #[arg(short = 'F', help_heading = MODES)]
    flush: bool,
    /// Monitor every PF_KEY message (twice: raw timestamps).
    #[arg(short = 'x', action = ArgAction::Count, help_heading = MODES)]
    monitor: u8,
    /// Files of raw PF_KEY messages to print as dumps would.
    #[arg(value_name = "FILE", help_heading = MODES)]
    files: Vec<OsString>,
    /// Print setkey's short usage, and exit 1.
    #[arg(short = 'h', short_alias = '?', help_heading = MODES)]
    help: bool,
    /// Print the version, and exit 1.
    #[arg(short = 'V', help_heading = MODES)]
    version: bool,
    /// Print every option, and exit 0.
    #[arg(long = "help", action = ArgAction::Help, help_heading = MODES)]
    long_help: Option<bool>,
    /// Print `rsetkey X.Y.Z`, and exit 0.
    #[arg(long = "version", action = ArgAction::Version, help_heading = MODES)]
    long_version: Option<bool>,
    /// With -D / -F: the SPD instead of the SAD.
    #[arg(short = 'P', help_heading = DUMP_OPTIONS)]
    policy: bool,
    /// With -D: also show dead SAs.
    #[arg(short = 'a', help_heading = DUMP_OPTIONS)]
    all: bool,
    /// Show ports in dumps.
    #[arg(short = 'p', help_heading = DUMP_OPTIONS)]
    ports: bool,
    /// With -DP: hide per-socket policies.
    #[arg(short = 'N', help_heading = DUMP_OPTIONS)]
    hide_socket_policies: bool,
    /// With -D: repeat every second.
    #[arg(short = 'l', help_heading = DUMP_OPTIONS)]
    repeat: bool,
    /// With -D: print key bytes as `*`, in setkey's layout.
    #[arg(long, help_heading = DUMP_OPTIONS)]
    no_keys: bool,
    // --- structured dumps (JSON for programs, scripts for rsetkey -f) ---
    /// With -D / -DP: print one JSON array of SAs or policies (schema in
    /// the README; keys only with --show-keys); with -x: one JSON object
    /// per event and line.
    #[arg(long, help_heading = DUMP_OPTIONS)]
    json: bool,
    /// With -D / -DP: print statements that rebuild what is dumped (keys
    /// included) for rsetkey -f.
    #[arg(long, help_heading = DUMP_OPTIONS)]
    as_script: bool,
    // --- end of structured dumps ---
    /// Parse and check only; send nothing.
    #[arg(short = 'n', help_heading = SCRIPT_OPTIONS)]
    no_action: bool,
    /// RFC semantics (default): an `in` policy also installs its `fwd` twin.
    #[arg(short = 'r', overrides_with = "kernel", help_heading = SCRIPT_OPTIONS)]
    rfc: bool,
    /// Kernel semantics: no automatic `fwd` policy.
    #[arg(short = 'k', overrides_with = "rfc", help_heading = SCRIPT_OPTIONS)]
    kernel: bool,
    /// Exit with status 1 when the kernel refuses any statement (setkey
    /// reports the error and exits 0).
    #[arg(long, help_heading = SCRIPT_OPTIONS)]
    strict: bool,
    /// With -f: apply the whole script or nothing. The script is tried in
    /// a scratch network namespace holding a copy of the SAD and SPD
    /// first; a refusal, or SIGINT/SIGTERM/SIGHUP during the real run,
    /// restores the databases as they were, and the exit status is not 0.
    #[arg(long, help_heading = SCRIPT_OPTIONS)]
    atomic: bool,
    /// Which kernel interface to use: PF_KEY when the kernel has it, else
    /// XFRM netlink (auto); or one of them.
    #[arg(long, value_enum, default_value_t = Backend::Auto, help_heading = SCRIPT_OPTIONS)]
    backend: Backend,
    /// Decode every message sent and received.
    #[arg(short = 'v', help_heading = TRACING)]
    verbose: bool,
    /// Hex-dump messages.
    #[arg(short = 'H', help_heading = TRACING)]
    hex: bool,
    /// Show key material in -v output (masked by default) and in --json.
    #[arg(long, help_heading = TRACING)]
    show_keys: bool,
    /// Accepted and ignored, like setkey.
    #[arg(short = 'd', help_heading = TRACING)]
    debug: bool,
    /// Do not print lints (on stderr): advice about weak algorithms,
    /// replay windows and policies no SA of the script can satisfy.
    #[arg(long, help_heading = WARNINGS)]
    no_lint: bool,
    /// Do not warn (on stderr) when the -f script holds keys and group or
    /// others may read or write it, or when anyone may change it.
    #[arg(long, help_heading = WARNINGS)]
    no_warn_permissions: bool,
}

// rsetkey's commands for many hosts (`check`, `mirror`, `generate`):
// recognised as the first argument only, and only under the name
// `rsetkey`; started as `setkey`, every argument stays a FILE of raw
// PF_KEY messages, as in setkey (a file named `check` is `./check`).

// The commands for many hosts. (No doc comment: clap would make it the
// description of the whole command line.)
#[derive(Debug, clap::Subcommand)]
enum FleetCommand {
    /// Check that two hosts' scripts agree: the same SAs, mirrored
    /// policies, an SA for every required request (parse only, no
    /// kernel). Exit status 0 when they agree, 1 otherwise.
    Check {
        /// One host's script.
        #[arg(value_name = "A")]
        a: OsString,
        /// The other host's script.
        #[arg(value_name = "B")]
        b: OsString,
        /// Print the mismatches as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print the peer's script for a host's script: the same SAs, every
    /// policy mirrored (out on one host is in on the other).
    Mirror {
        /// The host's script.
        #[arg(value_name = "FILE")]
        file: OsString,
        /// The address of the host whose script FILE is.
        #[arg(long, value_name = "ADDR")]
        local: std::net::IpAddr,
    },
    /// Write DIR/HOST.conf (mode 0600) for every host of an inventory,
    /// with fresh keys and unique SPIs.
    Generate {
        /// The inventory (TOML): hosts and links.
        #[arg(value_name = "INVENTORY")]
        inventory: OsString,
        /// The directory to write the scripts to.
        #[arg(long, value_name = "DIR")]
        out: OsString,
        /// Draw keys and SPIs from a generator seeded with N: the same
        /// scripts every time. For tests only: the keys are predictable.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Keep the SPIs of the scripts in DIR, draw new keys.
        #[arg(long)]
        rekey: bool,
        /// With --rekey: draw new SPIs too.
        #[arg(long, requires = "rekey")]
        new_spis: bool,
    },
}

/// The command line of a command for many hosts.
#[derive(Debug, Parser)]
#[command(
    name = "rsetkey",
    version,
    term_width = 80,
    disable_help_subcommand = true
)]
struct FleetArgs {
    #[command(subcommand)]
    command: FleetCommand,
}

/// The names of the commands for many hosts.
const FLEET_COMMANDS: [&str; 3] = ["check", "mirror", "generate"];

/// Whether argv asks for a command for many hosts: its name is the first
/// argument, and the program is not started as `setkey`.
fn is_fleet_command(program: &str, argv: &[OsString]) -> bool {
    program != "setkey"
        && argv
            .get(1)
            .and_then(|a| a.to_str())
            .is_some_and(|a| FLEET_COMMANDS.contains(&a))
}

/// Parses and runs a command for many hosts.
fn run_fleet(program: &str, argv: &[OsString]) -> i32 {
    let args = match FleetArgs::try_parse_from(argv) {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            let _ = e.print();
            return 1;
        }
    };
    match args.command {
        FleetCommand::Check { a, b, json } => fleet::check(program, &a, &b, json),
        FleetCommand::Mirror { file, local } => fleet::mirror(program, &file, local),
        FleetCommand::Generate {
            inventory,
            out,
            seed,
            rekey,
            new_spis,
        } => fleet::generate(program, &inventory, &out, seed, rekey, new_spis),
    }
}

/// The usage lines of the commands for many hosts.
fn fleet_usage(program: &str) -> String {
    let mut text = String::new();
    for sub in FleetArgs::command().get_subcommands() {
        let mut words = vec![sub.get_name().to_string()];
        for arg in sub.get_arguments().filter(|a| !a.is_positional()) {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" {
                continue;
            }
            let value = arg
                .get_value_names()
                .and_then(|n| n.first())
                .filter(|_| arg.get_action().takes_values())
                .map(|n| format!(" {n}"))
                .unwrap_or_default();
            words.push(if arg.is_required_set() {
                format!("--{long}{value}")
            } else {
                format!("[--{long}{value}]")
            });
        }
        for arg in sub.get_positionals() {
            let name = arg
                .get_value_names()
                .and_then(|n| n.first())
                .map_or_else(|| arg.get_id().to_string(), |n| n.to_string());
            words.push(name);
        }
        text.push_str(&format!("       {program} {}\n", words.join(" ")));
    }
    text
}
// (end of the commands for many hosts)

const USAGE: &str = "usage: setkey [-vrk] file ...
       setkey [-nvrk] -c
       setkey [-nvrk] -f filename
       setkey [-PalpvNrk] -D
       setkey [-Pv] -F
       setkey [-H] -x
       setkey [-V] [-h]
";

/// The flag table: what `--help`, the usage text, the man page and the
/// shell completions are made from.
pub fn command() -> clap::Command {
    use clap::Subcommand;
    FleetCommand::augment_subcommands(Args::command()).disable_help_subcommand(true)
}

/// Runs rsetkey with the given arguments; returns the exit status.
pub fn main(argv: Vec<OsString>) -> i32 {
    let program = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map_or_else(
            || "rsetkey".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
    if is_fleet_command(&program, &argv) {
        return run_fleet(&program, &argv);
    }
    let parsed = Args::command()
        .try_get_matches_from(&argv)
        .and_then(|m| Args::from_arg_matches(&m).map(|args| (last_mode(&m), args)));
    let (mode, args) = match parsed {
        Ok(parsed) => parsed,
        // --help and --version: clap prints them on stdout; rsetkey's
        // --help lists the commands for many hosts too
        Err(e) if !e.use_stderr() => {
            if e.kind() == clap::error::ErrorKind::DisplayHelp && program != "setkey" {
                let help = command().render_long_help().to_string();
                return match output::print(&help) {
                    Ok(()) => 0,
                    Err(e) => output::failure_status(&e),
                };
            }
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            crate::stderrln!("{program}: {}", option_error(&e));
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

/// Prints the usage; the exit status (1, like setkey). Started as
/// `setkey`, it is setkey's text exactly; as `rsetkey`, the long options
/// follow.
fn usage(program: &str) -> i32 {
    let long_options = if program == "setkey" {
        String::new()
    } else {
        long_options_usage(program) + &fleet_usage(program)
    };
    let text = format!(
        "{}\n{}{}",
        version_line(program),
        USAGE.replace("setkey", program),
        long_options
    );
    match output::print(&text) {
        Ok(()) => 1,
        Err(e) => output::failure_status(&e),
    }
}

/// The usage lines of the long options setkey does not have, from the flag
/// table, so that a new option cannot be missing from them.
fn long_options_usage(program: &str) -> String {
    let words = command()
        .get_arguments()
        .filter(|arg| arg.get_short().is_none())
        // --help and --version take no value, whatever their Option<bool>
        // field suggests
        .filter_map(|arg| {
            let long = arg.get_long()?;
            let takes_value = arg.get_action().takes_values();
            let values: Vec<_> = arg
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect();
            Some(if !takes_value || values.is_empty() {
                format!("[--{long}]")
            } else {
                format!("[--{long} {}]", values.join("|"))
            })
        })
        .collect::<Vec<_>>();
    // lines of at most 79 columns, continued under the first option
    let head = format!("       {program} ");
    let indent = " ".repeat(head.len());
    let mut text = String::new();
    let mut line = head;
    let mut empty = true;
    for word in words {
        if !empty && line.len() + 1 + word.len() > 79 {
            text.push_str(line.trim_end());
            text.push('\n');
            line = indent.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(&word);
        empty = false;
    }
    text.push_str(&line);
    text.push('\n');
    text
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
            no_keys: args.no_keys,
            no_warn_permissions: args.no_warn_permissions,
            no_lint: args.no_lint,
            backend: args.backend,
            json: args.json,
            as_script: args.as_script,
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
