//! Criterion benches of the input checks: slugs and targets on every create,
//! and what a click's `Referer` and `User-Agent` say on every redirect.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

use kurz::slug;
use kurz::target::TargetRules;
use kurz::visit::Visit;

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

fn visits(c: &mut Criterion) {
    let firefox: &[u8] = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let chrome: &[u8] = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
        (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    let googlebot: &[u8] =
        b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let referer: &[u8] = b"https://news.ycombinator.com/item?id=42";
    c.bench_function("visit/no_headers", |b| {
        b.iter(|| Visit::from_headers(black_box(None), black_box(None)))
    });
    c.bench_function("visit/firefox", |b| {
        b.iter(|| Visit::from_headers(black_box(None), black_box(Some(firefox))))
    });
    c.bench_function("visit/chrome", |b| {
        b.iter(|| Visit::from_headers(black_box(None), black_box(Some(chrome))))
    });
    c.bench_function("visit/referrer_only", |b| {
        b.iter(|| Visit::from_headers(black_box(Some(referer)), black_box(None)))
    });
    c.bench_function("visit/chrome_with_referrer", |b| {
        b.iter(|| Visit::from_headers(black_box(Some(referer)), black_box(Some(chrome))))
    });
    c.bench_function("visit/googlebot", |b| {
        b.iter(|| Visit::from_headers(black_box(Some(referer)), black_box(Some(googlebot))))
    });
}

criterion_group!(benches, slugs, targets, visits);
criterion_main!(benches);
