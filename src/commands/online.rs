//! The admin commands run through a running server (`--server`), printing
//! what their offline forms print.
//!
//! `list`, `stats` and `export` read the API's answers and write them in
//! the offline layout (the printers for `list` and `stats` live here and
//! serve both), `add` and `delete` are one API call each, and `check` asks
//! `/healthz` and reads every link back through the export; the
//! bookkeeping comparison of the offline check needs the database itself.
//! `import` is in `online/import.rs`.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use hyper::{Method, StatusCode};
use serde::Deserialize;

use super::remote::Server;
use super::transfer::Sink;
use super::{io_err, CommandError};
use crate::formats::ExportFormat;
use crate::password::Secret;
use crate::store::ExportRecord;

mod import;

pub(super) use import::import;

/// Links asked for per page (the API's largest page).
const PAGE: usize = 1000;

/// One row of `kurz list`: slug, clicks, created, target, tab-separated.
pub(super) fn list_row(
    out: &mut impl Write,
    slug: &str,
    clicks: u64,
    created: &str,
    target: &str,
) -> io::Result<()> {
    writeln!(out, "{slug}\t{clicks}\t{created}\t{target}")
}

/// What `kurz stats` shows of a link.
pub(super) struct StatsView {
    pub slug: String,
    pub target: String,
    pub created: String,
    pub clicks: u64,
    /// (YYYY-MM-DD, clicks), oldest first.
    pub daily: Vec<(String, u64)>,
    pub referrers: Vec<(String, u64)>,
    pub other_referrers: u64,
    pub bot_visits: u64,
    pub bots: Vec<(String, u64)>,
}

impl StatsView {
    /// Prints the view as `kurz stats` shows it.
    pub(super) fn print(&self) {
        println!("slug:    {}", self.slug);
        println!("url:     {}", self.target);
        println!("created: {}", self.created);
        println!("clicks:  {}", self.clicks);
        for (day, n) in &self.daily {
            println!("{day}  {n}");
        }
        if !self.referrers.is_empty() || self.other_referrers > 0 {
            println!("referrers:");
            for (host, n) in &self.referrers {
                println!("  {host}  {n}");
            }
            if self.other_referrers > 0 {
                println!("  (other hosts)  {}", self.other_referrers);
            }
        }
        println!("bot visits: {}", self.bot_visits);
        for (name, n) in &self.bots {
            println!("  {name}  {n}");
        }
    }
}

/// The fields of the API's link JSON these commands show.
#[derive(Deserialize)]
struct LinkJson {
    slug: String,
    url: String,
    short_url: String,
    created_at: String,
    clicks: u64,
}

/// `kurz list --server`.
pub(super) fn list(server: &Server, limit: Option<usize>) -> Result<ExitCode, CommandError> {
    #[derive(Deserialize)]
    struct Page {
        links: Vec<LinkJson>,
        next_cursor: Option<String>,
    }
    let mut out = BufWriter::new(io::stdout().lock());
    let mut left = limit.unwrap_or(usize::MAX);
    let mut cursor: Option<String> = None;
    while left > 0 {
        let n = left.min(PAGE).to_string();
        let mut query = vec![("limit", n.as_str())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.as_str()));
        }
        let page: Page = server.get_json(&["api", "links"], &query, None)?;
        for l in &page.links {
            list_row(&mut out, &l.slug, l.clicks, &l.created_at, &l.url)
                .map_err(io_err("writing the list"))?;
        }
        left = left.saturating_sub(page.links.len());
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.flush().map_err(io_err("writing the list"))?;
    Ok(ExitCode::SUCCESS)
}

/// `kurz stats --server`: the link, then its stats (two requests; a click
/// in between may show in one and not the other).
pub(super) fn stats(server: &Server, slug: &str, days: u16) -> Result<ExitCode, CommandError> {
    #[derive(Deserialize)]
    struct Day {
        date: String,
        clicks: u64,
    }
    #[derive(Deserialize)]
    struct Host {
        host: String,
        clicks: u64,
    }
    #[derive(Deserialize)]
    struct Referrers {
        hosts: Vec<Host>,
        other: u64,
    }
    #[derive(Deserialize)]
    struct Bot {
        name: String,
        visits: u64,
    }
    #[derive(Deserialize)]
    struct Bots {
        visits: u64,
        names: Vec<Bot>,
    }
    #[derive(Deserialize)]
    struct Stats {
        clicks: u64,
        daily: Vec<Day>,
        referrers: Referrers,
        bots: Bots,
    }
    let link: LinkJson = server.get_json(&["api", "links", slug], &[], Some(slug))?;
    let days = days.to_string();
    let stats: Stats = server.get_json(
        &["api", "links", slug, "stats"],
        &[("days", &days)],
        Some(slug),
    )?;
    StatsView {
        slug: link.slug,
        target: link.url,
        created: link.created_at,
        clicks: stats.clicks,
        daily: stats
            .daily
            .into_iter()
            .map(|d| (d.date, d.clicks))
            .collect(),
        referrers: stats
            .referrers
            .hosts
            .into_iter()
            .map(|h| (h.host, h.clicks))
            .collect(),
        other_referrers: stats.referrers.other,
        bot_visits: stats.bots.visits,
        bots: stats
            .bots
            .names
            .into_iter()
            .map(|b| (b.name, b.visits))
            .collect(),
    }
    .print();
    Ok(ExitCode::SUCCESS)
}

