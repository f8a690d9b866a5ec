//! `-v` / `-H`: every message sent (`-H`: as hex) and, with `-v`, every
//! message received, in libipsec's debug format, in order with the rest of
//! standard output. Paid for only when asked: without either flag no
//! message is serialised.

use std::io::{self, Write};

use zeroize::Zeroizing;

use crate::dump;
use crate::ir::{Keys, Operation};
use crate::output::SharedOutput;
use crate::pfkey::SocketError;
use crate::pfkey::wire::Message;
use crate::pfkey::{BatchOutcome, Kernel, ReplyNeed, request_each, request_operations};

/// A kernel whose traffic is printed as `-v` / `-H` ask.
pub struct Tracer<'k> {
    inner: &'k mut dyn Kernel,
    out: SharedOutput,
    verbose: bool,
    hex: bool,
    keys: Keys,
}

impl<'k> Tracer<'k> {
    /// Traces `inner`'s traffic onto `out`: decoded with `verbose`, sent
    /// messages in hex with `hex`; `keys` says whether key bytes show.
    pub fn new(
        inner: &'k mut dyn Kernel,
        out: SharedOutput,
        verbose: bool,
        hex: bool,
        keys: Keys,
    ) -> Self {
        Tracer {
            inner,
            out,
            verbose,
            hex,
            keys,
        }
    }

    /// Whether a message sent (or received) is printed at all.
    fn shows(&self, sent: bool) -> bool {
        self.verbose || (sent && self.hex)
    }

    fn print(&mut self, message: &Message, sent: bool) -> io::Result<()> {
        if !self.shows(sent) {
            return Ok(());
        }
        // The message holds keys: its bytes are wiped when dropped (the
        // conversion keeps the serialiser's allocation, no copy is left).
        let bytes = Zeroizing::new(Vec::<u8>::from(message.to_bytes()));
        // -H asks for the raw bytes, keys included; -v decodes and masks
        // keys unless --show-keys.
        if sent && self.hex {
            dump::kdebug::write_hexdump(&mut self.out, &bytes)?;
        }
        if self.verbose {
            dump::kdebug::write_kdebug(&mut self.out, &bytes, self.keys)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }
}

impl Kernel for Tracer<'_> {
    fn pid(&self) -> u32 {
        self.inner.pid()
    }

    fn detail(&self) -> Option<&str> {
        self.inner.detail()
    }

    fn request(&mut self, message: &Message) -> Result<Message, SocketError> {
        // Tracing is best effort: a failed write shows up at the final flush.
        let _ = self.print(message, true);
        let reply = self.inner.request(message)?;
        let _ = self.print(&reply, false);
        Ok(reply)
    }

    /// With `-v`, requests go one by one, so the trace shows each request
    /// followed by its full reply, as without batches. Otherwise the inner
    /// kernel batches them; `-H` shows the requests that reached an answer
    /// (and the one the transport failed on), as one by one it would.
    fn request_batch(&mut self, requests: &[Message], need: ReplyNeed) -> BatchOutcome {
        if self.verbose {
            return request_each(self, requests);
        }
        let outcome = self.inner.request_batch(requests, need);
        if self.hex {
            let shown = outcome.replies.len() + usize::from(outcome.failure.is_some());
            for m in requests.iter().take(shown) {
                let _ = self.print(m, true);
            }
        }
        outcome
    }

    /// Traced requests are PF_KEY messages: built here when they are
    /// shown, else left to the inner kernel.
    fn apply_batch(&mut self, operations: &[&Operation]) -> BatchOutcome {
        if self.verbose || self.hex {
            return request_operations(self, operations);
        }
        self.inner.apply_batch(operations)
    }

    fn next_reply(&mut self, msg_type: u8) -> Result<Message, SocketError> {
        let reply = self.inner.next_reply(msg_type)?;
        let _ = self.print(&reply, false);
        Ok(reply)
    }
}
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::run::Executor;
    use crate::run::tests::{FakeKernel, reporter, script};

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Capture(Rc<RefCell<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// `-v` decodes every request and reply, in order with the executor's
    /// own output, keys masked unless asked for; `-H` dumps requests in hex.
    #[test]
    fn tracer_decodes_messages_and_masks_keys() {
        let statements = script();
        let first = &statements[..1];
        for (keys, verbose, hex) in [
            (Keys::Mask, true, false),
            (Keys::Show, true, false),
            (Keys::Mask, false, true),
        ] {
            let capture = Capture::default();
            let out = SharedOutput::new(capture.clone());
            let mut kernel = FakeKernel {
                refuse: vec![0x101],
                ..FakeKernel::default()
            };
            let mut traced = Tracer::new(&mut kernel, out.clone(), verbose, hex, keys);
            let mut exec = Executor::new(&mut traced, out, reporter());
            exec.execute_all(first).expect("runs");
            exec.output().flush().expect("flush");
            let text = String::from_utf8_lossy(&capture.0.borrow()).into_owned();
            // KEY as kdebug prints it
            let key_hex = "00112233 44556677 8899aabb ccddeeff";
            if verbose {
                // request, then its error reply, then setkey's -c text
                let request = text
                    .find("sadb_msg{ version=2 type=3 errno=0")
                    .expect("request");
                let reply = text.find("type=3 errno=17").expect("reply");
                let error = text.find("File exists.").expect("error text");
                assert!(request < reply && reply < error, "{text}");
                assert_eq!(text.contains(key_hex), keys == Keys::Show, "{text}");
                assert!(
                    keys == Keys::Show || text.contains("key= ******** ********"),
                    "{text}"
                );
            } else {
                assert!(text.starts_with("00000000: 02 03 00 03 "), "{text}");
                assert!(!text.contains("sadb_msg{"), "{text}");
            }
        }
    }

    /// Without `-v` and `-H` nothing is printed, and no message is even
    /// serialised: the tracer costs nothing when not asked for.
    #[test]
    fn without_flags_the_tracer_shows_and_serialises_nothing() {
        let capture = Capture::default();
        let out = SharedOutput::new(capture.clone());
        let mut kernel = FakeKernel::default();
        let mut traced = Tracer::new(&mut kernel, out.clone(), false, false, Keys::Show);
        assert!(!traced.shows(true) && !traced.shows(false));
        let mut exec = Executor::new(&mut traced, out, reporter());
        // the adds only: a `get` would print its SA
        exec.execute_all(&script()[..4]).expect("runs");
        exec.output().flush().expect("flush");
        assert!(capture.0.borrow().is_empty());
    }
}
