//! Line numbers of CSV records, as a person counts them in an editor.
//!
//! The `csv` crate's own line numbers leave out blank lines between
//! records, and a record's byte position is where the blank lines before
//! it start. [`LineIndex`] wraps the input, notes where each line with
//! something on it starts, and answers the line of the first such line at
//! or after a record's position. It keeps only the lines the CSV reader has
//! buffered but not yet handed out.

use std::collections::VecDeque;
use std::io::{self, Read};

/// A reader that remembers where its non-blank lines start.
pub struct LineIndex<R> {
    inner: R,
    /// (byte offset, 1-based line number) of non-blank lines not yet asked for.
    starts: VecDeque<(u64, u64)>,
    offset: u64,
    line: u64,
    line_start: u64,
    noted: bool,
}

impl<R: Read> LineIndex<R> {
    /// Wraps `inner`, read from its first byte.
    pub fn new(inner: R) -> Self {
        LineIndex {
            inner,
            starts: VecDeque::new(),
            offset: 0,
            line: 1,
            line_start: 0,
            noted: false,
        }
    }

    /// The line of the record at byte `pos` (from `csv::Position::byte`):
    /// the first non-blank line starting at or after it. Positions must be
    /// asked in increasing order.
    pub fn line_at(&mut self, pos: u64) -> Option<u64> {
        while self.starts.front().is_some_and(|&(start, _)| start < pos) {
            self.starts.pop_front();
        }
        self.starts.front().map(|&(_, line)| line)
    }
}

impl<R: Read> Read for LineIndex<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.line += 1;
                self.line_start = self.offset + 1;
                self.noted = false;
            } else if b != b'\r' && !self.noted {
                self.starts.push_back((self.line_start, self.line));
                self.noted = true;
            }
            self.offset += 1;
        }
        Ok(n)
    }
}
