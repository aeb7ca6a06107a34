//! The files `kurz import` reads: kurz's JSON Lines and CSV exports, and the
//! CSV exports of YOURLS, Shlink and Bitly, and plain `url[,slug]` lists.
//!
//! [`Records::open`] picks the layout from the first line (or takes the one
//! asked for) and then yields one [`ExportRecord`] per line, or the reason a
//! line cannot be one, with its line number. Validating and storing the
//! records is the store's job ([`crate::store::Store::import`]), the same
//! for every format; this module only reads.

mod columns;
mod lines;
mod stamp;

use std::io::{self, BufRead, Cursor, Read};

use thiserror::Error;

use crate::store::ExportRecord;
pub use columns::{kurz_row, GENERATED_SLUG_LEN, KURZ_HEADER};

/// The format of a file to import, as `--format` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tell the format from the first line (the default).
    Auto,
    /// kurz's own JSON Lines export.
    Jsonl,
    /// A YOURLS export: keyword, url, title, timestamp, ip, clicks.
    Yourls,
    /// Shlink's short URL export: createdAt, title, shortUrl, [domain,
    /// shortCode,] longUrl, tags, visits.
    Shlink,
    /// A Bitly export: created, link, long_url, title, clicks.
    Bitly,
    /// kurz's own CSV export, or a plain `url[,slug]` list.
    Csv,
}

/// The format of `kurz export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON Lines: everything, the backup format (the default).
    Jsonl,
    /// CSV with a header: slug, url, created_at, expires_at, max_clicks,
    /// redirect_status, clicks.
    Csv,
}

/// The CSV layouts: what the columns mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// kurz's CSV export ([`KURZ_HEADER`]).
    Kurz,
    /// YOURLS.
    Yourls,
    /// Shlink.
    Shlink,
    /// Bitly.
    Bitly,
    /// `url[,slug]`, with or without a header.
    Plain,
}

impl Layout {
    /// The layout's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Kurz => "kurz CSV export",
            Layout::Yourls => "YOURLS export",
            Layout::Shlink => "Shlink export",
            Layout::Bitly => "Bitly export",
            Layout::Plain => "url[,slug] list",
        }
    }
}

/// Why a file cannot be read at all (a bad line is an [`Item`], not this).
#[derive(Debug, Error)]
pub enum FormatError {
    /// Reading failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The first line fits no format, or not the one asked for.
    #[error("{0}")]
    Unknown(String),
}

/// One line of input: its number, how far into the input it ends, and
/// the record it holds or why it holds none.
#[derive(Debug)]
pub struct Item {
    /// The 1-based line number (of a CSV record's first line).
    pub line: u64,
    /// Bytes of input read up to this line, for a progress bar.
    pub offset: u64,
    /// The record, or the reason the line was rejected.
    pub parsed: Result<Parsed, String>,
}

/// A record read from a line.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The link and its counters, not validated yet.
    pub record: ExportRecord,
    /// The file gave no slug, so this one was generated: on a clash, make
    /// another rather than skip the line.
    pub generated_slug: bool,
}

type Input = std::io::Chain<Cursor<Vec<u8>>, Box<dyn BufRead>>;
type CsvReader = csv::Reader<lines::LineIndex<Input>>;

/// The records of one input file.
pub struct Records {
    kind: Kind,
    /// What the file was read as, for messages (`None` for an empty file).
    pub read_as: Option<&'static str>,
    /// The first line of a `kurz backup` file (the credentials record),
    /// kept out of the records: `kurz restore` checks and writes it,
    /// `kurz import` only says it was there.
    pub backup_header: Option<Header>,
}

/// The credentials record that opens a `kurz backup` file, as read.
pub struct Header {
    /// Its line number.
    pub line: u64,
    /// The line itself, not checked yet.
    pub text: String,
}

/// How the first line of a `kurz backup` file starts (see
/// [`crate::backup`]): a line an export never starts with, as an export's
/// first key is `slug`.
pub const BACKUP_MARK: &str = "{\"kurz_backup\"";

/// What [`Records::read_as`] says of a plain kurz JSON Lines export.
pub const JSONL_EXPORT: &str = "kurz JSON Lines export";

