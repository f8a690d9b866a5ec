//! How `setkey -c` cuts its input into statements.
//!
//! setkey reads standard input line by line, deletes everything from the
//! first `#` of a line (even inside quotes), skips empty lines, joins the
//! rest with single spaces and runs each `;`-terminated piece as soon as it
//! is complete; text after the last `;` waits for the next line, and is
//! dropped at the end of input.
//!
//! Statements carry keys, so the pending text and every statement handed
//! out are wiped when dropped (growing `pending` may still leave an old
//! allocation behind; it starts with room for a few long statements so
//! that this rarely happens).

use zeroize::Zeroizing;

/// Collects lines and hands out complete statements.
#[derive(Default, Clone)]
pub struct StatementSplitter {
    pending: Zeroizing<String>,
}

impl std::fmt::Debug for StatementSplitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pending text may hold half a key.
        f.debug_struct("StatementSplitter")
            .field("pending", &format_args!("<{} bytes>", self.pending.len()))
            .finish()
    }
}

impl StatementSplitter {
    /// Adds one input line (without its newline); returns the statements it
    /// completed, each ending with its `;`.
    pub fn push_line(&mut self, line: &str) -> Vec<Zeroizing<String>> {
        let line = line.split('#').next().unwrap_or_default();
        if line.is_empty() {
            return Vec::new();
        }
        if self.pending.capacity() == 0 {
            self.pending.reserve(4096);
        }
        if !self.pending.is_empty() {
            self.pending.push(' ');
        }
        self.pending.push_str(line);
        let mut pieces = Vec::new();
        while let Some(end) = self.pending.find(';') {
            // Sized up front: no reallocation leaves a copy behind.
            let mut piece = Zeroizing::new(String::with_capacity(end + 1));
            piece.push_str(self.pending.get(..=end).unwrap_or_default());
            self.pending.replace_range(..=end, "");
            pieces.push(piece);
        }
        pieces
    }
}

/// Every statement of a whole `-c` input.
pub fn split(input: &str) -> Vec<Zeroizing<String>> {
    let mut splitter = StatementSplitter::default();
    input.lines().flat_map(|l| splitter.push_line(l)).collect()
}

#[cfg(test)]
mod tests {
    fn split(input: &str) -> Vec<String> {
        super::split(input).iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn joins_lines_and_cuts_at_semicolons() {
        let input =
            "flush; spdflush;\nadd 1.1.1.1 # comment; not a statement\n 2.2.2.2 ah 1;\ntrailing";
        assert_eq!(
            split(input),
            ["flush;", " spdflush;", "add 1.1.1.1   2.2.2.2 ah 1;"]
        );
    }

    #[test]
    fn comment_cuts_inside_quotes_and_empty_lines_are_skipped() {
        assert_eq!(split("\n\nadd \"a#b\";\n"), Vec::<String>::new());
        assert_eq!(split("a\n\nb;"), ["a b;"]);
    }
}
