//! Criterion benches of the input checks on every create: slugs and targets.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

use kurz::slug;
use kurz::target::TargetRules;

fn slugs(c: &mut Criterion) {
    c.bench_function("slug/generate_7", |b| {
        b.iter(|| black_box(slug::generate(7)))
    });
    c.bench_function("slug/validate", |b| {
        b.iter(|| slug::validate(black_box("my-custom_Slug42")))
    });
}

fn targets(c: &mut Criterion) {
    let base = url::Url::parse("https://s.example.org/").unwrap();
    let rules = TargetRules::new(Some(&base));
    c.bench_function("target/check_ascii", |b| {
        b.iter(|| {
            rules.check(black_box(
                "https://www.rust-lang.org/learn/get-started?x=1#top",
            ))
        })
    });
    c.bench_function("target/check_idn", |b| {
        b.iter(|| rules.check(black_box("https://bücher.example/straße?q=ü")))
    });
    c.bench_function("target/reject_scheme", |b| {
        b.iter(|| rules.check(black_box("JaVaScRiPt:alert(1)")))
    });
}

criterion_group!(benches, slugs, targets);
criterion_main!(benches);
