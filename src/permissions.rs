//! Warnings about who else can read or change a script, in the spirit of
//! ssh's refusal of private keys that others can read.
//!
//! A script given with `-f FILE` (also a `#!…rsetkey -f` script, which the
//! kernel runs as `rsetkey -f FILE`) that holds keys should be readable by
//! its owner only: anyone who reads it can decrypt the traffic, and anyone
//! who writes it can install keys or policies of their choice. A
//! world-writable script, or one in a world-writable directory without the
//! sticky bit (anyone can replace it), is worth a warning even without
//! keys. These are warnings on stderr only: setkey has none, so they never
//! change stdout or the exit status, and `--no-warn-permissions` silences
//! them.
//!
//! [`check`] is the pure rule over permission bits; [`check_path`] reads
//! them from the file system.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::ir::{Operation, Statement};

/// Read or write by group or others.
const GROUP_OTHER_RW: u32 = 0o066;
/// Write by others.
const OTHER_W: u32 = 0o002;
/// The sticky bit: in a directory, only a file's owner may rename or
/// delete it.
const STICKY: u32 = 0o1000;

/// One problem with a script's permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionWarning {
    /// The script holds keys and group or others may read or write it.
    ExposedKeys {
        /// The file's permission bits.
        mode: u32,
    },
    /// Anyone may change the script.
    WorldWritable {
        /// The file's permission bits.
        mode: u32,
    },
    /// Anyone may replace the script: its directory is world-writable and
    /// not sticky.
    ReplaceableDirectory {
        /// The directory's permission bits.
        mode: u32,
    },
}

impl PermissionWarning {
    /// The warning's text about `file` in directory `dir` (without the
    /// program prefix).
    pub fn message(&self, file: &str, dir: &str) -> String {
        match *self {
            PermissionWarning::ExposedKeys { mode } => format!(
                "WARNING: {file} holds keys and is accessible by group/others (mode {:04o}); \
                 run `chmod go-rwx {file}`",
                mode & 0o7777
            ),
            PermissionWarning::WorldWritable { mode } => format!(
                "WARNING: {file} is world-writable (mode {:04o}): anyone can change what it \
                 installs; run `chmod o-w {file}`",
                mode & 0o7777
            ),
            PermissionWarning::ReplaceableDirectory { mode } => format!(
                "WARNING: {file} is in a world-writable directory {dir} (mode {:04o}, not \
                 sticky): anyone can replace it; keep it in a directory only its owner can write",
                mode & 0o7777
            ),
        }
    }
}

/// The rule: what is wrong with a script of permission bits `file_mode`,
/// in a directory of permission bits `dir_mode` (when known), that holds
/// keys or not. Empty when nothing is.
pub fn check(file_mode: u32, dir_mode: Option<u32>, holds_keys: bool) -> Vec<PermissionWarning> {
    let mut warnings = Vec::new();
    if holds_keys && file_mode & GROUP_OTHER_RW != 0 {
        warnings.push(PermissionWarning::ExposedKeys { mode: file_mode });
    }
    if file_mode & OTHER_W != 0 {
        warnings.push(PermissionWarning::WorldWritable { mode: file_mode });
    }
    if let Some(mode) = dir_mode
        && mode & OTHER_W != 0
        && mode & STICKY == 0
    {
        warnings.push(PermissionWarning::ReplaceableDirectory { mode });
    }
    warnings
}

/// Whether the statements install key material (an `add` with a non-empty
/// encryption or authentication key).
pub fn holds_keys(statements: &[Statement]) -> bool {
    statements
        .iter()
        .flat_map(|s| &s.operations)
        .any(|op| match op {
            Operation::Add(sa) => {
                let t = &sa.transforms;
                t.encrypt.as_ref().is_some_and(|(_, k)| k.bits() > 0)
                    || t.auth
                        .as_ref()
                        .and_then(|(_, k)| k.as_ref())
                        .is_some_and(|k| k.bits() > 0)
            }
            _ => false,
        })
}

/// The directory a path's file lives in (through symbolic links: the
/// directory that matters is the one holding the real file).
fn directory_of(path: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    real.parent().map(Path::to_path_buf)
}

/// The warnings (texts without the program prefix) for the script at
/// `path`. A path that cannot be examined yields none: the script was
/// already read, and a warning is no reason to fail.
pub fn check_path(path: &Path, holds_keys: bool) -> Vec<String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Vec::new();
    };
    // Only regular files: a pipe or /dev/stdin is nobody else's to read.
    if !meta.is_file() {
        return Vec::new();
    }
    let dir = directory_of(path);
    let dir_mode = dir
        .as_deref()
        .and_then(|d| std::fs::metadata(d).ok())
        .map(|m| m.permissions().mode());
    let file = path.to_string_lossy();
    let dir_name = dir
        .as_deref()
        .map_or_else(|| ".".into(), |d| d.to_string_lossy().into_owned());
    check(meta.permissions().mode(), dir_mode, holds_keys)
        .iter()
        .map(|w| w.message(&file, &dir_name))
        .collect()
}

