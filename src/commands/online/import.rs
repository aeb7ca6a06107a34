//! `kurz import --server`: a file's links created one by one through
//! `POST /api/links`.
//!
//! The API takes a link's settings, not its history, so each line is
//! checked for what would be lost first: refused, or with `--partial`
//! imported without it and reported; never dropped without a word.

use std::path::Path;
use std::process::ExitCode;

use hyper::StatusCode;

use super::super::remote::Server;
use super::super::{io_err, transfer, CommandError};
use crate::store::ExportRecord;

/// A record's creation time counts as kept only if the file's is within
/// this of now: formats without one (a URL list) are given "now" when
/// read, and the server sets its own "now" on create.
const CREATED_SLACK_MS: i64 = 60_000;

/// What of `rec` `POST /api/links` cannot take, by field name. A password
/// hash is not in it: such a record is refused outright (see [`import`]).
fn left_out(rec: &ExportRecord, now: i64) -> Vec<&'static str> {
    let mut lost = Vec::new();
    if rec.clicks > 0 || !rec.daily.is_empty() {
        lost.push("clicks");
    }
    if !rec.referrers.is_empty() || rec.other_referrers > 0 {
        lost.push("referrers");
    }
    if !rec.bots.is_empty() {
        lost.push("bots");
    }
    if crate::clock::parse_rfc3339(&rec.created_at).is_ok_and(|at| now - at > CREATED_SLACK_MS) {
        lost.push("created_at");
    }
    if rec.created_by.is_some() {
        lost.push("created_by");
    }
    lost
}

/// `kurz import --server`: each valid line becomes `POST /api/links`. The
/// API takes a link's settings, not its history: a line with clicks,
/// referrers, bot visits, an older creation time or a creator is refused
/// unless `partial`, and then imported without them and reported; a line
/// with a password hash is always refused (the API takes a password, and
/// importing the link without it would unprotect it).
pub(in crate::commands) fn import(
    server: &Server,
    file: &Path,
    format: crate::formats::Format,
    partial: bool,
) -> Result<ExitCode, CommandError> {
    let (records, size) = transfer::open_records(file, format)?;
    let what = format!("reading {}", file.display());
    let bar = transfer::progress(size);
    let now = crate::clock::now_ms();
    let (mut imported, mut trimmed, mut duplicates, mut invalid) = (0u64, 0u64, 0u64, 0u64);
    for item in records {
        let item = item.map_err(io_err(what.clone()))?;
        bar.set_position(item.offset);
        let line = item.line;
        let mut parsed = match item.parsed {
            Ok(parsed) => parsed,
            Err(why) => {
                invalid += 1;
                bar.suspend(|| eprintln!("line {line}: rejected: {why}"));
                continue;
            }
        };
        let rec = &parsed.record;
        if rec.password_hash.is_some() {
            invalid += 1;
            bar.suspend(|| {
                eprintln!(
                    "line {line}: rejected: its password_hash cannot go through the API (it \
                     takes a password, not a hash); import it offline, with the server stopped"
                )
            });
            continue;
        }
        let lost = left_out(rec, now);
        if !lost.is_empty() && !partial {
            invalid += 1;
            bar.suspend(|| {
                eprintln!(
                    "line {line}: rejected: the API cannot take its {}; import offline with \
                     the server stopped to keep them, or pass --partial to import it without",
                    lost.join(", ")
                )
            });
            continue;
        }
        let mut tries = 1;
        let outcome = loop {
            match create(server, &parsed.record)? {
                Created::Duplicate if parsed.generated_slug && tries < transfer::GENERATE_TRIES => {
                    parsed.record.slug = crate::slug::generate(crate::formats::GENERATED_SLUG_LEN);
                    tries += 1;
                }
                other => break other,
            }
        };
        let slug = &parsed.record.slug;
        match outcome {
            Created::Yes if lost.is_empty() => imported += 1,
            Created::Yes => {
                imported += 1;
                trimmed += 1;
                bar.suspend(|| eprintln!("line {line}: imported without its {}", lost.join(", ")));
            }
            Created::Duplicate => {
                duplicates += 1;
                bar.suspend(|| eprintln!("line {line}: slug '{slug}' exists, skipped"));
            }
            Created::Invalid(why) => {
                invalid += 1;
                bar.suspend(|| eprintln!("line {line}: rejected: {why}"));
            }
        }
    }
    bar.finish_and_clear();
    let without = if trimmed > 0 {
        format!(" ({trimmed} without what the API cannot take)")
    } else {
        String::new()
    };
    eprintln!(
        "imported {imported}{without}, skipped {duplicates} existing, rejected {invalid} invalid"
    );
    Ok(if invalid > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// How one `POST /api/links` of an import went.
enum Created {
    Yes,
    Duplicate,
    Invalid(String),
}

/// Creates `rec`'s link with the settings the API takes.
///
/// # Errors
/// Failures that stop the import: no answer, a refused key, another status.
fn create(server: &Server, rec: &ExportRecord) -> Result<Created, CommandError> {
    let mut body = serde_json::json!({ "url": rec.url, "slug": rec.slug });
    if let Some(e) = &rec.expires_at {
        body["expires_at"] = e.as_str().into();
    }
    if let Some(m) = rec.max_clicks {
        body["max_clicks"] = m.into();
    }
    if let Some(s) = rec.redirect_status {
        body["redirect_status"] = s.into();
    }
    if !rec.tags.is_empty() {
        body["tags"] = rec.tags.clone().into();
    }
    let bytes = serde_json::to_vec(&body).map_err(|e| server.bad_answer(&e))?;
    let (status, body) = server.post(&["api", "links"], bytes)?;
    Ok(match status {
        StatusCode::CONFLICT => Created::Duplicate,
        StatusCode::UNPROCESSABLE_ENTITY => {
            Created::Invalid(String::from_utf8_lossy(&body).into_owned())
        }
        _ => Created::Yes,
    })
}
