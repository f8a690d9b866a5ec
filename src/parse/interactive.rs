//! How `setkey -c` cuts its input into statements.
//!
//! setkey reads standard input line by line, deletes everything from the
//! first `#` of a line (even inside quotes), skips empty lines, joins the
//! rest with single spaces and runs each `;`-terminated piece as soon as it
//! is complete; text after the last `;` waits for the next line, and is
//! dropped at the end of input.

/// Collects lines and hands out complete statements.
#[derive(Debug, Default, Clone)]
pub struct StatementSplitter {
    pending: String,
}

impl StatementSplitter {
    /// Adds one input line (without its newline); returns the statements it
    /// completed, each ending with its `;`.
    pub fn push_line(&mut self, line: &str) -> Vec<String> {
        let line = line.split('#').next().unwrap_or_default();
        if line.is_empty() {
            return Vec::new();
        }
        if !self.pending.is_empty() {
            self.pending.push(' ');
        }
        self.pending.push_str(line);
        let mut pieces = Vec::new();
        while let Some(end) = self.pending.find(';') {
            pieces.push(self.pending.drain(..=end).collect());
        }
        pieces
    }
}

/// Every statement of a whole `-c` input.
pub fn split(input: &str) -> Vec<String> {
    let mut splitter = StatementSplitter::default();
    input.lines().flat_map(|l| splitter.push_line(l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
