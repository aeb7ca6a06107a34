//! `kurz export` and `kurz import`: the data directory to and from files.
//!
//! Export writes every link as JSON Lines (the full backup) or CSV (the
//! links' settings and click totals, for spreadsheets). Import reads any
//! format [`crate::formats`] knows, stores each valid line whole or not at
//! all, and ends with a summary: imported, skipped as existing, rejected as
//! invalid, the last two also line by line. Targets are checked as the API
//! checks them, loops back to the server's base URL included.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use super::{io_err, open, open_for_scan, CommandError};
use crate::formats::{self, ExportFormat, Format, FormatError, Parsed, Records};
use crate::store::{ExportRecord, ImportOutcome, Store, StoreError};
use crate::target::TargetRules;

/// How many fresh slugs an import tries for a line that brings none before
/// it gives up: a clash among 62^7 slugs is rare, several in a row mean
/// something else is wrong.
pub(super) const GENERATE_TRIES: usize = 8;

/// From how many imported links on the summary suggests `kurz compact`.
const COMPACT_HINT: u64 = 100_000;

/// `kurz export [--format jsonl|csv] [-o FILE]`.
pub(super) fn export(
    data: &Path,
    format: ExportFormat,
    output: Option<&Path>,
) -> Result<ExitCode, CommandError> {
    let store = open_for_scan(data)?;
    let (what, sink) = output_file(output)?;
    let mut out = Sink::new(format, BufWriter::new(sink)).map_err(io_err(what.clone()))?;
    let (n, damaged) = each_stored(&store, "exported", |rec| {
        out.write(rec).map_err(io_err(what.clone()))
    })?;
    out.flush().map_err(io_err(what.clone()))?;
    if let Some(p) = output {
        eprintln!("exported {n} links to {}", p.display());
    }
    Ok(damage_reported(damaged, "exported"))
}

/// Where an export or a backup goes: the file `output` (0600, whatever it
/// was) or standard output, and how to name it in errors.
///
/// # Errors
/// The file cannot be created.
pub(super) fn output_file(output: Option<&Path>) -> Result<(String, Box<dyn Write>), CommandError> {
    Ok(match output {
        Some(p) => {
            let what = format!("writing {}", p.display());
            let file = crate::private::create(p).map_err(io_err(what.clone()))?;
            (what, Box::new(file))
        }
        None => (
            "writing standard output".to_owned(),
            Box::new(io::stdout().lock()),
        ),
    })
}

