//! What every mode shares: the program name, the options of the command
//! line, opening the kernel, reporting errors.

use nix::errno::Errno;

use crate::dump::DumpOptions;
use crate::ir::{Keys, Statement, SupportedAlgorithms};
use crate::output::{self, SharedOutput};
use crate::parse;
use crate::pfkey::socket::PfKeySocket;
use crate::pfkey::{Kernel, SocketError, request};
use crate::run::RunError;
use crate::trace::Tracer;
use crate::xfrm::XfrmKernel;

/// The first operation of a script that Linux's PF_KEY cannot express:
/// its statement's line and why.
pub fn needs_xfrm(statements: &[Statement]) -> Option<(u32, String)> {
    statements.iter().find_map(|s| {
        s.operations
            .iter()
            .find_map(request::needs_xfrm)
            .map(|reason| (s.location.line, reason))
    })
}

/// The name under which rsetkey is setkey (its dialect exactly).
const SETKEY: &str = "setkey";

/// The kernel interfaces rsetkey can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Backend {
    /// PF_KEY when the kernel has it, XFRM netlink otherwise.
    #[default]
    Auto,
    /// PF_KEY v2 (what setkey uses).
    Pfkey,
    /// XFRM netlink (what `ip xfrm` uses).
    Xfrm,
}

/// The flags of the command line that change how a mode works.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `-a`: dumps show dead SAs too.
    pub all: bool,
    /// `-p`: dumps show ports.
    pub ports: bool,
    /// `-N`: `-DP` hides per-socket policies.
    pub hide_socket_policies: bool,
    /// `-P`: `-D` / `-F` work on the SPD.
    pub policy: bool,
    /// `-l`: `-D` repeats every second.
    pub repeat: bool,
    /// `-n`: parse and check only, send nothing.
    pub no_action: bool,
    /// `-v`: decode every message.
    pub verbose: bool,
    /// `-H`: hex-dump messages.
    pub hex: bool,
    /// `-x` given this many times.
    pub monitor: u8,
    /// `-k`: kernel semantics (no automatic `fwd` policy).
    pub kernel_semantics: bool,
    /// `--strict`: a kernel refusal makes the exit status 1.
    pub strict: bool,
    /// `--atomic`: all or nothing.
    pub atomic: bool,
    /// `--show-keys`: keys show in `-v` output.
    pub show_keys: bool,
    /// `--no-keys`: key bytes masked in `-D` text.
    pub no_keys: bool,
    /// `--no-warn-permissions`.
    pub no_warn_permissions: bool,
    /// `--no-lint`.
    pub no_lint: bool,
    /// `--backend`.
    pub backend: Backend,
    /// `--json`: dumps and monitor events as JSON.
    pub json: bool,
    /// `--as-script`: dumps as statements that rebuild them.
    pub as_script: bool,
}

/// The kernel interface a [`Kernel`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// A PF_KEY socket.
    Pfkey,
    /// XFRM netlink.
    Xfrm,
}

/// What a script's statements are sent to.
pub enum Target {
    /// This kernel, which offers these algorithms, through this interface.
    Kernel(Box<dyn Kernel>, SupportedAlgorithms, Interface),
    /// Nowhere (`-n`): the statements are checked against these
    /// algorithms only.
    DryRun(SupportedAlgorithms),
}

impl Target {
    /// The algorithms statements are checked against.
    pub fn supported(&self) -> SupportedAlgorithms {
        match self {
            Target::Kernel(_, supported, _) | Target::DryRun(supported) => supported.clone(),
        }
    }
}

/// A mode's surroundings: who we are and what the command line said.
#[derive(Debug, Clone)]
pub struct Context {
    /// The name messages start with (the name rsetkey was run as).
    pub program: String,
    /// The command line's flags.
    pub flags: Flags,
}

impl Context {
    /// `PROGRAM: TEXT` on stderr.
    pub fn error(&self, text: &str) {
        crate::stderrln!("{}: {}", self.program, text);
    }

