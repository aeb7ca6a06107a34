//! The management API under `/api/links`: create, list, read, change, delete,
//! stats, QR codes.
//!
//! Handlers have what the client sent checked by [`super::wire`] (422 for
//! well-formed but invalid values), call the store, and answer JSON. A 201 is
//! sent only after the new link is on disk. Auth has already been checked by
//! the router.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use hyper::{Request, Response, StatusCode};
use serde::Serialize;

use super::error::ApiError;
use super::wire::{json, read_json, CreateRequest, LinkJson, NewLink, PatchRequest};
use super::{App, Body};
use crate::store::{Cursor, StoreError};
use crate::{clock, qr};

/// Default and largest page size of `GET /api/links`.
const PAGE_DEFAULT: usize = 50;
const PAGE_MAX: usize = 1000;

/// Longest search text of `GET /api/links?q=`.
const SEARCH_MAX: usize = 256;

/// Default and largest `days` of the stats route.
const DAYS_DEFAULT: u32 = 30;
const DAYS_MAX: u32 = 366;

type Reply = Result<Response<Body>, ApiError>;

/// Runs store work that may scan many records off the runtime's workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::from(StoreError::TaskFailed))?
        .map_err(ApiError::from)
}

/// The Argon2id hash of a password [`super::wire`] has checked, made off
/// the runtime's workers (it takes tens of milliseconds on purpose).
async fn hash_password(app: &App, password: String) -> Result<String, ApiError> {
    app.argon2
        .run(move || crate::password::hash(&password))
        .await
        .ok_or_else(|| ApiError::from(StoreError::TaskFailed))?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot hash a link password");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot hash the password",
            )
        })
}

/// `POST /api/links`, by the key named `by`.
pub async fn create(app: Arc<App>, req: Request<Incoming>, by: &str) -> Reply {
    let body: CreateRequest = read_json(req).await?;
    let password = body.password.clone();
    let NewLink { slug, mut link } = body.check(&app.rules, clock::now_ms())?;
    link.created_by = Some(by.to_owned());
    if let Some(p) = password {
        link.password = Some(hash_password(&app, p.0).await?);
    }
    let slug = match slug {
        Some(s) => match app.store.create(&s, &link)? {
            Ok(()) => s,
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("the slug '{s}' is already taken"),
                ))
            }
        },
        None => app
            .store
            .create_generated(app.settings.slug_length, &link)?,
    };
    app.store.sync().await?;
    tracing::info!(%slug, "link created");
    let mut resp = json(StatusCode::CREATED, &LinkJson::new(&app, &slug, &link, 0));
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/links/{slug}")) {
        resp.headers_mut().insert(LOCATION, loc);
    }
    Ok(resp)
}

/// Longest parameter name a refusal quotes back, in characters.
const NAME_QUOTE_MAX: usize = 64;

/// Query parameters as (name, value) pairs, percent-decoded, when every
/// name is one of `accepted`.
///
/// # Errors
/// 400 naming the first other parameter and listing the accepted ones:
/// a misspelt or unsupported one (`page=2`) would otherwise be ignored
/// without a word, as unknown JSON fields are not.
fn query(
    req_query: Option<&str>,
    accepted: &'static [&'static str],
) -> Result<Vec<(String, String)>, ApiError> {
    let q: Vec<(String, String)> = url::form_urlencoded::parse(req_query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    if let Some((name, _)) = q.iter().find(|(k, _)| !accepted.contains(&k.as_str())) {
        let shown: String = name.chars().take(NAME_QUOTE_MAX).collect();
        let more = if shown.len() < name.len() { "…" } else { "" };
        return Err(ApiError::bad_request(format!(
            "'{shown}{more}' is not a query parameter of this route; the accepted ones are {}",
            accepted.join(", ")
        )));
    }
    Ok(q)
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `GET /api/links?limit=N&cursor=C&q=TEXT&tag=T`; any other parameter is a 400.
pub async fn list(app: Arc<App>, raw_query: Option<&str>) -> Reply {
    let q = query(raw_query, &["limit", "cursor", "q", "tag"])?;
    let limit = match param(&q, "limit") {
        None => PAGE_DEFAULT,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=PAGE_MAX).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit must be a whole number from 1 to {PAGE_MAX}"))
            })?,
    };
    let cursor = match param(&q, "cursor") {
        None => None,
        Some(c) => {
            Some(Cursor::decode(c).ok_or_else(|| ApiError::bad_request("cursor is not valid"))?)
        }
    };
    let needle = match param(&q, "q") {
        Some(n) if n.len() > SEARCH_MAX => {
            return Err(ApiError::bad_request(format!(
                "q must be at most {SEARCH_MAX} bytes"
            )))
        }
        Some("") | None => None,
        Some(n) => Some(n.to_owned()),
    };
    let tag = match param(&q, "tag") {
        None => None,
        Some(t) => {
            Some(crate::tags::check(t).map_err(|e| ApiError::bad_request(format!("tag: {e}")))?)
        }
    };

    #[derive(Serialize)]
    struct ListJson {
        links: Vec<LinkJson>,
        next_cursor: Option<String>,
    }
    let app2 = app.clone();
    let out = blocking(move || {
        let page =
            app2.store
                .search_tagged(limit, cursor.as_ref(), needle.as_deref(), tag.as_deref())?;
        let mut links = Vec::with_capacity(page.links.len());
        for (slug, link) in &page.links {
            links.push(LinkJson::new(&app2, slug, link, app2.store.clicks(slug)?));
        }
        Ok(ListJson {
            links,
            next_cursor: page.next.map(|c| c.encode()),
        })
    })
    .await?;
    Ok(json(StatusCode::OK, &out))
}

