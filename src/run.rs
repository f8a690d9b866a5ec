//! Executes lowered statements against the kernel and reports the way setkey
//! reports: kernel errors are printed with the statement's line and the
//! script goes on; `get`, `dump` and `spddump` print on stdout.
//!
//! A whole script ([`Executor::execute_all`]) is sent in batches: runs of
//! consecutive statements whose replies are only checked for errors go to
//! the kernel together ([`Kernel::request_batch`], many requests per system
//! call where the interface allows it), and their errors are then reported
//! in statement order with their lines, as if each had been sent alone.

use std::io::{self, Write};

use crate::dump::{self, DumpOptions};
use crate::ir::{Operation, Statement};
use crate::output::DumpClock;
use crate::pfkey::SocketError;
use crate::pfkey::request;
use crate::pfkey::wire::{Message, MessageType};
use crate::pfkey::{BatchOutcome, DumpNumbering, Kernel};

/// Where and how messages about statements are printed.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// The program name messages start with (`setkey`, `rsetkey`).
    pub program: String,
    /// The script's name as given on the command line (`-` for stdin).
    pub file: String,
    /// `-c`: errors go to stdout, as `TEXT.` lines, without a prefix.
    pub interactive: bool,
    /// Print nothing (a trial run whose refusals are reported later, see
    /// [`Executor::refusals`]).
    pub quiet: bool,
}

impl Reporter {
    /// A kernel error (or a warning) about the statement on `line`.
    fn statement_error(&self, out: &mut dyn Write, line: u32, text: &str) -> io::Result<()> {
        if self.quiet {
            Ok(())
        } else if self.interactive {
            writeln!(out, "{text}.")
        } else {
            crate::stderrln!("{}: {},{}: {}", self.program, self.file, line, text);
            Ok(())
        }
    }

    /// A warning found while reading the statement on `line`.
    fn warning(&self, out: &mut dyn Write, line: u32, text: &str) -> io::Result<()> {
        if self.quiet {
            Ok(())
        } else if self.interactive {
            write!(out, "{text}")
        } else {
            crate::stderrln!("{}: {},{}: {}", self.program, self.file, line, text);
            Ok(())
        }
    }

    /// More about a kernel error, on stderr only (in `-c` mode too: stdout
    /// keeps setkey's text).
    pub fn detail(&self, line: u32, text: &str) {
        if !self.quiet {
            crate::stderrln!("{}: {},{}: {}", self.program, self.file, line, text);
        }
    }

    /// A message without a statement (`error encountered`).
    fn plain(&self, text: &str) {
        if !self.quiet {
            crate::stderrln!("{}: {}", self.program, text);
        }
    }

    /// A refusal as setkey reports it on stderr (`PROGRAM: FILE,LINE:
    /// TEXT`), followed by the kernel's explanation, if any — for
    /// refusals found by a quiet run and reported afterwards.
    pub fn refusal(&self, refusal: &Refusal) {
        crate::stderrln!(
            "{}: {},{}: {}",
            self.program,
            self.file,
            refusal.line,
            refusal.text
        );
        if let Some(detail) = &refusal.detail {
            crate::stderrln!(
                "{}: {},{}: {}",
                self.program,
                self.file,
                refusal.line,
                detail
            );
        }
    }
}

/// Whether to go on after a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Next statement.
    Continue,
    /// `exit;` was executed.
    Exit,
    /// The executor's stop condition held (see [`Executor::stop_when`]):
    /// the statements after this point were not sent.
    Stopped,
}

/// A request the kernel refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The statement's line.
    pub line: u32,
    /// setkey's text for the error (`File exists`).
    pub text: String,
    /// What the kernel said beyond the errno, if anything.
    pub detail: Option<String>,
}

/// The most requests [`Executor::execute_all`] sends as one batch. Bounds
/// the requests (and keys) held in memory at once and how long an error
/// waits to be reported; large enough that a batch costs a handful of
/// system calls per thousand requests.
const BATCH_REQUESTS: usize = 2048;

/// Whether an operation can go into a batch: its reply is only checked for
/// an error (not printed, not needed by a later request).
fn batchable(op: &Operation) -> bool {
    matches!(
        op,
        Operation::Flush(_)
            | Operation::SpdFlush
            | Operation::Add(_)
            | Operation::Delete(_)
            | Operation::GetSpi(_)
            | Operation::SpdAdd(_)
            | Operation::SpdUpdate(_)
            | Operation::SpdDelete(_)
    )
}