    /// How dumps print (`-a`, `-p`, `-N`).
    pub fn dump_options(&self) -> DumpOptions {
        DumpOptions {
            show_dead: self.flags.all,
            show_ports: self.flags.ports,
            hide_socket_policies: self.flags.hide_socket_policies,
            hide_keys: self.flags.no_keys,
        }
    }

    /// How scripts parse, given the algorithms the kernel offers.
    pub fn parse_options(&self, supported: SupportedAlgorithms) -> parse::Options {
        parse::Options {
            supported,
            rfc_mode: !self.flags.kernel_semantics,
            // Run as `setkey`, rsetkey reads setkey's dialect exactly.
            extensions: self.program != SETKEY,
        }
    }

    /// The kernel interface `--backend` asks for. `auto` takes PF_KEY when
    /// the kernel has it (setkey's interface, so the messages are the same),
    /// XFRM netlink otherwise.
    pub fn kernel(&self) -> Result<Box<dyn Kernel>, Vec<SocketError>> {
        self.kernel_and_interface().map(|(k, _)| k)
    }

    /// [`Context::kernel`], and which interface it speaks.
    fn kernel_and_interface(&self) -> Result<(Box<dyn Kernel>, Interface), Vec<SocketError>> {
        let pfkey =
            |s: PfKeySocket| -> (Box<dyn Kernel>, Interface) { (Box::new(s), Interface::Pfkey) };
        let xfrm =
            |x: XfrmKernel| -> (Box<dyn Kernel>, Interface) { (Box::new(x), Interface::Xfrm) };
        match self.flags.backend {
            Backend::Pfkey => Ok(pfkey(PfKeySocket::open().map_err(|e| vec![e])?)),
            Backend::Xfrm => Ok(xfrm(XfrmKernel::open().map_err(|e| vec![e])?)),
            Backend::Auto => match PfKeySocket::open() {
                Ok(s) => Ok(pfkey(s)),
                Err(no @ SocketError::Open(Errno::EAFNOSUPPORT | Errno::EPROTONOSUPPORT)) => {
                    match XfrmKernel::open() {
                        Ok(x) => Ok(xfrm(x)),
                        Err(e) => Err(vec![no, e]),
                    }
                }
                Err(e) => Err(vec![e]),
            },
        }
    }

    /// Reports why the kernel could not be opened.
    fn report(&self, errors: Vec<SocketError>) {
        for e in errors {
            self.error(&e.setkey_text());
        }
    }

    /// [`Context::kernel`], reporting why it could not be opened.
    pub fn open(&self) -> Option<Box<dyn Kernel>> {
        match self.kernel() {
            Ok(k) => Some(k),
            Err(errors) => {
                self.report(errors);
                None
            }
        }
    }

    /// What a script runs against: the one place that decides whether
    /// anything is sent. With `-n` no kernel is handed out at all. Like
    /// setkey, `-n` still asks PF_KEY which algorithms the kernel offers
    /// (a REGISTER, on a socket closed at once) when there is PF_KEY;
    /// otherwise (no PF_KEY, or `--backend xfrm`, whose answer means
    /// probing the kernel) it checks against what Linux usually offers.
    /// `None` when the kernel cannot be used (the reason reported).
    ///
    /// `names_algorithms` is `false` for a script known to name no
    /// algorithm (see [`parse::names_algorithms`]): its statements never
    /// consult the list, so XFRM's probes (twenty requests, some of which
    /// have the kernel try to build a cipher it lacks, milliseconds at
    /// each start) are skipped. PF_KEY's single REGISTER is always sent,
    /// as setkey sends it.
    pub fn script_target(&self, names_algorithms: bool) -> Option<Target> {
        if !self.flags.no_action {
            let (mut kernel, interface) = match self.kernel_and_interface() {
                Ok(opened) => opened,
                Err(errors) => {
                    self.report(errors);
                    return None;
                }
            };
            let supported = if interface == Interface::Xfrm && !names_algorithms {
                SupportedAlgorithms::linux_default()
            } else {
                self.register(kernel.as_mut())?
            };
            return Some(Target::Kernel(kernel, supported, interface));
        }
        let pfkey = match self.flags.backend {
            Backend::Xfrm => None,
            Backend::Auto | Backend::Pfkey => PfKeySocket::open().ok(),
        };
        let supported = match pfkey {
            Some(mut socket) => self.register(&mut socket)?,
            None => SupportedAlgorithms::linux_default(),
        };
        Some(Target::DryRun(supported))
    }