/// The warnings for standard output when a dump that holds keys goes
/// there (`--as-script`, `--json --show-keys`): a regular file that group
/// or others can read or write gets the same warning as such a script.
/// A pipe or a terminal gets none.
pub fn check_stdout() -> Vec<String> {
    let link = Path::new("/proc/self/fd/1");
    let Ok(meta) = std::fs::metadata(link) else {
        return Vec::new();
    };
    if !meta.is_file() {
        return Vec::new();
    }
    let name = std::fs::read_link(link).map_or_else(
        |_| "standard output".to_string(),
        |p| p.to_string_lossy().into_owned(),
    );
    check(meta.permissions().mode(), None, true)
        .iter()
        .map(|w| w.message(&name, "."))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{FileNames, Options, parse_script_with};

    fn statements(script: &str) -> Vec<Statement> {
        parse_script_with(script, &Options::default(), &FileNames::default()).expect("parses")
    }

    #[test]
    fn private_files_are_fine() {
        assert_eq!(check(0o100600, Some(0o40755), true), vec![]);
        assert_eq!(check(0o100700, Some(0o40700), true), vec![]);
        assert_eq!(check(0o100400, None, true), vec![]);
    }

    #[test]
    fn keys_readable_by_others_warn() {
        for mode in [0o100644, 0o100640, 0o100604, 0o100620, 0o100660] {
            assert_eq!(
                check(mode, Some(0o40755), true),
                vec![PermissionWarning::ExposedKeys { mode }],
                "{mode:o}"
            );
        }
        // Execute bits of a #! script are not an exposure.
        assert_eq!(check(0o100711, Some(0o40755), true), vec![]);
    }

    #[test]
    fn without_keys_only_writability_matters() {
        assert_eq!(check(0o100644, Some(0o40755), false), vec![]);
        assert_eq!(
            check(0o100666, Some(0o40755), false),
            vec![PermissionWarning::WorldWritable { mode: 0o100666 }]
        );
        assert_eq!(
            check(0o100666, Some(0o40755), true),
            vec![
                PermissionWarning::ExposedKeys { mode: 0o100666 },
                PermissionWarning::WorldWritable { mode: 0o100666 }
            ]
        );
    }

    #[test]
    fn world_writable_directories_warn_unless_sticky() {
        assert_eq!(
            check(0o100600, Some(0o40777), false),
            vec![PermissionWarning::ReplaceableDirectory { mode: 0o40777 }]
        );
        // /tmp-like: others cannot replace the file.
        assert_eq!(check(0o100600, Some(0o41777), true), vec![]);
    }

    #[test]
    fn messages_name_the_file_and_the_mode() {
        let m = PermissionWarning::ExposedKeys { mode: 0o100644 }.message("ipsec.conf", "/etc");
        assert!(m.contains("ipsec.conf"), "{m}");
        assert!(m.contains("0644"), "{m}");
        assert!(m.contains("chmod go-rwx ipsec.conf"), "{m}");
        let m = PermissionWarning::ReplaceableDirectory { mode: 0o40777 }.message("a", "/d");
        assert!(m.contains("/d") && m.contains("0777"), "{m}");
    }

    #[test]
    fn what_holds_keys() {
        assert!(holds_keys(&statements(
            "add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc \"0123456789abcdef\";"
        )));
        assert!(holds_keys(&statements(
            "add 10.0.0.1 10.0.0.2 ah 1 -A hmac-sha1 0x0102030405060708090a0b0c0d0e0f1011121314;"
        )));
        assert!(!holds_keys(&statements(
            "flush; spdflush; add 10.0.0.1 10.0.0.2 esp 1 -E null -A null;\n\
             spdadd 10.0.0.1 10.0.0.2 any -P out none;"
        )));
    }

    #[test]
    fn check_path_reads_the_file_system() {
        let dir = std::env::temp_dir().join(format!("rsetkey-perm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let file = dir.join("s.conf");
        std::fs::write(&file, "flush;\n").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let keys = check_path(&file, true);
        let no_keys = check_path(&file, false);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let private = check_path(&file, true);
        let missing = check_path(&dir.join("nope"), true);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert!(keys[0].contains("0644"));
        assert!(no_keys.is_empty() && private.is_empty() && missing.is_empty());
    }
}
