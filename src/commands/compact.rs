//! `kurz compact`: the database rewritten in key order and swapped in
//! (the store's `compact` module says how it stays safe), with a spinner
//! while it runs and a summary of the space it gave back.

use std::io::{self, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use super::CommandError;
use crate::store::{self, CompactProgress, StoreError};

/// `kurz compact`.
pub(super) fn run(data: &Path) -> Result<ExitCode, CommandError> {
    let bar = spinner();
    let report = store::compact(data, &mut |at: &CompactProgress| {
        bar.set_message(format!(
            "{} {}: {} keys, {} MiB",
            if at.checking { "checking" } else { "copying" },
            at.tree,
            at.keys,
            at.bytes >> 20
        ));
    });
    bar.finish_and_clear();
    let report = report.map_err(|e| match e {
        StoreError::Locked(_) | StoreError::NoDatabase(_) => CommandError::from(e),
        other => CommandError::Compact(other),
    })?;
    println!(
        "compacted {} keys in {} trees ({} MiB of data) in {:.1} s: {} on disk before, {} now",
        report.keys,
        report.trees,
        report.bytes >> 20,
        report.took.as_secs_f64(),
        size(report.before),
        size(report.after)
    );
    Ok(ExitCode::SUCCESS)
}

/// A size in MiB, or GiB from 10 GiB up.
fn size(bytes: u64) -> String {
    if bytes >= 10 << 30 {
        format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    }
}

/// A spinner with a message on a terminal; hidden otherwise.
fn spinner() -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