    /// Fits a parsed script's target to what the script needs: a script
    /// with an operation Linux's PF_KEY cannot express (see
    /// [`request::needs_xfrm`]) goes through XFRM netlink. `--backend
    /// auto` then opens XFRM in place of PF_KEY (`-v` says so on stderr);
    /// `--backend pfkey` refuses the script, naming the statement and the
    /// reason, before anything is sent (with `-n` too: the script could not
    /// run so). `Err` holds the exit status.
    pub fn fit_target(
        &self,
        target: Target,
        file: &str,
        statements: &[Statement],
    ) -> Result<Target, i32> {
        self.fit_target_to(target, file, needs_xfrm(statements))
    }

    /// [`Context::fit_target`] given what [`needs_xfrm`] found in the
    /// script (as its statements were read).
    pub fn fit_target_to(
        &self,
        target: Target,
        file: &str,
        needs_xfrm: Option<(u32, String)>,
    ) -> Result<Target, i32> {
        let Some((line, reason)) = needs_xfrm else {
            return Ok(target);
        };
        if self.flags.backend == Backend::Pfkey {
            self.error(&format!(
                "{file},{line}: {reason}; --backend pfkey cannot carry out this script \
                 (--backend auto or xfrm can); nothing was applied"
            ));
            return Err(1);
        }
        match target {
            Target::Kernel(_, supported, Interface::Pfkey) => {
                if self.flags.verbose {
                    self.error(&format!(
                        "{file},{line}: {reason}: using XFRM netlink instead of PF_KEY"
                    ));
                }
                match XfrmKernel::open() {
                    Ok(x) => Ok(Target::Kernel(Box::new(x), supported, Interface::Xfrm)),
                    Err(e) => {
                        self.report(vec![e]);
                        Err(1)
                    }
                }
            }
            Target::DryRun(_) if self.flags.verbose => {
                self.error(&format!(
                    "{file},{line}: {reason}: the script would run through XFRM netlink"
                ));
                Ok(target)
            }
            target => Ok(target),
        }
    }

    /// Asks the kernel which algorithms it offers (setkey's key-length checks
    /// depend on them).
    pub fn register(&self, socket: &mut dyn Kernel) -> Option<SupportedAlgorithms> {
        let message = request::register(socket.header(0, 0));
        match socket.request(&message) {
            Ok(reply) if reply.header.errno == 0 => Some(request::supported_algorithms(&reply)),
            Ok(reply) => {
                self.error(&crate::os::strerror(i32::from(reply.header.errno)));
                None
            }
            Err(e) => {
                self.error(&e.setkey_text());
                None
            }
        }
    }

    /// Whether `-v` output shows keys (`--show-keys`).
    pub fn key_display(&self) -> Keys {
        if self.flags.show_keys {
            Keys::Show
        } else {
            Keys::Mask
        }
    }