enum Kind {
    Empty,
    Jsonl {
        input: io::BufReader<Input>,
        line: u64,
        offset: u64,
    },
    Csv {
        reader: Box<CsvReader>,
        columns: columns::Columns,
        /// A header-less file's first row, read to detect the layout.
        first: Option<csv::StringRecord>,
    },
}

impl Records {
    /// Reads the first line of `input` to choose the layout (or checks it
    /// against `format`).
    ///
    /// # Errors
    /// I/O errors; [`FormatError::Unknown`] when the first line fits no
    /// format (with `auto`) or lacks the columns of the one asked for.
    pub fn open(mut input: Box<dyn BufRead>, format: Format) -> Result<Records, FormatError> {
        // Everything up to the first line with something on it: that line
        // tells the format; the blank ones before it are read again below,
        // so line numbers stay those of the file.
        let mut first = Vec::new();
        let mut start;
        loop {
            start = first.len();
            if input.read_until(b'\n', &mut first)? == 0 {
                break;
            }
            if !first[start..].iter().all(u8::is_ascii_whitespace) {
                break;
            }
        }
        if first.starts_with(b"\xEF\xBB\xBF") {
            first.drain(..3); // a UTF-8 byte order mark, as spreadsheets write
            start = start.saturating_sub(3);
        }
        if first.iter().all(u8::is_ascii_whitespace) {
            return Ok(Records {
                kind: Kind::Empty,
                read_as: None,
                backup_header: None,
            });
        }
        let looks_json = first[start..].trim_ascii_start().starts_with(b"{");
        let is_json = format == Format::Jsonl || (format == Format::Auto && looks_json);
        if is_json
            && first[start..]
                .trim_ascii_start()
                .starts_with(BACKUP_MARK.as_bytes())
        {
            // The header is read here and the records start after it, with
            // the file's line numbers and offsets.
            let line = first[..start].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            let text = String::from_utf8_lossy(first[start..].trim_ascii()).into_owned();
            let offset = first.len() as u64;
            let rest: Input = Cursor::new(Vec::new()).chain(input);
            return Ok(Records {
                kind: Kind::Jsonl {
                    input: io::BufReader::new(rest),
                    line,
                    offset,
                },
                read_as: Some("kurz backup"),
                backup_header: Some(Header { line, text }),
            });
        }
        let joined: Input = Cursor::new(first).chain(input);
        if is_json {
            return Ok(Records {
                kind: Kind::Jsonl {
                    input: io::BufReader::new(joined),
                    line: 0,
                    offset: 0,
                },
                read_as: Some(JSONL_EXPORT),
                backup_header: None,
            });
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(lines::LineIndex::new(joined));
        let mut head = csv::StringRecord::new();
        reader.read_record(&mut head).map_err(csv_fault)?;
        let (layout, columns, first) = choose(format, &head)?;
        Ok(Records {
            kind: Kind::Csv {
                reader: Box::new(reader),
                columns,
                first: first.then_some(head),
            },
            read_as: Some(layout.name()),
            backup_header: None,
        })
    }
}

/// The layout and columns for a first row, and whether that row is data.
fn choose(
    format: Format,
    head: &csv::StringRecord,
) -> Result<(Layout, columns::Columns, bool), FormatError> {
    let names = columns::names(head);
    let header = |layout| columns::from_header(layout, &names).map(|c| (layout, c, false));
    let headerless = |layout| columns::positional(layout).map(|c| (layout, c, true));
    let shown = head.iter().collect::<Vec<_>>().join(",");
    let found = match format {
        Format::Auto => {
            if columns::is_kurz(&names) {
                header(Layout::Kurz)
            } else {
                [Layout::Yourls, Layout::Shlink, Layout::Bitly, Layout::Plain]
                    .into_iter()
                    .find_map(header)
                    .or_else(|| {
                        columns::starts_with_url(head)
                            .then(|| headerless(Layout::Plain))
                            .flatten()
                    })
            }
        }
        Format::Csv if columns::is_kurz(&names) => header(Layout::Kurz),
        Format::Csv if columns::starts_with_url(head) => headerless(Layout::Plain),
        Format::Csv => header(Layout::Plain),
        Format::Yourls => header(Layout::Yourls).or_else(|| headerless(Layout::Yourls)),
        Format::Shlink => header(Layout::Shlink),
        Format::Bitly => header(Layout::Bitly),
        Format::Jsonl => None,
    };
    found.ok_or_else(|| {
        FormatError::Unknown(match format {
            Format::Auto => format!(
                "cannot tell the format from the first line '{shown}': expected a JSON object, \
                 a header of kurz, YOURLS, Shlink or Bitly, a url[,slug] header, or a URL \
                 (see --format)"
            ),
            Format::Csv => format!(
                "the first line '{shown}' is neither kurz's CSV header, a header with a url \
                 column, nor a URL"
            ),
            other => format!(
                "the first line '{shown}' lacks the columns of a {other:?} export (see README, \
                 Importing from other shorteners)"
            ),
        })
    })
}

/// A CSV error that stops the whole import (reading failed), as opposed
/// to one bad record.
fn csv_fault(e: csv::Error) -> FormatError {
    let why = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(e) => FormatError::Io(e),
        _ => FormatError::Unknown(format!("the first line is not CSV: {why}")),
    }
}

