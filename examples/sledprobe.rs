//! Measures what sled alone costs on a kurz data directory: its RSS right
//! after opening, and its RSS and time per read under random link lookups.
//!
//! kurz's own RSS under load is sled's plus the link cache, the click
//! counters and the connections; this separates the first from the rest,
//! so a change to the data layout can be judged by the memory it costs
//! before any of kurz runs. Usage (stop kurz first: sled locks its files):
//!
//! ```text
//! cargo run --release --example sledprobe -- DATA_DIR [CACHE_MIB] [READS]
//! ```
//!
//! `CACHE_MIB` is sled's page cache (default 64, the share `kurz serve`
//! gives it by default); `READS` random bucket reads (default 200,000),
//! the lookups of link-cache misses under uniform traffic. The probe only
//! reads; opening runs sled's recovery as `kurz serve` would.

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use kurz::store::BUCKET_BITS;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: sledprobe DATA_DIR [CACHE_MIB] [READS]");
        std::process::exit(2);
    };
    let cache_mib: u64 = args.next().map_or(Ok(64), |a| a.parse())?;
    let reads: u64 = args.next().map_or(Ok(200_000), |a| a.parse())?;
    if reads == 0 {
        return Err("READS must be at least 1".into());
    }

    let started = Instant::now();
    let db = sled::Config::new()
        .path(dir.join("db"))
        .cache_capacity(cache_mib << 20)
        .open()?;
    let buckets = db.open_tree("buckets")?;
    println!(
        "opened in {:.2} s with a {cache_mib} MiB page cache: RSS {} MiB",
        started.elapsed().as_secs_f64(),
        rss_mib()?
    );

    // xorshift64: the same sequence every run, so two layouts or two cache
    // sizes are compared on identical reads.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let (mut found, mut bytes) = (0u64, 0u64);
    let started = Instant::now();
    let report_every = (reads / 5).max(1);
    for i in 1..=reads {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = ((x >> 16) as u32 & ((1 << BUCKET_BITS) - 1)).to_be_bytes();
        if let Some(value) = buckets.get(key)? {
            found += 1;
            bytes += value.len() as u64;
        }
        if i % report_every == 0 || i == reads {
            println!(
                "{i:>9} reads: RSS {} MiB, {:.1} µs/read, {} B per bucket found ({found} found)",
                rss_mib()?,
                started.elapsed().as_secs_f64() * 1e6 / i as f64,
                bytes.checked_div(found).unwrap_or(0),
            );
        }
    }
    Ok(())
}

/// This process's resident set, from /proc (Linux only, like the load harness).
fn rss_mib() -> Result<u64, Box<dyn Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or("no VmRSS in /proc/self/status")?
        .parse::<u64>()?;
    Ok(kib >> 10)
}
