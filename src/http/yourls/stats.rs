//! `action=stats` and `action=db-stats`: one walk over every link, for
//! the totals and the first links in the order asked.
//!
//! kurz keeps no index by clicks and no running totals, so every call looks
//! at every link (off the runtime's workers, in the store's newest-first
//! order), holding in memory only the links that will be shown.

use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::sync::Arc;

use super::output::{self, Answer, Val};
use super::{blocking, fault, link_stats, STATS_LIMIT_MAX, STATS_SIMPLE};
use crate::http::App;
use crate::store::{Link, Store, StoreError};

/// How `action=stats` orders links.
#[derive(Debug, Clone, Copy)]
enum Order {
    Top,
    Bottom,
    Last,
    Rand,
}

/// `action=stats&filter=top|bottom|rand|last&limit=N&start=M`.
pub(super) async fn stats(app: &Arc<App>, filter: &str, limit: &str, start: &str) -> Answer {
    let order = match filter {
        "bottom" => Order::Bottom,
        "last" => Order::Last,
        "rand" | "random" => Order::Rand,
        _ => Order::Top,
    };
    // PHP's intval: "" and "ten" are 0, and no links are listed then.
    let limit = usize::try_from(output::leading_int(limit))
        .unwrap_or(0)
        .min(STATS_LIMIT_MAX);
    let start = usize::try_from(output::leading_int(start)).unwrap_or(0);
    let store = app.store.clone();
    let keep = if limit == 0 {
        0
    } else {
        start.saturating_add(limit)
    };
    let (rows, totals) = match blocking(move || scan(&store, order, keep)).await {
        Ok(found) => found,
        Err(e) => return fault(e),
    };
    let mut a = Answer::new();
    let links: Vec<(String, Val)> = rows
        .into_iter()
        .skip(start)
        .enumerate()
        .map(|(i, r)| {
            let info = link_stats(app, &r.slug, &r.link, r.clicks);
            (format!("link_{}", i + 1), Val::Map(info))
        })
        .collect();
    if !links.is_empty() {
        a.set("links", Val::Map(links));
    }
    a.set("stats", totals.val())
        .set("statusCode", "200")
        .set("message", "success");
    a.simple = STATS_SIMPLE.to_owned();
    a
}

/// `action=db-stats`.
pub(super) async fn db_stats(app: &Arc<App>) -> Answer {
    let store = app.store.clone();
    let totals = match blocking(move || scan(&store, Order::Last, 0)).await {
        Ok((_, totals)) => totals,
        Err(e) => return fault(e),
    };
    let mut a = Answer::new();
    a.set("db-stats", totals.val())
        .set("statusCode", "200")
        .set("message", "success");
    a.simple = STATS_SIMPLE.to_owned();
    a
}

/// Links and clicks in all.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    links: u64,
    clicks: u64,
}

impl Totals {
    fn val(self) -> Val {
        Val::Map(vec![
            ("total_links".to_owned(), self.links.into()),
            ("total_clicks".to_owned(), self.clicks.into()),
        ])
    }
}

/// A link with its clicks.
#[derive(Debug)]
struct Row {
    slug: String,
    link: Link,
    clicks: u64,
}

/// A row under its sort key (smallest first); only the key is compared.
struct Ranked {
    key: (u64, u64),
    row: Row,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// One walk over every link: the totals, and the first `keep` links in
/// `order`. Memory holds `keep` links, not all of them; ties go to the
/// newer link.
fn scan(store: &Store, order: Order, keep: usize) -> Result<(Vec<Row>, Totals), StoreError> {
    let mut best: BinaryHeap<Ranked> = BinaryHeap::new();
    let mut totals = Totals::default();
    // A fresh random hasher per call: `rand` is a new shuffle each time.
    let random = std::hash::RandomState::new();
    let mut cursor = None;
    let mut i = 0u64;
    loop {
        let page = store.list(1000, cursor.as_ref())?;
        for (slug, link) in page.links {
            let clicks = store.clicks(&slug)?;
            totals.links += 1;
            totals.clicks = totals.clicks.saturating_add(clicks);
            // Newest first: `i` orders by creation, newest lowest.
            let key = match order {
                Order::Top => (u64::MAX - clicks, i),
                Order::Bottom => (clicks, i),
                Order::Last => (0, i),
                Order::Rand => (random.hash_one(i), i),
            };
            i += 1;
            if keep == 0 || (best.len() == keep && best.peek().is_some_and(|w| key >= w.key)) {
                continue;
            }
            best.push(Ranked {
                key,
                row: Row { slug, link, clicks },
            });
            if best.len() > keep {
                best.pop();
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let rows = best.into_sorted_vec().into_iter().map(|r| r.row).collect();
    Ok((rows, totals))
}
