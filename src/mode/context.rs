//! What every mode shares: the program name, the options of the command
//! line, opening the kernel, reporting errors.

use nix::errno::Errno;

use crate::dump::DumpOptions;
use crate::ir::{Keys, SupportedAlgorithms};
use crate::output::{self, SharedOutput};
use crate::parse;
use crate::pfkey::socket::PfKeySocket;
use crate::pfkey::{Kernel, SocketError, request};
use crate::run::RunError;
use crate::trace::Tracer;
use crate::xfrm::XfrmKernel;

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

/// What a script's statements are sent to.
pub enum Target {
    /// This kernel, which offers these algorithms.
    Kernel(Box<dyn Kernel>, SupportedAlgorithms),
    /// Nowhere (`-n`): the statements are checked against these
    /// algorithms only.
    DryRun(SupportedAlgorithms),
}

impl Target {
    /// The algorithms statements are checked against.
    pub fn supported(&self) -> SupportedAlgorithms {
        match self {
            Target::Kernel(_, supported) | Target::DryRun(supported) => supported.clone(),
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
        eprintln!("{}: {}", self.program, text);
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
        }
    }

    /// The kernel interface `--backend` asks for. `auto` takes PF_KEY when
    /// the kernel has it (setkey's interface, so the messages are the same),
    /// XFRM netlink otherwise.
    pub fn kernel(&self) -> Result<Box<dyn Kernel>, Vec<SocketError>> {
        match self.flags.backend {
            Backend::Pfkey => Ok(Box::new(PfKeySocket::open().map_err(|e| vec![e])?)),
            Backend::Xfrm => Ok(Box::new(XfrmKernel::open().map_err(|e| vec![e])?)),
            Backend::Auto => match PfKeySocket::open() {
                Ok(s) => Ok(Box::new(s)),
                Err(pfkey @ SocketError::Open(Errno::EAFNOSUPPORT | Errno::EPROTONOSUPPORT)) => {
                    match XfrmKernel::open() {
                        Ok(x) => Ok(Box::new(x)),
                        Err(xfrm) => Err(vec![pfkey, xfrm]),
                    }
                }
                Err(e) => Err(vec![e]),
            },
        }
    }

    /// [`Context::kernel`], reporting why it could not be opened.
    pub fn open(&self) -> Option<Box<dyn Kernel>> {
        match self.kernel() {
            Ok(k) => Some(k),
            Err(errors) => {
                for e in errors {
                    self.error(&e.setkey_text());
                }
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
    pub fn script_target(&self) -> Option<Target> {
        if !self.flags.no_action {
            let mut kernel = self.open()?;
            let supported = self.register(kernel.as_mut())?;
            return Some(Target::Kernel(kernel, supported));
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
                matches!(ctx.script_target(), Some(Target::DryRun(_))),
                "{backend:?}"
            );
        }
    }
}