/// The line a CSV record starts on, counting blank lines.
fn line_of(reader: &mut CsvReader, row: &csv::StringRecord) -> u64 {
    let pos = row.position();
    pos.and_then(|p| reader.get_mut().line_at(p.byte()))
        .or(pos.map(csv::Position::line))
        .unwrap_or(0)
}

impl Iterator for Records {
    type Item = Result<Item, io::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.kind {
            Kind::Empty => None,
            Kind::Jsonl {
                input,
                line,
                offset,
            } => loop {
                // Bytes, not a `String`: a line that is not UTF-8 is one bad
                // line, rejected alone, not a read error ending the import.
                let mut bytes = Vec::new();
                match input.read_until(b'\n', &mut bytes) {
                    Ok(0) => return None,
                    Ok(n) => {
                        *line += 1;
                        *offset += n as u64;
                    }
                    Err(e) => return Some(Err(e)),
                }
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let parsed = match std::str::from_utf8(&bytes) {
                    Ok(text) => serde_json::from_str::<ExportRecord>(text)
                        .map(|record| Parsed {
                            record,
                            generated_slug: false,
                        })
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(format!(
                        "not UTF-8 text (an invalid byte at column {})",
                        e.valid_up_to() + 1
                    )),
                };
                return Some(Ok(Item {
                    line: *line,
                    offset: *offset,
                    parsed,
                }));
            },
            Kind::Csv {
                reader,
                columns,
                first,
            } => loop {
                let (row, line, offset) = match first.take() {
                    Some(row) => {
                        let line = line_of(reader, &row);
                        (row, line, reader.position().byte())
                    }
                    None => {
                        let mut row = csv::StringRecord::new();
                        match reader.read_record(&mut row) {
                            Ok(false) => return None,
                            Ok(true) => {}
                            Err(e) => {
                                let line = e.position().map_or(0, |p| {
                                    reader.get_mut().line_at(p.byte()).unwrap_or(p.line())
                                });
                                let why = e.to_string();
                                if let csv::ErrorKind::Io(e) = e.into_kind() {
                                    return Some(Err(e));
                                }
                                return Some(Ok(Item {
                                    line,
                                    offset: reader.position().byte(),
                                    parsed: Err(why),
                                }));
                            }
                        }
                        let line = line_of(reader, &row);
                        (row, line, reader.position().byte())
                    }
                };
                if row.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                return Some(Ok(Item {
                    line,
                    offset,
                    parsed: columns.record(&row),
                }));
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line numbers and slugs (or reasons) of every record.
    type Lines = Vec<(u64, Result<String, String>)>;

    fn read(text: &str, format: Format) -> (Option<&'static str>, Lines) {
        let input: Box<dyn BufRead> = Box::new(Cursor::new(text.as_bytes().to_vec()));
        let records = Records::open(input, format).unwrap();
        let read_as = records.read_as;
        let items = records
            .map(|item| {
                let item = item.unwrap();
                (item.line, item.parsed.map(|p| p.record.slug))
            })
            .collect();
        (read_as, items)
    }

    #[test]
    fn blank_lines_before_the_first_keep_line_numbers() {
        let jsonl = "\n  \n{\"slug\":\"a\",\"url\":\"https://e.com/\",\"created_at\":\"2026-01-01T00:00:00Z\"}\n\n{bad\n";
        let (read_as, items) = read(jsonl, Format::Auto);
        assert_eq!(read_as, Some("kurz JSON Lines export"));
        assert_eq!(items[0], (3, Ok("a".into())));
        assert_eq!(items[1].0, 5);
        assert!(items[1].1.is_err());

        let csv = "\r\nkeyword,url\nk1,https://e.com/\n\nk2,https://e.com/2\n";
        let (read_as, items) = read(csv, Format::Auto);
        assert_eq!(read_as, Some("YOURLS export"));
        assert_eq!(items, [(3, Ok("k1".into())), (5, Ok("k2".into()))]);

        // A quoted field over two lines; the next record starts after it.
        let csv = "url,slug\n\"https://e.com/\n\",q1\n\n\nhttps://e.com/2,q2";
        let (_, items) = read(csv, Format::Auto);
        assert_eq!(items[0].0, 2);
        assert_eq!(items[1], (6, Ok("q2".into())));

        // A byte order mark, as spreadsheets write, is not part of the header.
        let (read_as, items) = read("\u{feff}Keyword,URL\nk1,https://e.com/\n", Format::Auto);
        assert_eq!(read_as, Some("YOURLS export"));
        assert_eq!(items, [(2, Ok("k1".into()))]);

        let (read_as, items) = read("\nhttps://e.com/,s1\n", Format::Csv);
        assert_eq!(read_as, Some("url[,slug] list"));
        assert_eq!(items, [(2, Ok("s1".into()))]);
    }

    /// Regression: a JSON Lines line that was not UTF-8 ended the whole
    /// import with no line number, because lines were read as `String`s
    /// and the decoding error came back as a read error.
    #[test]
    fn a_json_line_that_is_not_utf8_is_rejected_alone() {
        let ok = |slug: &str| {
            format!("{{\"slug\":\"{slug}\",\"url\":\"https://e.com/\",\"created_at\":\"2026-01-01T00:00:00Z\"}}\n")
        };
        let mut bytes = ok("a").into_bytes();
        bytes.extend_from_slice(b"{\"slug\":\"b\xff\"}\n");
        bytes.extend_from_slice(ok("c").as_bytes());
        let input: Box<dyn BufRead> = Box::new(Cursor::new(bytes));
        let items: Vec<Item> = Records::open(input, Format::Auto)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].parsed.as_ref().unwrap().record.slug, "a");
        assert_eq!(items[1].line, 2);
        let why = items[1].parsed.as_ref().unwrap_err();
        assert!(
            why.contains("not UTF-8") && why.contains("column 11"),
            "{why}"
        );
        assert_eq!(items[2].parsed.as_ref().unwrap().record.slug, "c");
    }