    /// The kernel, with `-v` / `-H` tracing of its messages onto `out`.
    pub fn traced<'k>(&self, kernel: &'k mut dyn Kernel, out: &SharedOutput) -> Tracer<'k> {
        Tracer::new(
            kernel,
            out.clone(),
            self.flags.verbose,
            self.flags.hex,
            self.key_display(),
        )
    }

    /// Reports why a run stopped; the exit status. A reader that went
    /// away is no error to report: the run stops quietly, with the status
    /// SIGPIPE would have given.
    pub fn run_error(&self, e: RunError) -> i32 {
        match e {
            RunError::Socket(e) => self.error(&e.setkey_text()),
            RunError::Output(e) if output::is_broken_pipe(&e) => {
                return output::BROKEN_PIPE_STATUS;
            }
            RunError::Output(e) => self.error(&format!("write: {e}")),
        }
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-n` never gets a kernel to send to, whatever the backend.
    #[test]
    fn a_dry_run_hands_out_no_kernel() {
        for backend in [Backend::Auto, Backend::Pfkey, Backend::Xfrm] {
            let ctx = Context {
                program: "rsetkey".to_string(),
                flags: Flags {
                    no_action: true,
                    backend,
                    ..Flags::default()
                },
            };
            // Without PF_KEY (or the right to open it) there is no
            // REGISTER to fail; with it, it answers.
            assert!(
                matches!(ctx.script_target(true), Some(Target::DryRun(_))),
                "{backend:?}"
            );
        }
    }
}

#[cfg(test)]
mod backend_tests {
    use super::*;
    use crate::parse::{FileNames, Options, parse_script_with};

    fn statements(text: &str) -> Vec<Statement> {
        let opts = Options {
            extensions: true,
            ..Options::default()
        };
        parse_script_with(text, &opts, &FileNames::default()).expect("parses")
    }

    #[test]
    fn what_pf_key_cannot_express_is_found_with_its_line() {
        let key = format!("0x{}", "11".repeat(20));
        let cbc = "add 10.0.0.1 10.0.0.2 esp 1 -E aes-cbc 0x00112233445566778899aabbccddeeff;\n";
        assert_eq!(needs_xfrm(&statements(cbc)), None);
        for (line, reason) in [
            (
                format!("-E aes-gcm-16 {key}"),
                "aes-gcm-16 is a combined-mode (AEAD) cipher",
            ),
            (
                format!("-E chacha20-poly1305 0x{}", "22".repeat(36)),
                "chacha20-poly1305 is a",
            ),
            (format!("-E aes-gmac {key}"), "aes-gmac is a combined-mode"),
            (
                "-f esn -r 32 -E aes-cbc 0x00112233445566778899aabbccddeeff".into(),
                "-f esn: Linux's PF_KEY cannot express extended sequence numbers",
            ),
            (
                "-r 1024 -E aes-cbc 0x00112233445566778899aabbccddeeff".into(),
                "-r 1024: PF_KEY's replay window field has 8 bits",
            ),
        ] {
            let text = format!("{cbc}flush;\nadd 10.0.0.1 10.0.0.2 esp 2 {line};\n");
            let (at, why) = needs_xfrm(&statements(&text)).expect(reason);
            assert_eq!(at, 3);
            assert!(why.starts_with(reason), "{why}");
        }
    }

    #[test]
    fn the_setkey_name_reads_setkey_s_dialect() {
        let ctx = |program: &str| Context {
            program: program.to_string(),
            flags: Flags::default(),
        };
        let supported = SupportedAlgorithms::linux_default();
        assert!(!ctx("setkey").parse_options(supported.clone()).extensions);
        assert!(ctx("rsetkey").parse_options(supported).extensions);
    }

    /// `--backend pfkey` refuses a script XFRM alone can carry out, before
    /// a kernel is even asked (`-n` here: no kernel at all).
    #[test]
    fn pfkey_refuses_what_it_cannot_express() {
        let ctx = Context {
            program: "rsetkey".to_string(),
            flags: Flags {
                no_action: true,
                backend: Backend::Pfkey,
                ..Flags::default()
            },
        };
        let text = format!(
            "add 10.0.0.1 10.0.0.2 esp 2 -E aes-gcm-16 0x{};\n",
            "11".repeat(20)
        );
        let target = Target::DryRun(SupportedAlgorithms::linux_default());
        assert!(matches!(
            ctx.fit_target(target, "x.conf", &statements(&text)),
            Err(1)
        ));
        let auto = Context {
            flags: Flags {
                backend: Backend::Auto,
                ..ctx.flags.clone()
            },
            ..ctx
        };
        let target = Target::DryRun(SupportedAlgorithms::linux_default());
        assert!(matches!(
            auto.fit_target(target, "x.conf", &statements(&text)),
            Ok(Target::DryRun(_))
        ));
    }
}
