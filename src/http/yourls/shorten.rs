//! `action=shorturl`: creating a link the YOURLS way, with YOURLS's answers
//! for a URL it already has, a keyword that is taken, and a bad URL.

use std::sync::Arc;

use super::output::{Answer, Val};
use super::{blocking, link_info, trim_long, yourls_time};
use crate::http::error::ApiError;
use crate::http::App;
use crate::slug;
use crate::store::{Link, SlugTaken, Store, StoreError};
use crate::target::TargetError;

/// `action=shorturl`: YOURLS's `yourls_add_new_link`.
pub(super) async fn shorturl(app: &Arc<App>, url: &str, keyword: &str, title: &str) -> Answer {
    // Always present, in this order, as YOURLS starts its answer.
    let mut a = Answer::new();
    for name in ["status", "code", "message", "errorCode", "statusCode"] {
        a.set(name, "");
    }
    let fail = |mut a: Answer, code: &str, message: &str, status: &str| {
        a.set("status", "fail")
            .set("code", code)
            .set("message", message)
            .set("errorCode", status)
            .set("statusCode", status);
        a
    };
    let url = url.trim();
    let target = match app.rules.check(url) {
        Ok(t) => String::from(t),
        Err(TargetError::Loop) => return fail(a, "error:noloop", "URL is a short URL", "400"),
        Err(_) => return fail(a, "error:nourl", "Missing or malformed URL", "400"),
    };

    // YOURLS refuses a second short URL for one long URL, and names the first.
    let (store, wanted) = (app.store.clone(), target.clone());
    match blocking(move || find_by_url(&store, &wanted)).await {
        Err(e) => return fail_db(a, e),
        Ok(Some((kw, link))) => {
            let clicks = match app.store.clicks(&kw) {
                Ok(n) => n,
                Err(e) => return fail_db(a, e),
            };
            let site = app.short_prefix();
            let site = site
                .strip_prefix("https://")
                .or_else(|| site.strip_prefix("http://"))
                .unwrap_or(site);
            let message = format!(
                "{} already exists in database (short URL: {site}/{kw})",
                trim_long(&target)
            );
            let mut a = fail(a, "error:url", &message, "400");
            let mut info = link_info(&kw, &link, clicks);
            info.retain(|(k, _)| k != "shorturl");
            a.set("url", Val::Map(info));
            a.set("title", link.target.as_str())
                .set("shorturl", app.short_url(&kw));
            a.simple = app.short_url(&kw);
            return a;
        }
        Ok(None) => {}
    }

    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    let title = if title.is_empty() {
        target.clone()
    } else {
        title
    };
    // YOURLS drops what its keyword alphabet lacks; kurz's has `_` and `-` too.
    let keyword: String = keyword
        .chars()
        .filter(|&c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        .take(199)
        .collect();
    let link = Link::plain(target.clone());
    let created = if keyword.is_empty() {
        app.store
            .create_generated(app.settings.slug_length, &link)
            .map(Ok)
    } else if let Err(e) = slug::validate(&keyword) {
        let message = match e {
            slug::SlugError::TooLong => format!(
                "Short URL {keyword} is longer than {} characters",
                slug::MAX_LEN
            ),
            _ => format!("Short URL {keyword} already exists in database or is reserved"),
        };
        return fail(a, "error:keyword", &message, "400");
    } else {
        app.store
            .create(&keyword, &link)
            .map(|r| r.map(|()| keyword.clone()))
    };
    let kw = match created {
        Err(e) => return fail_db(a, e),
        Ok(Err(SlugTaken)) => {
            let message = format!("Short URL {keyword} already exists in database or is reserved");
            return fail(a, "error:keyword", &message, "400");
        }
        Ok(Ok(kw)) => kw,
    };
    if let Err(e) = app.store.sync().await {
        return fail_db(a, e);
    }
    tracing::info!(slug = %kw, "link created (YOURLS API)");
    let info = vec![
        ("keyword".to_owned(), Val::from(kw.as_str())),
        ("url".to_owned(), target.as_str().into()),
        ("title".to_owned(), title.as_str().into()),
        ("date".to_owned(), yourls_time(link.created_at).into()),
        ("ip".to_owned(), "".into()),
    ];
    a.set("url", Val::Map(info))
        .set("status", "success")
        .set(
            "message",
            format!("{} added to database", trim_long(&target)),
        )
        .set("title", title)
        .set("shorturl", app.short_url(&kw))
        .set("statusCode", "200");
    a.simple = app.short_url(&kw);
    a
}

/// YOURLS's answer when a new link cannot be saved.
fn fail_db(mut a: Answer, e: StoreError) -> Answer {
    let status = ApiError::from(e).status.as_u16().to_string();
    a.set("status", "fail")
        .set("code", "error:db")
        .set("message", "Error saving url to database")
        .set("errorCode", status.as_str())
        .set("statusCode", status);
    a
}

/// The newest link whose target is exactly `target`, by a scan of the
/// links (kurz keeps no index by URL: this costs what a search costs).
fn find_by_url(store: &Store, target: &str) -> Result<Option<(String, Link)>, StoreError> {
    let mut cursor = None;
    loop {
        let page = store.search(1000, cursor.as_ref(), Some(target))?;
        if let Some(found) = page.links.into_iter().find(|(_, l)| l.target == target) {
            return Ok(Some(found));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(None),
        }
    }
}