/// Runs statements against a kernel.
pub struct Executor<'a, W: Write> {
    kernel: &'a mut dyn Kernel,
    out: W,
    reporter: Reporter,
    dump_options: DumpOptions,
    refusals: Vec<Refusal>,
    stop: Option<StopCondition<'a>>,
    clock: DumpClock,
}

/// When [`Executor::execute_all`] stops early, given the refusals so far.
type StopCondition<'a> = Box<dyn Fn(&[Refusal]) -> bool + 'a>;

impl<'a, W: Write> Executor<'a, W> {
    /// An executor printing to `out`.
    pub fn new(kernel: &'a mut dyn Kernel, out: W, reporter: Reporter) -> Self {
        Executor {
            kernel,
            out,
            reporter,
            dump_options: DumpOptions::default(),
            refusals: Vec::new(),
            stop: None,
            clock: DumpClock::every_entry(),
        }
    }

    /// Reads the time for dump text from `clock` (by default, once per
    /// entry): [`SharedOutput::clock`] for a [`SharedOutput`].
    ///
    /// [`SharedOutput`]: crate::output::SharedOutput
    /// [`SharedOutput::clock`]: crate::output::SharedOutput::clock
    pub fn read_time_from(&mut self, clock: DumpClock) {
        self.clock = clock;
    }

    /// Makes [`Executor::execute_all`] stop before the next statement (or
    /// batch of statements) once `stop` holds; it is given the refusals so
    /// far. `--atomic` stops at the first refusal or signal.
    pub fn stop_when(&mut self, stop: impl Fn(&[Refusal]) -> bool + 'a) {
        self.stop = Some(Box::new(stop));
    }

    /// How many requests the kernel refused so far.
    pub fn kernel_errors(&self) -> usize {
        self.refusals.len()
    }