/// `kurz delete --server`.
pub(super) fn delete(server: &Server, slug: &str) -> Result<ExitCode, CommandError> {
    server.call(
        Method::DELETE,
        &["api", "links", slug],
        &[],
        None,
        Some(slug),
    )?;
    println!("deleted {slug}");
    Ok(ExitCode::SUCCESS)
}

/// What `kurz add` asks for, offline or not.
pub(super) struct NewLinkArgs {
    pub url: String,
    pub slug: Option<String>,
    pub tags: Vec<String>,
    pub expires: Option<String>,
    pub max_clicks: Option<u64>,
    pub password: Option<Secret>,
}

impl NewLinkArgs {
    /// The API's create request for these arguments (the password still
    /// in it: the caller checks it, and offline hashes it).
    pub(super) fn request(&self) -> crate::http::wire::CreateRequest {
        crate::http::wire::CreateRequest {
            url: self.url.clone(),
            slug: self.slug.clone(),
            expires_at: self.expires.clone(),
            max_clicks: self.max_clicks,
            redirect_status: None,
            tags: (!self.tags.is_empty()).then(|| self.tags.clone()),
            password: self.password.clone(),
        }
    }
}

/// `kurz add --server`: `POST /api/links`, printing the short URL the
/// server made (on its own base URL).
pub(super) fn add(server: &Server, args: &NewLinkArgs) -> Result<ExitCode, CommandError> {
    let mut body = serde_json::json!({ "url": args.url });
    if let Some(s) = &args.slug {
        body["slug"] = s.as_str().into();
    }
    if !args.tags.is_empty() {
        body["tags"] = args.tags.clone().into();
    }
    if let Some(e) = &args.expires {
        body["expires_at"] = e.as_str().into();
    }
    if let Some(m) = args.max_clicks {
        body["max_clicks"] = m.into();
    }
    if let Some(p) = &args.password {
        body["password"] = p.0.as_str().into();
    }
    let bytes = serde_json::to_vec(&body).map_err(|e| server.bad_answer(&e))?;
    let answer = server.call(Method::POST, &["api", "links"], &[], Some(bytes), None)?;
    let link: LinkJson = serde_json::from_slice(&answer).map_err(|e| server.bad_answer(&e))?;
    println!("{}", link.short_url);
    Ok(ExitCode::SUCCESS)
}

/// `kurz export --server`: the server's `GET /api/export` (JSON Lines),
/// written as it comes, or turned into the offline CSV.
pub(super) fn export(
    server: &Server,
    format: ExportFormat,
    output: Option<&Path>,
) -> Result<ExitCode, CommandError> {
    let (what, sink) = super::transfer::output_file(output)?;
    let mut out = Sink::new(format, BufWriter::new(sink)).map_err(io_err(what.clone()))?;
    let n = each_record(server, |rec| out.write(&rec).map_err(io_err(what.clone())))?;
    out.flush().map_err(io_err(what.clone()))?;
    if let Some(p) = output {
        eprintln!("exported {n} links to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Calls `each` on every record of the server's export, in its order;
/// returns how many there were.
fn each_record(
    server: &Server,
    mut each: impl FnMut(ExportRecord) -> Result<(), CommandError>,
) -> Result<u64, CommandError> {
    let mut line = Vec::new();
    let mut n = 0u64;
    server.stream(&["api", "export"], |chunk| {
        for piece in chunk.split_inclusive(|&b| b == b'\n') {
            line.extend_from_slice(piece);
            if line.last() == Some(&b'\n') {
                let rec: ExportRecord =
                    serde_json::from_slice(&line).map_err(|e| server.bad_answer(&e))?;
                line.clear();
                n += 1;
                each(rec)?;
            }
        }
        Ok(())
    })?;
    if !line.is_empty() {
        return Err(server.bad_answer(&"the export ends in the middle of a line"));
    }
    Ok(n)
}

/// `kurz check --server`: `/healthz`, then every link read back through the
/// export (which the server cuts short at a damaged record).
pub(super) fn check(server: &Server) -> Result<ExitCode, CommandError> {
    let (status, health) = server.get_text(&["healthz"])?;
    let health = health.trim();
    if status != StatusCode::OK {
        println!("problem: the server's /healthz answered {status}: {health}");
    }
    let links = match each_record(server, |_| Ok(())) {
        Ok(n) => n,
        Err(CommandError::Unreachable { reason, .. }) => {
            println!("problem: reading every link through the export failed: {reason}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e),
    };
    println!(
        "note: through the server, only /healthz and the export are checked; the comparison \
         with the bookkeeping needs `kurz check` with the server stopped"
    );
    if status != StatusCode::OK {
        return Ok(ExitCode::FAILURE);
    }
    println!("ok: {links} links, every record readable through the server's export");
    Ok(ExitCode::SUCCESS)
}