    #[test]
    fn a_backup_header_is_kept_apart_and_line_numbers_stay_the_files() {
        let text = "\n{\"kurz_backup\":1,\"credentials\":{}}\n{\"slug\":\"a\",\"url\":\"https://e.com/\",\"created_at\":\"2026-01-01T00:00:00Z\"}\n{bad\n";
        let input: Box<dyn BufRead> = Box::new(Cursor::new(text.as_bytes().to_vec()));
        let records = Records::open(input, Format::Auto).unwrap();
        let header = records.backup_header.as_ref().unwrap();
        assert_eq!(header.line, 2);
        assert_eq!(header.text, "{\"kurz_backup\":1,\"credentials\":{}}");
        let items: Vec<Item> = records.map(Result::unwrap).collect();
        assert_eq!(items.len(), 2);
        assert_eq!((items[0].line, items[1].line), (3, 4));
        assert_eq!(items[0].parsed.as_ref().unwrap().record.slug, "a");
        assert!(items[1].parsed.is_err());
        // A plain export has none.
        let (read_as, _) = read("{\"slug\":\"a\"}\n", Format::Auto);
        assert_eq!(read_as, Some("kurz JSON Lines export"));
    }

    #[test]
    fn an_empty_file_has_no_records_and_an_unknown_one_is_refused() {
        assert_eq!(read(" \n\n", Format::Auto), (None, vec![]));
        let input: Box<dyn BufRead> = Box::new(Cursor::new(b"a,b,c\n".to_vec()));
        assert!(matches!(
            Records::open(input, Format::Auto),
            Err(FormatError::Unknown(_))
        ));
    }
}