fn no_link(slug: &str) -> ApiError {
    ApiError::not_found(format!("no link with slug '{slug}'"))
}

/// `GET /api/links/{slug}`.
pub async fn get(app: Arc<App>, slug: &str) -> Reply {
    let link = app.store.get(slug)?.ok_or_else(|| no_link(slug))?;
    let clicks = app.store.clicks(slug)?;
    Ok(json(
        StatusCode::OK,
        &LinkJson::new(&app, slug, &link, clicks),
    ))
}

/// `PATCH /api/links/{slug}`.
pub async fn patch(app: Arc<App>, slug: &str, req: Request<Incoming>) -> Reply {
    let body: PatchRequest = read_json(req).await?;
    let password = body.password.clone();
    let mut patch = body.check(&app.rules)?;
    if let Some(Some(p)) = password {
        patch.password = Some(Some(hash_password(&app, p.0).await?));
    }
    let link = app
        .store
        .update(slug, &patch)?
        .ok_or_else(|| no_link(slug))?;
    app.store.sync().await?;
    let clicks = app.store.clicks(slug)?;
    Ok(json(
        StatusCode::OK,
        &LinkJson::new(&app, slug, &link, clicks),
    ))
}

/// `DELETE /api/links/{slug}`.
pub async fn delete(app: Arc<App>, slug: &str) -> Reply {
    if !app.store.delete(slug)? {
        return Err(no_link(slug));
    }
    app.store.sync().await?;
    tracing::info!(%slug, "link deleted");
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

/// `GET /api/links/{slug}/stats?days=N`.
pub async fn stats(app: Arc<App>, slug: &str, raw_query: Option<&str>) -> Reply {
    let q = query(raw_query, &["days"])?;
    let days = match param(&q, "days") {
        None => DAYS_DEFAULT,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=DAYS_MAX).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("days must be a whole number from 1 to {DAYS_MAX}"))
            })?,
    };
    if app.store.get(slug)?.is_none() {
        return Err(no_link(slug));
    }

    let today = clock::day_of(clock::now_ms());
    let from = today.saturating_sub(days - 1);
    let (app2, s) = (app.clone(), slug.to_owned());
    let (clicks, daily, sources) = blocking(move || {
        let store = &app2.store;
        Ok((
            store.clicks(&s)?,
            store.daily(&s, from, today)?,
            store.sources(&s)?,
        ))
    })
    .await?;
    let daily = (from..=today)
        .zip(daily)
        .map(|(d, clicks)| Day {
            date: clock::format_day(d),
            clicks,
        })
        .collect();
    let bots = Bots {
        visits: sources.bot_visits(),
        names: sources
            .bots
            .into_iter()
            .map(|(name, visits)| BotVisits { name, visits })
            .collect(),
    };
    let referrers = Referrers {
        hosts: sources
            .referrers
            .into_iter()
            .map(|(host, clicks)| HostClicks { host, clicks })
            .collect(),
        other: sources.other_referrers,
    };
    Ok(json(
        StatusCode::OK,
        &StatsJson {
            slug: slug.to_owned(),
            clicks,
            daily,
            referrers,
            bots,
        },
    ))
}

/// The body of `GET /api/links/{slug}/stats`.
#[derive(Serialize)]
struct StatsJson {
    slug: String,
    /// Clicks by people (bots are in `bots`).
    clicks: u64,
    daily: Vec<Day>,
    referrers: Referrers,
    bots: Bots,
}

#[derive(Serialize)]
struct Day {
    date: String,
    clicks: u64,
}

/// Clicks by referrer host, most first, and those from hosts past the
/// per-link bound.
#[derive(Serialize)]
struct Referrers {
    hosts: Vec<HostClicks>,
    other: u64,
}

#[derive(Serialize)]
struct HostClicks {
    host: String,
    clicks: u64,
}

/// Bot visits, in all and by bot name, most first.
#[derive(Serialize)]
struct Bots {
    visits: u64,
    names: Vec<BotVisits>,
}

#[derive(Serialize)]
struct BotVisits {
    name: String,
    visits: u64,
}

/// `GET /api/links/{slug}/qr?format=svg|png&size=N`: a QR code of the
/// link's short URL (default SVG, 256 pixels).
pub async fn qr(app: Arc<App>, slug: &str, raw_query: Option<&str>) -> Reply {
    let q = query(raw_query, &["format", "size"])?;
    let format = match param(&q, "format") {
        None => qr::Format::Svg,
        Some(f) => qr::Format::parse(f)
            .ok_or_else(|| ApiError::bad_request("format must be svg or png"))?,
    };
    let size = match param(&q, "size") {
        None => qr::DEFAULT_SIZE,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (qr::MIN_SIZE..=qr::MAX_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "size must be a whole number of pixels from {} to {}",
                    qr::MIN_SIZE,
                    qr::MAX_SIZE
                ))
            })?,
    };
    if app.store.get(slug)?.is_none() {
        return Err(no_link(slug));
    }
    let url = app.short_url(slug);
    // A large PNG takes milliseconds to draw and compress: not on a worker.
    let image = tokio::task::spawn_blocking(move || qr::render(&url, format, size))
        .await
        .map_err(|_| ApiError::from(StoreError::TaskFailed))?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot draw a QR code");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot draw the QR code")
        })?;
    let mut resp = Response::new(Body::from(image));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Ok(resp)
}