/// Calls `write` on every readable record of `store`, in export order;
/// a damaged record or an unreadable stretch is reported on standard error
/// ("not `verb`: …") and passed over, so every other link is still saved.
/// Returns how many records were written and how many were passed over.
///
/// # Errors
/// What `write` fails with, and store faults other than damage.
pub(super) fn each_stored(
    store: &Store,
    verb: &str,
    mut write: impl FnMut(&ExportRecord) -> Result<(), CommandError>,
) -> Result<(u64, u64), CommandError> {
    let (mut n, mut damaged) = (0u64, 0u64);
    for rec in store.export() {
        match rec {
            Ok(rec) => {
                write(&rec)?;
                n += 1;
            }
            Err(e @ StoreError::Corrupt { .. }) => {
                eprintln!("kurz: not {verb}: {e}");
                damaged += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((n, damaged))
}

/// The exit code after `damaged` records could not be `verb` (said on
/// standard error): failure if any, so a cron job notices.
pub(super) fn damage_reported(damaged: u64, verb: &str) -> ExitCode {
    if damaged == 0 {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "kurz: {damaged} damaged records or unreadable stretches (above) could not be \
         {verb}; every other link was"
    );
    ExitCode::FAILURE
}

/// Where exported records go, in the chosen format.
pub(super) enum Sink<W: Write> {
    Jsonl(W),
    // Boxed: the writer carries its own buffer inline.
    Csv(Box<csv::Writer<W>>),
}

impl<W: Write> Sink<W> {
    pub(super) fn new(format: ExportFormat, out: W) -> io::Result<Self> {
        Ok(match format {
            ExportFormat::Jsonl => Sink::Jsonl(out),
            ExportFormat::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(formats::KURZ_HEADER)?;
                Sink::Csv(Box::new(w))
            }
        })
    }

    pub(super) fn write(&mut self, rec: &ExportRecord) -> io::Result<()> {
        match self {
            Sink::Jsonl(out) => {
                serde_json::to_writer(&mut *out, rec)?;
                out.write_all(b"\n")
            }
            Sink::Csv(w) => Ok(w.write_record(formats::kurz_row(rec))?),
        }
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Jsonl(out) => out.flush(),
            Sink::Csv(w) => w.flush(),
        }
    }
}

/// `kurz import FILE [--format ...]`.
pub(super) fn import(
    data: &Path,
    file: &Path,
    format: Format,
    base_url: Option<url::Url>,
) -> Result<ExitCode, CommandError> {
    let (records, size) = open_records(file, format)?;
    let what = format!("reading {}", file.display());
    let base = match base_url {
        Some(base) => base,
        None => match crate::running::base_url(data) {
            Some(base) => base,
            None => serving_base()?,
        },
    };
    let store = open(data)?;
    let Counts {
        imported,
        duplicates,
        invalid,
    } = import_records(&store, records, &base, size, &what)?;
    store.flush_all()?;
    eprintln!("imported {imported}, skipped {duplicates} existing, rejected {invalid} invalid");
    if imported >= COMPACT_HINT {
        eprintln!(
            "kurz: `kurz compact` gives back the disk space sled kept during this import \
             (at 10M links, 20.6 GiB became 2.3 GiB) and makes the database faster to open"
        );
    }
    Ok(if invalid > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// What an import did, line by line summed up.
pub(super) struct Counts {
    /// Links stored.
    pub imported: u64,
    /// Lines skipped as their slug exists.
    pub duplicates: u64,
    /// Lines rejected as invalid.
    pub invalid: u64,
}

/// Stores every record of `records` into `store`, reporting skipped and
/// rejected lines on standard error as it goes; `size` is the input's
/// length for the progress bar, `what` names the input in errors. Does not
/// flush.
pub(super) fn import_records(
    store: &Store,
    records: Records,
    base: &url::Url,
    size: Option<u64>,
    what: &str,
) -> Result<Counts, CommandError> {
    // The same loop check as the API's: no target back at the server.
    let rules = TargetRules::new(Some(base));
    let bar = progress(size);
    let (mut imported, mut duplicates, mut invalid) = (0u64, 0u64, 0u64);
    for item in records {
        let item = item.map_err(io_err(what))?;
        bar.set_position(item.offset);
        let lineno = item.line;
        let outcome = match item.parsed {
            Ok(parsed) => import_one(store, parsed, &rules)?,
            Err(why) => (ImportOutcome::Invalid(why), String::new()),
        };
        match outcome {
            (ImportOutcome::Imported, _) => imported += 1,
            (ImportOutcome::Duplicate, slug) => {
                duplicates += 1;
                bar.suspend(|| eprintln!("line {lineno}: slug '{slug}' exists, skipped"));
            }
            (ImportOutcome::Invalid(why), _) => {
                invalid += 1;
                bar.suspend(|| eprintln!("line {lineno}: rejected: {why}"));
            }
        }
    }
    bar.finish_and_clear();
    Ok(Counts {
        imported,
        duplicates,
        invalid,
    })
}

/// The records of `file` (`-` for standard input) in `format`, and the
/// file's size when known; says on standard error what it is read as.
///
/// # Errors
/// The file cannot be opened or read, or its format cannot be told.
pub(super) fn open_records(
    file: &Path,
    format: Format,
) -> Result<(Records, Option<u64>), CommandError> {
    let stdin = file.as_os_str() == "-";
    let what = format!("reading {}", file.display());
    let (reader, size): (Box<dyn BufRead>, Option<u64>) = if stdin {
        (Box::new(BufReader::new(io::stdin().lock())), None)
    } else {
        let f = File::open(file).map_err(io_err(what.clone()))?;
        let size = f.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::new(f)), size)
    };
    let records = Records::open(reader, format).map_err(|e| match e {
        FormatError::Io(source) => CommandError::Io {
            what: what.clone(),
            source,
        },
        FormatError::Unknown(why) => CommandError::Invalid(format!("{}: {why}", file.display())),
    })?;
    if let Some(name) = records.read_as {
        eprintln!("reading {} as a {name}", file.display());
    }
    if let Some(header) = &records.backup_header {
        eprintln!(
            "line {}: the credentials of a `kurz backup` (key digests, YOURLS token), not \
             imported: `kurz restore` restores them into an empty data directory",
            header.line
        );
    }
    Ok((records, size))
}

/// The default of `kurz serve --listen` (see [`crate::config::Config`]).
const SERVE_LISTEN: &str = "127.0.0.1:8080";

/// The base URL `kurz serve` would build short links on in this
/// environment when `--base-url` (or `KURZ_BASE_URL`) is not given:
/// `http://` and `KURZ_LISTEN`, else `http://` and its default listen
/// address. An import checks targets against it, as the API does, so no
/// imported link loops back.
///
/// # Errors
/// `KURZ_LISTEN` is set but not a `--listen` address.
pub(super) fn serving_base() -> Result<url::Url, CommandError> {
    let listen = std::env::var("KURZ_LISTEN")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| SERVE_LISTEN.to_owned());
    let listen = crate::config::parse_listen(&listen)
        .map_err(|e| CommandError::Invalid(format!("KURZ_LISTEN: {e}")))?;
    Ok(listen.base_url_at(listen.port()))
}

/// Imports one record, with a fresh slug on a clash if its slug was made
/// up here; returns the outcome and the slug it concerns.
fn import_one(
    store: &Store,
    mut parsed: Parsed,
    rules: &TargetRules,
) -> Result<(ImportOutcome, String), StoreError> {
    let mut tries = 1;
    loop {
        let outcome = store.import(&parsed.record, rules)?;
        if outcome != ImportOutcome::Duplicate || !parsed.generated_slug || tries == GENERATE_TRIES
        {
            return Ok((outcome, parsed.record.slug));
        }
        parsed.record.slug = crate::slug::generate(formats::GENERATED_SLUG_LEN);
        tries += 1;
    }
}

/// A byte-count progress bar on a terminal; hidden otherwise.
pub(super) fn progress(size: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match size {
        Some(total) => {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        }
        None => ProgressBar::new_spinner(),
    }
}