    /// The requests the kernel refused, in the order they were reported.
    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }

    /// The script lines of the requests the kernel refused, in the order
    /// they were reported (a line appears once per refused request).
    pub fn refused_lines(&self) -> Vec<u32> {
        self.refusals.iter().map(|r| r.line).collect()
    }

    fn should_stop(&self) -> bool {
        self.stop.as_ref().is_some_and(|stop| stop(&self.refusals))
    }

    /// The output, for flushing.
    pub fn output(&mut self) -> &mut W {
        &mut self.out
    }

    /// Executes one statement: its warnings, then its operations in order.
    pub fn execute(&mut self, statement: &Statement) -> Result<Flow, RunError> {
        let line = statement.location.line;
        for w in &statement.warnings {
            self.reporter.warning(&mut self.out, line, w)?;
        }
        let mut accepted = Vec::with_capacity(statement.operations.len());
        for op in &statement.operations {
            let refused = self.refusals.len();
            if self.operation(op, line)? == Flow::Exit {
                return Ok(Flow::Exit);
            }
            accepted.push(self.refusals.len() == refused);
        }
        self.undo_half_done(statement, &accepted)?;
        Ok(Flow::Continue)
    }

    /// A statement is carried out whole or not at all: when the kernel
    /// accepted an `in` policy but refused its `fwd` twin (say, a `fwd`
    /// policy with that selector exists already), the `in` policy is
    /// removed again. setkey leaves it installed; the refusal itself is
    /// reported as setkey reports it.
    fn undo_half_done(&mut self, statement: &Statement, accepted: &[bool]) -> Result<(), RunError> {
        let [Operation::SpdAdd(first), Operation::SpdAdd(_)] = statement.operations.as_slice()
        else {
            return Ok(());
        };
        if accepted != [true, false] {
            return Ok(());
        }
        let line = statement.location.line;
        let h = self.kernel.header(0, 0);
        let Some(delete) = request::for_operation(h, &Operation::SpdDelete(first.clone())) else {
            return Ok(());
        };
        let reply = self.kernel.request(&delete)?;
        let text = if reply.header.errno == 0 {
            "its fwd policy was refused, so the in policy was removed again".to_string()
        } else {
            format!(
                "its fwd policy was refused, and removing the in policy failed: {}",
                dump::error_text(&reply.header)
            )
        };
        self.reporter.detail(line, &text);
        Ok(())
    }

    /// Executes statements in order, as [`Executor::execute`] one by one
    /// would — same kernel requests in the same order, same reports — but
    /// sends runs of batchable statements (adds, deletes, flushes, policy
    /// changes) with [`Kernel::request_batch`].
    pub fn execute_all(&mut self, statements: &[Statement]) -> Result<Flow, RunError> {
        let mut rest = statements;
        while let Some(first) = rest.first() {
            if self.should_stop() {
                return Ok(Flow::Stopped);
            }
            let run = batch_run(rest);
            if run == 0 {
                if self.execute(first)? == Flow::Exit {
                    return Ok(Flow::Exit);
                }
                rest = &rest[1..];
                continue;
            }
            let (batch, after) = rest.split_at(run);
            self.execute_batch(batch)?;
            rest = after;
        }
        if self.should_stop() {
            // Stopped after the last statement: everything was sent, but
            // the caller learns that its condition (a refusal) holds.
            return Ok(Flow::Stopped);
        }
        Ok(Flow::Continue)
    }

    /// Sends the operations of batchable statements as one batch, then
    /// reports each statement's warnings and kernel errors in order.
    fn execute_batch(&mut self, statements: &[Statement]) -> Result<(), RunError> {
        let operations: Vec<&Operation> = statements
            .iter()
            .flat_map(|s| s.operations.iter())
            .collect();
        let BatchOutcome { replies, failure } = self.kernel.apply_batch(&operations);
        let mut replies = replies.into_iter();
        // One list reused for every statement: which of its requests the
        // kernel took.
        let mut accepted = Vec::new();
        for statement in statements {
            let line = statement.location.line;
            for w in &statement.warnings {
                self.reporter.warning(&mut self.out, line, w)?;
            }
            accepted.clear();
            for _ in &statement.operations {
                let Some(answer) = replies.next() else {
                    // The transport failed at this statement's request:
                    // the script stops here, as it would have unbatched.
                    return Err(failure
                        .unwrap_or(SocketError::Receive(nix::errno::Errno::EIO))
                        .into());
                };
                accepted.push(answer.reply.header.errno == 0);
                if answer.reply.header.errno != 0 {
                    self.report_refusal(&answer.reply, answer.detail.as_deref(), line)?;
                }
            }
            // Later statements of the batch were sent already; a later
            // request on the same `in` selector saw the policy installed.
            self.undo_half_done(statement, &accepted)?;
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    fn operation(&mut self, op: &Operation, line: u32) -> Result<Flow, RunError> {
        let h = self.kernel.header(0, 0);
        let Some(message) = request::for_operation(h, op) else {
            return Ok(Flow::Exit);
        };
        match op {
            Operation::Dump(_) | Operation::SpdDump => {
                return self.dump(&message, line).map(|_| Flow::Continue);
            }
            Operation::DeleteAll(d) => {
                return self
                    .delete_all(&message, &d.src, &d.dst, line)
                    .map(|_| Flow::Continue);
            }
            _ => {}
        }
        let reply = self.kernel.request(&message)?;
        if reply.header.errno != 0 {
            self.kernel_error(&reply, line)?;
        } else if matches!(op, Operation::Get(_)) {
            self.clock.tick();
            dump::write_sa(&mut self.out, &reply, self.clock.now(), &self.dump_options)?;
        }
        Ok(Flow::Continue)
    }

    /// Reports a kernel error reply with setkey's texts.
    fn kernel_error(&mut self, reply: &Message, line: u32) -> Result<(), RunError> {
        let detail = self.kernel.detail().map(str::to_string);
        self.report_refusal(reply, detail.as_deref(), line)
    }

    /// Reports a kernel error reply and what the kernel said beyond it.
    fn report_refusal(
        &mut self,
        reply: &Message,
        detail: Option<&str>,
        line: u32,
    ) -> Result<(), RunError> {
        let text = dump::error_text(&reply.header);
        self.reporter.statement_error(&mut self.out, line, &text)?;
        if let Some(detail) = detail {
            // rsetkey's addition: what the errno alone cannot say.
            self.reporter.detail(line, detail);
        }
        self.refusals.push(Refusal {
            line,
            text,
            detail: detail.map(str::to_string),
        });
        Ok(())
    }

    /// `dump;` / `spddump;`: every entry on stdout.
    fn dump(&mut self, request: &Message, line: u32) -> Result<(), RunError> {
        let msg_type = request.header.msg_type;
        let mut reply = self.kernel.request(request)?;
        let mut numbering = DumpNumbering::default();
        self.clock.tick();
        loop {
            if reply.header.errno != 0 {
                return self.kernel_error(&reply, line);
            }
            numbering.check(reply.header.seq)?;
            let now = self.clock.now();
            if msg_type == MessageType::Dump as u8 {
                dump::write_sa(&mut self.out, &reply, now, &self.dump_options)?;
            } else {
                dump::write_policy(&mut self.out, &reply, now, &self.dump_options)?;
            }
            if reply.header.seq == 0 {
                return Ok(());
            }
            reply = self.kernel.next_reply(msg_type)?;
        }
    }

    /// `deleteall`: dump the SAs of the type, then delete every one between
    /// the two address sets (setkey on Linux stops after the first match).
    fn delete_all(
        &mut self,
        dump: &Message,
        src: &[std::net::IpAddr],
        dst: &[std::net::IpAddr],
        line: u32,
    ) -> Result<(), RunError> {
        let h = dump.header;
        let mut reply = self.kernel.request(dump)?;
        let mut doomed = Vec::new();
        let mut numbering = DumpNumbering::default();
        loop {
            if reply.header.errno != 0 {
                self.reporter.plain("error encountered");
                return Ok(());
            }
            // A dropped entry could be an SA to delete.
            numbering.check(reply.header.seq)?;
            if request::sa_between(&reply, src, dst) {
                doomed.extend(request::delete_dumped(h, &reply));
            }
            if reply.header.seq == 0 {
                break;
            }
            reply = self.kernel.next_reply(MessageType::Dump as u8)?;
        }
        for delete in doomed {
            let reply = self.kernel.request(&delete)?;
            if reply.header.errno != 0 {
                self.kernel_error(&reply, line)?;
            }
        }
        Ok(())
    }
}

/// How many statements at the start of `statements` form one batch: those
/// whose operations are all batchable, up to [`BATCH_REQUESTS`] requests
/// (at least one statement when the first is batchable); 0 when the first
/// is not.
fn batch_run(statements: &[Statement]) -> usize {
    let mut requests = 0;
    for (i, s) in statements.iter().enumerate() {
        if !s.operations.iter().all(batchable) {
            return i;
        }
        requests += s.operations.len();
        if requests > BATCH_REQUESTS && i > 0 {
            return i;
        }
    }
    statements.len()
}

/// Why execution had to stop.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The PF_KEY socket failed.
    #[error(transparent)]
    Socket(#[from] SocketError),
    /// Writing the output failed (a closed pipe, a full disk).
    #[error("write: {0}")]
    Output(#[from] io::Error),
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::ir::SupportedAlgorithms;
    use crate::parse::{self, Options};
    use crate::pfkey::{ReplyNeed, request_each};
    use nix::errno::Errno;

    /// A kernel that refuses the requests whose SPI is in `refuse` (with
    /// EEXIST), fails the transport at SPI `fail_at`, and records what it
    /// was asked and how (one by one, or in which batches).
    #[derive(Default)]
    pub(crate) struct FakeKernel {
        pub(crate) refuse: Vec<u32>,
        pub(crate) fail_at: Option<u32>,
        pub(crate) batches: bool,
        pub(crate) log: Vec<(u8, u32)>,
        pub(crate) batch_sizes: Vec<usize>,
        pub(crate) detail: Option<String>,
        /// Refuse every `fwd` policy (as if one with its selector existed).
        pub(crate) refuse_fwd: bool,
    }

    impl FakeKernel {
        fn spi(m: &Message) -> u32 {
            m.sa().map_or(0, |sa| sa.spi)
        }
    }

    impl Kernel for FakeKernel {
        fn pid(&self) -> u32 {
            7
        }

        fn request(&mut self, message: &Message) -> Result<Message, SocketError> {
            let spi = Self::spi(message);
            if self.fail_at == Some(spi) {
                return Err(SocketError::Receive(Errno::EAGAIN));
            }
            self.log.push((message.header.msg_type, spi));
            let mut h = message.header;
            let fwd = message
                .policy()
                .is_some_and(|p| p.dir == crate::pfkey::wire::ipsec::DIR_FWD);
            if self.refuse.contains(&spi) || (self.refuse_fwd && fwd) {
                h.errno = libc::EEXIST as u8;
                self.detail = Some(format!("spi {spi:#x} exists"));
            } else {
                self.detail = None;
            }
            Ok(Message::new(h))
        }

        fn request_batch(&mut self, requests: &[Message], need: ReplyNeed) -> BatchOutcome {
            assert_eq!(need, ReplyNeed::Status);
            // A batching kernel answers exactly as one-by-one requests
            // would; what differs is only how many go out at once.
            if self.batches {
                self.batch_sizes.push(requests.len());
            }
            request_each(self, requests)
        }

        fn next_reply(&mut self, _: u8) -> Result<Message, SocketError> {
            Err(SocketError::Receive(Errno::EAGAIN))
        }

        fn detail(&self) -> Option<&str> {
            self.detail.as_deref()
        }
    }

    const KEY: &str = "0x00112233445566778899aabbccddeeff";

    /// Statements on lines 1, 2, … : SAs with SPIs 0x101…, a `get` (not
    /// batchable) after the fourth, an `in` policy (two requests) and an
    /// `exit` before the last statement.
    pub(crate) fn script() -> Vec<Statement> {
        let mut text = String::new();
        for i in 1..=4 {
            text += &format!(
                "add 10.0.0.1 10.0.0.2 esp {:#x} -E aes-cbc {KEY};\n",
                0x100 + i
            );
        }
        text += "get 10.0.0.1 10.0.0.2 esp 0x101;\n";
        text += "spdadd 10.1.0.0/16 10.2.0.0/16 any -P in ipsec esp/transport//require;\n";
        for i in 7..=9 {
            text += &format!(
                "add 10.0.0.1 10.0.0.2 esp {:#x} -E aes-cbc {KEY};\n",
                0x100 + i
            );
        }
        text += "exit;\n";
        text += &format!("add 10.0.0.1 10.0.0.2 esp 0x1ff -E aes-cbc {KEY};\n");
        let options = Options {
            supported: SupportedAlgorithms::linux_default(),
            rfc_mode: true,
            extensions: false,
        };
        parse::parse_script(&text, &options).expect("test script parses")
    }

    pub(crate) fn reporter() -> Reporter {
        Reporter {
            program: "rsetkey".to_string(),
            file: "test.conf".to_string(),
            interactive: true,
            quiet: false,
        }
    }

    /// Runs the script one statement at a time and with `execute_all`:
    /// (requests, refused lines, output, result) of each.
    type Run = (Vec<(u8, u32)>, Vec<u32>, Vec<u8>, Result<Flow, String>);

    fn both(make: impl Fn() -> FakeKernel) -> (Run, Run, Vec<usize>) {
        let statements = script();
        let mut one = make();
        let mut exec = Executor::new(&mut one, Vec::new(), reporter());
        let mut result = Ok(Flow::Continue);
        for s in &statements {
            match exec.execute(s) {
                Ok(Flow::Continue) => {}
                other => {
                    result = other.map_err(|e| e.to_string());
                    break;
                }
            }
        }
        let lines = exec.refused_lines().to_vec();
        let out = std::mem::take(exec.output());
        drop(exec);
        let single = (one.log, lines, out, result);

        let mut batched = make();
        batched.batches = true;
        let mut exec = Executor::new(&mut batched, Vec::new(), reporter());
        let result = exec.execute_all(&statements).map_err(|e| e.to_string());
        let lines = exec.refused_lines().to_vec();
        let out = std::mem::take(exec.output());
        drop(exec);
        let sizes = batched.batch_sizes.clone();
        ((single), (batched.log, lines, out, result), sizes)
    }

    #[test]
    fn batches_send_the_same_requests_and_report_errors_on_their_lines() {
        let (single, batched, sizes) = both(|| FakeKernel {
            refuse: vec![0x102, 0x108],
            ..FakeKernel::default()
        });
        assert_eq!(batched, single);
        // lines 2 and 8 refused
        assert_eq!(batched.1, vec![2, 8]);
        assert_eq!(batched.3, Ok(Flow::Exit));
        assert_eq!(
            String::from_utf8_lossy(&batched.2)
                .matches("File exists.")
                .count(),
            2
        );
        // adds 1-4; the get alone; the policy pair and adds 7-9
        assert_eq!(sizes, vec![4, 5]);
        // nothing after exit
        assert!(
            !batched
                .0
                .iter()
                .any(|(_, spi)| *spi == 0x1ff_u32.to_be() || *spi == 0x1ff)
        );
    }

    #[test]
    fn a_transport_failure_in_a_batch_stops_where_it_would_have_stopped() {
        let (single, batched, _) = both(|| FakeKernel {
            refuse: vec![0x101, 0x103],
            fail_at: Some(0x103),
            ..FakeKernel::default()
        });
        assert_eq!(batched, single);
        // the refusal before the failure is reported, nothing after it
        assert_eq!(batched.1, vec![1]);
        assert!(batched.3.is_err());
    }

    /// An `in` policy whose `fwd` twin is refused is removed again, both
    /// one statement at a time and in a batch; the refusal is reported once.
    #[test]
    fn an_in_policy_without_its_fwd_twin_is_removed_again() {
        let (single, batched, _) = both(|| FakeKernel {
            refuse_fwd: true,
            ..FakeKernel::default()
        });
        let spdadd = MessageType::SpdAdd as u8;
        let spddelete = MessageType::SpdDelete as u8;
        for (log, lines) in [(&single.0, &single.1), (&batched.0, &batched.1)] {
            assert_eq!(lines, &vec![6], "the fwd refusal, on the statement's line");
            let adds = log.iter().filter(|(t, _)| *t == spdadd).count();
            let deletes: Vec<_> = log.iter().filter(|(t, _)| *t == spddelete).collect();
            assert_eq!((adds, deletes.len()), (2, 1), "{log:?}");
        }
        // one by one, the undo follows the refusal at once
        let at = single.0.iter().position(|(t, _)| *t == spddelete);
        assert_eq!(at.map(|i| single.0[i - 1].0), Some(spdadd));
    }

    /// A stop condition ends the run before the next statement or batch.
    #[test]
    fn a_stop_condition_ends_the_run_between_batches() {
        let statements = script();
        let mut kernel = FakeKernel {
            refuse: vec![0x102],
            batches: true,
            ..FakeKernel::default()
        };
        let mut exec = Executor::new(&mut kernel, Vec::new(), reporter());
        exec.stop_when(|refusals| !refusals.is_empty());
        assert_eq!(exec.execute_all(&statements).ok(), Some(Flow::Stopped));
        assert_eq!(exec.refusals().len(), 1);
        assert_eq!(exec.refusals()[0].line, 2);
        assert_eq!(exec.refusals()[0].text, "File exists");
        drop(exec);
        // the first batch (adds 1-4) went out; the get after it did not
        assert_eq!(kernel.log.len(), 4);
        assert_eq!(kernel.batch_sizes, vec![4]);
    }

    /// A quiet reporter prints nothing; the refusals are kept.
    #[test]
    fn a_quiet_run_prints_nothing_but_keeps_its_refusals() {
        let statements = script();
        let mut kernel = FakeKernel {
            refuse: vec![0x101],
            ..FakeKernel::default()
        };
        let quiet = Reporter {
            quiet: true,
            ..reporter()
        };
        let mut exec = Executor::new(&mut kernel, Vec::new(), quiet);
        exec.execute_all(&statements).expect("runs");
        assert!(exec.output().is_empty());
        // the add on line 1 and the get of the same SA on line 5
        assert_eq!(exec.refused_lines(), vec![1, 5]);
    }

    #[test]
    fn runs_are_cut_at_statements_that_need_their_replies() {
        let statements = script();
        assert_eq!(batch_run(&statements), 4);
        assert_eq!(batch_run(&statements[4..]), 0); // get
        assert_eq!(batch_run(&statements[5..]), 4); // spdadd (2 requests), 3 adds
        assert_eq!(batch_run(&statements[9..]), 0); // exit
    }
}
