//! Writes N links in kurz's JSON Lines export format, for load and scale runs.
//!
//! Slug `i` is `l<i>` (so a load generator can pick any stored slug from a
//! number alone) and each target is a distinct realistic URL. Usage:
//! `cargo run --release --example genlinks -- 1000000 > links.jsonl`,
//! then `kurz import links.jsonl`.

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let n: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: genlinks N");
            std::process::exit(2);
        }
    };
    let out = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, out.lock());
    for i in 0..n {
        writeln!(
            out,
            r#"{{"slug":"l{i}","url":"https://example.com/articles/{i}/some-readable-title?utm_source=kurz","created_at":"2026-01-01T00:00:00Z","clicks":0}}"#
        )?;
    }
    out.flush()
}
