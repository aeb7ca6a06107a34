//! Random operations on a real `Store` in a temporary directory, side by
//! side with a `BTreeMap` model, compared after every step.
//!
//! The input is a list of operations on 16 slugs: create (with some of 3
//! tags), click (by a person with or without a referrer, or by a bot),
//! patch, change of tags, delete, flush, and reopen (a graceful stop and a
//! new open of the same directory).
//! Invariants checked after each one:
//! - create succeeds exactly when the model has no such slug;
//! - every slug reads back as the model has it (target, or absent), and its
//!   click total is the model's exact count, pending clicks included, and
//!   so are its clicks per referrer host and its bot visits;
//! - the number of links is the model's, a listing holds exactly the
//!   model's slugs, each tag's listing exactly the model's slugs with that
//!   tag, and `Store::check` finds nothing wrong and notes nothing.

#![no_main]

use std::collections::BTreeMap;

use kurz::store::{ClickOutcome, Link, LinkPatch, Store};
use kurz::visit::{Visit, OTHER_BOT};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Create { slug: u8, target: u8 },
    Click { slug: u8, from: u8 },
    Patch { slug: u8, target: u8 },
    Tag { slug: u8, tags: u8 },
    Delete { slug: u8 },
    Flush,
    FlushSources,
    Reopen,
}

/// Who clicks: a referrer host, a bot, or a person coming from nowhere.
fn visit(from: u8) -> Visit {
    match from % 8 {
        n @ 0..=3 => Visit {
            referrer: Some(format!("h{n}.example")),
            bot: None,
        },
        4 => Visit {
            referrer: None,
            bot: Some("Slack"),
        },
        5 => Visit {
            referrer: None,
            bot: Some(OTHER_BOT),
        },
        _ => Visit::default(),
    }
}

/// What the model knows of a link.
#[derive(Default)]
struct Model {
    target: String,
    tags: Vec<String>,
    clicks: u64,
    referrers: BTreeMap<String, u64>,
    bots: u64,
}

const CACHE: u64 = 1 << 20;

fn slug(n: u8) -> String {
    format!("s{}", n % 16)
}

fn target(n: u8) -> String {
    format!("https://e.example/{n}")
}

/// The tags links may have, sorted; "a" and "a-b" share a prefix, which the
/// index keys must keep apart.
const TAGS: [&str; 3] = ["a", "a-b", "b"];

/// The tags picked by the low 3 bits of `bits`, sorted.
fn tags(bits: u8) -> Vec<String> {
    TAGS.iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, t)| (*t).to_owned())
        .collect()
}

fn link(t: u8) -> Link {
    Link {
        target: target(t),
        created_at: 1_700_000_000_000,
        expires_at: None,
        max_clicks: None,
        redirect_status: None,
        created_by: None,
        password: None,
        tags: tags(t),
    }
}

fuzz_target!(|ops: Vec<Op>| {
    if ops.len() > 64 {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(dir.path(), CACHE).expect("open");
    let mut model: BTreeMap<String, Model> = BTreeMap::new();
    let now = 1_800_000_000_000;
    for op in &ops {
        match *op {
            Op::Create { slug: s, target: t } => {
                let s = slug(s);
                let created = store.create(&s, &link(t)).expect("create");
                assert_eq!(created.is_ok(), !model.contains_key(&s), "create {s}");
                model.entry(s).or_insert_with(|| Model {
                    target: target(t),
                    tags: tags(t),
                    ..Model::default()
                });
            }
            Op::Click { slug: s, from } => {
                let s = slug(s);
                let visit = visit(from);
                match store.resolve(&s).expect("resolve") {
                    Some(cached) => {
                        let entry = model.get_mut(&s).expect("resolved a slug the model lacks");
                        assert_eq!(
                            store.click(&s, &cached, now, &visit).expect("click"),
                            ClickOutcome::Counted
                        );
                        match (visit.bot, visit.referrer) {
                            (Some(_), _) => entry.bots += 1,
                            (None, referrer) => {
                                entry.clicks += 1;
                                if let Some(host) = referrer {
                                    *entry.referrers.entry(host).or_default() += 1;
                                }
                            }
                        }
                    }
                    None => assert!(!model.contains_key(&s), "{s} did not resolve"),
                }
            }
            Op::Patch { slug: s, target: t } => {
                let s = slug(s);
                let patch = LinkPatch {
                    target: Some(target(t)),
                    ..LinkPatch::default()
                };
                let updated = store.update(&s, &patch).expect("update");
                assert_eq!(updated.is_some(), model.contains_key(&s), "patch {s}");
                if let Some(entry) = model.get_mut(&s) {
                    entry.target = target(t);
                }
            }
            Op::Tag { slug: s, tags: bits } => {
                let s = slug(s);
                let patch = LinkPatch {
                    tags: Some(tags(bits)),
                    ..LinkPatch::default()
                };
                let updated = store.update(&s, &patch).expect("update tags");
                assert_eq!(updated.is_some(), model.contains_key(&s), "tag {s}");
                if let Some(entry) = model.get_mut(&s) {
                    entry.tags = tags(bits);
                }
            }
            Op::Delete { slug: s } => {
                let s = slug(s);
                assert_eq!(
                    store.delete(&s).expect("delete"),
                    model.remove(&s).is_some(),
                    "delete {s}"
                );
            }
            Op::Flush => store.flush_all().expect("flush"),
            Op::FlushSources => {
                store.flush_sources().expect("flush sources");
            }
            Op::Reopen => {
                store.flush_all().expect("flush");
                drop(store);
                store = Store::open(dir.path(), CACHE).expect("reopen");
            }
        }
        for n in 0..16 {
            let s = slug(n);
            let got = store.get(&s).expect("get").map(|l| l.target);
            assert_eq!(
                got.as_ref(),
                model.get(&s).map(|m| &m.target),
                "{s} after {op:?}"
            );
            if let Some(m) = model.get(&s) {
                assert_eq!(store.clicks(&s).expect("clicks"), m.clicks, "{s} after {op:?}");
                let sources = store.sources(&s).expect("sources");
                let referrers: BTreeMap<String, u64> = sources.referrers.iter().cloned().collect();
                assert_eq!(referrers, m.referrers, "{s} referrers after {op:?}");
                assert_eq!(sources.other_referrers, 0, "{s} after {op:?}");
                assert_eq!(sources.bot_visits(), m.bots, "{s} bots after {op:?}");
            }
        }
        assert_eq!(store.len(), model.len());
        let listed: Vec<String> = store
            .list(100, None)
            .expect("list")
            .links
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            model.keys().cloned().collect::<Vec<_>>(),
            "listing after {op:?}"
        );
        for tag in TAGS {
            let mut tagged: Vec<String> = store
                .search_tagged(100, None, None, Some(tag))
                .expect("list a tag")
                .links
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            tagged.sort();
            let want: Vec<String> = model
                .iter()
                .filter(|(_, m)| m.tags.iter().any(|t| t == tag))
                .map(|(s, _)| s.clone())
                .collect();
            assert_eq!(tagged, want, "tag {tag} after {op:?}");
        }
        let report = store.check().expect("check");
        assert!(report.is_clean(), "{:?} after {op:?}", report.problems);
        assert!(report.notes.is_empty(), "{:?} after {op:?}", report.notes);
    }
});
