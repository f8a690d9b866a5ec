//! `rsetkey check`, `rsetkey mirror` and `rsetkey generate`: the command
//! line side of [`crate::fleet`]. None of them talks to the kernel.

use std::ffi::OsString;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use crate::fleet::check::{self, Report};
use crate::fleet::generate::{self, KeptSpis, Randomness};
use crate::fleet::inventory::Inventory;
use crate::fleet::{SHEBANG, Script, mirror as mirroring};
use crate::ir::Keys;
use crate::output;
use crate::parse::{self, ParseError, diagnostic};

/// Reads and parses a script; on failure prints why and returns `None`.
fn load(program: &str, file: &OsString) -> Option<Script> {
    let name = file.to_string_lossy().into_owned();
    let text = match parse::input::read_script_file(Path::new(file)) {
        Ok(text) => text,
        Err(e) => {
            crate::stderrln!("{program}: {}", e.message(&name));
            return None;
        }
    };
    match Script::parse(&name, text.clone()) {
        Ok(script) => Some(script),
        Err(e) => {
            parse_error(program, &name, &text, e);
            None
        }
    }
}

fn parse_error(program: &str, name: &str, text: &str, e: ParseError) {
    match &e.message {
        Some(message) => crate::stderrln!("{program}: {name},{}: {message}", e.line),
        None => crate::stderrln!("{program}: {name},{}: parse failed", e.line),
    }
    let e = e.with_source_name(name, text.to_string());
    crate::stderrln!("{}", diagnostic::render_for_stderr(&e));
}

/// Prints text on stdout; the exit status on failure.
fn print(text: &str) -> Result<(), i32> {
    output::print(text).map_err(|e| output::failure_status(&e))
}

/// `rsetkey check A B [--json]`: 0 when the scripts agree, 1 otherwise.
pub fn check(program: &str, a: &OsString, b: &OsString, json: bool) -> i32 {
    let (Some(a), Some(b)) = (load(program, a), load(program, b)) else {
        return 1;
    };
    let report = check::check(&a, &b);
    let status = i32::from(!report.agree);
    let printed = if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => print(&format!("{text}\n")),
            Err(e) => {
                crate::stderrln!("{program}: {e}");
                return 1;
            }
        }
    } else {
        print_report(program, &report, [&a, &b])
    };
    match printed {
        Ok(()) => status,
        Err(failed) => failed,
    }
}

fn print_report(program: &str, report: &Report, scripts: [&Script; 2]) -> Result<(), i32> {
    let [na, nb] = &report.files;
    if report.agree {
        return print(&format!(
            "{na} and {nb} agree: {} SAs, {} and {} policies\n",
            report.sas[0], report.policies[0], report.policies[1]
        ));
    }
    let secrets = [
        parse::key_ranges(&scripts[0].text),
        parse::key_ranges(&scripts[1].text),
    ];
    for m in &report.mismatches {
        let Some(d) = check::diagnostic(m, scripts, &secrets) else {
            crate::stderrln!("{program}: {}", m.message);
            continue;
        };
        let mut text = diagnostic::render_for_stderr(&d);
        if let Some(related) = miette::Diagnostic::related(&d) {
            for r in related {
                text.push_str(&diagnostic::render_for_stderr(r));
            }
        }
        crate::stderrln!("{text}");
    }
    let n = report.mismatches.len();
    crate::stderrln!(
        "{program}: {na} and {nb} disagree: {n} mismatch{}",
        if n == 1 { "" } else { "es" }
    );
    Ok(())
}

/// Whether standard output is a regular file group or others may read:
/// its permission bits then.
fn exposed_stdout() -> Option<u32> {
    let meta = std::fs::metadata("/proc/self/fd/1").ok()?;
    let mode = meta.permissions().mode();
    let exposed = meta.is_file()
        && crate::permissions::check(mode, None, true)
            .iter()
            .any(|w| matches!(w, crate::permissions::PermissionWarning::ExposedKeys { .. }));
    exposed.then_some(mode)
}

/// `rsetkey mirror FILE --local ADDR`: the peer's script on stdout.
pub fn mirror(program: &str, file: &OsString, local: IpAddr) -> i32 {
    let Some(script) = load(program, file) else {
        return 1;
    };
    let ops = match mirroring::mirror(&script, local) {
        Ok(ops) => ops,
        Err(e) => {
            crate::stderrln!("{program}: {e}");
            return 1;
        }
    };
    if let Some(mode) = exposed_stdout() {
        crate::stderrln!(
            "{program}: WARNING: the script written to standard output holds keys, and \
             group/others may read the file (mode {:04o}); run `chmod go-rwx` on it",
            mode & 0o7777
        );
    }
    // Room for every line at once: growing would leave keys in freed memory.
    let mut text = Zeroizing::new(String::with_capacity(256 + ops.len() * 512));
    text.push_str(SHEBANG);
    text.push('\n');
    text.push_str(&format!(
        "# the peer's side of {} (the script of {local}), written by `rsetkey mirror`\n",
        script.name
    ));
    for op in &ops {
        crate::ir::print::operation(op, Keys::Show, &mut text);
        text.push('\n');
    }
    match print(&text) {
        Ok(()) => 0,
        Err(status) => status,
    }
}

/// `rsetkey generate INVENTORY --out DIR [--seed N] [--rekey [--new-spis]]`.
pub fn generate(
    program: &str,
    inventory: &OsString,
    out: &OsString,
    seed: Option<u64>,
    rekey: bool,
    new_spis: bool,
) -> i32 {
    let source = inventory.to_string_lossy().into_owned();
    let text = match std::fs::read_to_string(inventory) {
        Ok(text) => text,
        Err(e) => {
            crate::stderrln!("{program}: {source}: {e}");
            return 1;
        }
    };
    let inventory = match Inventory::from_toml(&text) {
        Ok(inv) => inv,
        Err(e) => {
            crate::stderrln!("{program}: {source}: {e}");
            return 1;
        }
    };
    let dir = Path::new(out);
    let mut kept = KeptSpis::new();
    if rekey && !new_spis {
        for host in &inventory.hosts {
            let path = generate::script_path(dir, &host.name);
            if !path.exists() {
                continue;
            }
            let Some(script) = load(program, &path.clone().into_os_string()) else {
                return 1;
            };
            generate::kept_spis(&script, &mut kept);
        }
    }
    let mut random = match seed {
        Some(seed) => {
            crate::stderrln!(
                "{program}: WARNING: --seed {seed}: the keys are predictable; \
                 for tests only, never for hosts in use"
            );
            Randomness::seeded(seed)
        }
        None => Randomness::Os,
    };
    let scripts = match generate::generate(&inventory, &source, &kept, &mut random) {
        Ok(scripts) => scripts,
        Err(e) => {
            crate::stderrln!("{program}: {source}: {e}");
            return 1;
        }
    };
    if let Err(e) = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        crate::stderrln!("{program}: {}: {e}", dir.display());
        return 1;
    }
    let mut report = String::new();
    for s in &scripts {
        let path = generate::script_path(dir, &s.name);
        if let Err(e) = generate::write_private(&path, &s.text) {
            crate::stderrln!("{program}: {}: {e}", path.display());
            return 1;
        }
        report.push_str(&format!(
            "{}: {} SAs, {} policies\n",
            path.display(),
            s.sas,
            s.policies
        ));
    }
    match print(&report) {
        Ok(()) => 0,
        Err(status) => status,
    }
}
