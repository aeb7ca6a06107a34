//! Criterion benches of the store at 1,000 and 1,000,000 links: resolve (hit
//! and miss), create (with and without the durable flush), click counting,
//! a list page, and 30 days of stats.
//!
//! The 1M-link database takes a while to build, so it is built once under
//! `target/bench-data/` and reused by later runs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

use kurz::clock;
use kurz::store::{Link, Store};
use kurz::visit::Visit;

const SIZES: [usize; 2] = [1_000, 1_000_000];

fn slug_of(i: usize) -> String {
    format!("b{i:07}")
}

fn link(i: usize) -> Link {
    Link {
        target: format!("https://example.com/articles/{i}/a-long-enough-path?ref=bench"),
        created_at: 1_700_000_000_000 + i as i64,
        expires_at: None,
        max_clicks: None,
        redirect_status: None,
        created_by: None,
        password: None,
        tags: Vec::new(),
    }
}

/// Opens (building if needed) a database of `n` links.
fn database(n: usize) -> Store {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-links-{n}"));
    let store = Store::open(&dir, 128 << 20).unwrap();
    if store.len() < n {
        eprintln!("building a database of {n} links in {} …", dir.display());
        for i in store.len()..n {
            let _ = store.create(&slug_of(i), &link(i)).unwrap();
        }
        store.flush_all().unwrap();
    }
    store
}

/// A cheap xorshift so slug picks are spread but reproducible.
struct Pick(u64);
impl Pick {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn store_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for n in SIZES {
        let store = database(n);
        let slugs: Vec<String> = (0..n).map(slug_of).collect();
        let hot: Vec<&String> = slugs.iter().step_by((n / 1000).max(1)).collect();
        for s in &hot {
            store.resolve(s).unwrap();
        }
        let mut g = c.benchmark_group(format!("store/{n}"));

        let mut pick = Pick(0x9e37_79b9_7f4a_7c15);
        g.bench_function("resolve_hit", |b| {
            b.iter(|| black_box(store.resolve(hot[pick.next(hot.len())]).unwrap()))
        });
        g.bench_function("resolve_miss", |b| {
            b.iter(|| black_box(store.resolve(black_box("nosuchslug")).unwrap()))
        });
        g.bench_function("resolve_uncached", |b| {
            b.iter(|| black_box(store.get(&slugs[pick.next(n)]).unwrap()))
        });

        let now = clock::now_ms();
        let l = store.resolve(hot[0]).unwrap().unwrap();
        g.bench_function("click", |b| {
            b.iter(|| {
                black_box(
                    store
                        .click(hot[pick.next(hot.len())], &l, now, &Visit::default())
                        .unwrap(),
                )
            })
        });
        store.flush_clicks().unwrap();

        // Storing referrer counts: one click from one host on each of 1,000
        // links, then the flush that moves them into sled (timed alone).
        let from = Visit {
            referrer: Some("news.example".to_owned()),
            bot: None,
        };
        g.bench_function("flush_sources_1000_links", |b| {
            b.iter_custom(|iters| {
                let mut spent = std::time::Duration::ZERO;
                for _ in 0..iters {
                    for s in &hot {
                        store.click(s, &l, now, &from).unwrap();
                    }
                    let started = std::time::Instant::now();
                    black_box(store.flush_sources().unwrap());
                    spent += started.elapsed();
                }
                spent
            })
        });
        store.flush_clicks().unwrap();

        // The database is kept between runs: a run's own prefix keeps its
        // new slugs from colliding with an earlier run's.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let run = clock::now_ms();
        let fresh = || format!("new{n}r{run}x{}", NEXT.fetch_add(1, Ordering::Relaxed));
        g.bench_function("create", |b| {
            b.iter(|| store.create(&fresh(), &link(0)).unwrap().unwrap())
        });
        g.bench_function("create_durable", |b| {
            b.to_async(&rt).iter(|| async {
                store.create(&fresh(), &link(0)).unwrap().unwrap();
                store.sync().await.unwrap();
            })
        });

        g.bench_with_input(BenchmarkId::new("list_page", 50), &50, |b, &limit| {
            b.iter(|| black_box(store.list(limit, None).unwrap()))
        });
        let today = clock::day_of(now);
        g.bench_function("stats_30_days", |b| {
            b.iter(|| {
                black_box(
                    store
                        .daily(hot[pick.next(hot.len())], today - 29, today)
                        .unwrap(),
                )
            })
        });
        g.finish();
        store.flush_all().unwrap();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = store_benches
}
criterion_main!(benches);
