//! CSV columns: which header names mean what, and one row into a link record.
//!
//! Header names are compared with case, spaces, `_` and `-` ignored, so
//! `Long URL`, `long_url` and `longUrl` are one name. A row becomes an
//! [`ExportRecord`] that the store validates as it validates a JSON Lines
//! line; what kurz has no place for (titles, tags, IPs) is left out.

use csv::StringRecord;

use super::{stamp, Layout, Parsed};
use crate::clock;
use crate::store::ExportRecord;

/// Length of the slugs made for rows that bring none (kurz's default).
pub const GENERATED_SLUG_LEN: usize = 7;

/// The header of kurz's own CSV export, in order.
pub const KURZ_HEADER: [&str; 7] = [
    "slug",
    "url",
    "created_at",
    "expires_at",
    "max_clicks",
    "redirect_status",
    "clicks",
];

/// Where the slug comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlugFrom {
    /// The field is the slug (YOURLS keyword, Shlink short code).
    Field(usize),
    /// The field is a short URL; the slug is its last path segment.
    ShortUrl(usize),
    /// The field is an optional slug: an empty one is generated.
    Optional(usize),
    /// The format has none: every slug is generated.
    None,
}

/// The columns of one layout, by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    slug: SlugFrom,
    url: usize,
    created: Option<usize>,
    clicks: Option<usize>,
    expires: Option<usize>,
    max_clicks: Option<usize>,
    redirect_status: Option<usize>,
}

/// A header name without case, spaces, `_` or `-`.
fn norm(name: &str) -> String {
    name.trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The normalized names of a header row.
pub fn names(header: &StringRecord) -> Vec<String> {
    header.iter().map(norm).collect()
}

fn find(names: &[String], any_of: &[&str]) -> Option<usize> {
    any_of
        .iter()
        .find_map(|want| names.iter().position(|n| n == want))
}

const URL: &[&str] = &["url", "longurl", "originalurl", "target", "destination"];
const CREATED: &[&str] = &[
    "createdat",
    "created",
    "timestamp",
    "date",
    "createdon",
    "createddate",
    "datecreated",
    "creationdate",
];
const CLICKS: &[&str] = &["clicks", "visits", "visitscount", "totalclicks"];

/// Whether a header row is kurz's own CSV header.
pub fn is_kurz(names: &[String]) -> bool {
    names.len() == KURZ_HEADER.len() && names.iter().zip(KURZ_HEADER).all(|(n, k)| *n == norm(k))
}

/// Whether the first field of a row is a URL (a header-less plain file).
pub fn starts_with_url(row: &StringRecord) -> bool {
    row.get(0).is_some_and(|f| {
        let f = f.trim().to_ascii_lowercase();
        f.starts_with("http://") || f.starts_with("https://")
    })
}

/// The columns of `layout` named in a header, or `None` when the header
/// lacks a column the layout needs (then it is not that layout's header).
pub fn from_header(layout: Layout, names: &[String]) -> Option<Columns> {
    let url = find(names, URL)?;
    let slug = match layout {
        Layout::Kurz | Layout::Plain => find(names, &["slug"]).map_or(SlugFrom::None, |i| {
            if layout == Layout::Kurz {
                SlugFrom::Field(i)
            } else {
                SlugFrom::Optional(i)
            }
        }),
        Layout::Yourls => SlugFrom::Field(find(names, &["keyword"])?),
        Layout::Shlink => match find(names, &["shortcode"]) {
            Some(i) => SlugFrom::Field(i),
            None => SlugFrom::ShortUrl(find(names, &["shorturl"])?),
        },
        Layout::Bitly => SlugFrom::ShortUrl(find(names, &["link", "bitlink", "shortlink", "id"])?),
    };
    if layout == Layout::Kurz && !is_kurz(names) {
        return None;
    }
    let plain = layout == Layout::Plain;
    Some(Columns {
        slug,
        url,
        created: find(names, CREATED).filter(|_| !plain),
        clicks: find(names, CLICKS).filter(|_| !plain),
        expires: find(names, &["expiresat"]).filter(|_| layout == Layout::Kurz),
        max_clicks: find(names, &["maxclicks"]).filter(|_| layout == Layout::Kurz),
        redirect_status: find(names, &["redirectstatus"]).filter(|_| layout == Layout::Kurz),
    })
}

/// The columns of a file without a header: `url[,slug]` for plain CSV,
/// and for YOURLS the column order of its `yourls_url` table (`keyword,
/// url, title, timestamp, ip, clicks`), which database dumps keep.
pub fn positional(layout: Layout) -> Option<Columns> {
    let none = Columns {
        slug: SlugFrom::Optional(1),
        url: 0,
        created: None,
        clicks: None,
        expires: None,
        max_clicks: None,
        redirect_status: None,
    };
    match layout {
        Layout::Plain => Some(none),
        Layout::Yourls => Some(Columns {
            slug: SlugFrom::Field(0),
            url: 1,
            created: Some(3),
            clicks: Some(5),
            ..none
        }),
        Layout::Kurz | Layout::Shlink | Layout::Bitly => None,
    }
}

impl Columns {
    /// One row as a link record, or why it cannot be one.
    pub fn record(&self, row: &StringRecord) -> Result<Parsed, String> {
        let field = |i: usize| row.get(i).map(str::trim).unwrap_or("");
        let opt = |i: Option<usize>| i.map(field).filter(|f| !f.is_empty());
        if row.get(self.url).is_none() {
            return Err(format!(
                "{} fields, but the url is field {}",
                row.len(),
                self.url + 1
            ));
        }
        let (slug, generated) = match self.slug {
            SlugFrom::Field(i) => (field(i).to_owned(), false),
            SlugFrom::ShortUrl(i) => (last_segment(field(i)).to_owned(), false),
            SlugFrom::Optional(i) if !field(i).is_empty() => (field(i).to_owned(), false),
            SlugFrom::Optional(_) | SlugFrom::None => {
                (crate::slug::generate(GENERATED_SLUG_LEN), true)
            }
        };
        let created_ms = match opt(self.created) {
            Some(t) => stamp::parse(t).map_err(|e| format!("created: {e}"))?,
            None => clock::now_ms(),
        };
        let expires_at = match opt(self.expires) {
            Some(t) => Some(clock::format_ms(
                stamp::parse(t).map_err(|e| format!("expires_at: {e}"))?,
            )),
            None => None,
        };
        let number = |i: Option<usize>, what: &str| -> Result<Option<u64>, String> {
            opt(i)
                .map(|f| {
                    f.parse::<u64>()
                        .map_err(|_| format!("{what}: '{f}' is not a whole number"))
                })
                .transpose()
        };
        let redirect_status = number(self.redirect_status, "redirect_status")?
            .map(|s| u16::try_from(s).map_err(|_| format!("redirect_status: {s} is too large")))
            .transpose()?;
        Ok(Parsed {
            record: ExportRecord {
                slug,
                url: field(self.url).to_owned(),
                created_at: clock::format_ms(created_ms),
                expires_at,
                max_clicks: number(self.max_clicks, "max_clicks")?,
                redirect_status,
                clicks: number(self.clicks, "clicks")?.unwrap_or(0),
                daily: Default::default(),
                referrers: Default::default(),
                other_referrers: 0,
                bots: Default::default(),
                created_by: None,
                tags: Vec::new(),
                password_hash: None,
            },
            generated_slug: generated,
        })
    }
}

/// The last path segment of a short URL: `https://bit.ly/3xYz` → `3xYz`.
fn last_segment(short_url: &str) -> &str {
    let trimmed = short_url.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// A record as a row of kurz's CSV export, in [`KURZ_HEADER`] order.
pub fn kurz_row(rec: &ExportRecord) -> [String; 7] {
    let or_empty = |v: Option<String>| v.unwrap_or_default();
    [
        rec.slug.clone(),
        rec.url.clone(),
        rec.created_at.clone(),
        or_empty(rec.expires_at.clone()),
        or_empty(rec.max_clicks.map(|n| n.to_string())),
        or_empty(rec.redirect_status.map(|n| n.to_string())),
        rec.clicks.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fields: &[&str]) -> StringRecord {
        StringRecord::from(fields.to_vec())
    }

    #[test]
    fn header_names_ignore_case_and_separators() {
        let names = names(&row(&[
            "\u{feff}Created",
            "Link",
            "Long URL",
            "Title",
            "Clicks",
        ]));
        assert_eq!(names, ["created", "link", "longurl", "title", "clicks"]);
        let cols = from_header(Layout::Bitly, &names).unwrap();
        let p = cols
            .record(&row(&[
                "2024-01-15T10:30:00+0000",
                "https://bit.ly/3xYz",
                "https://e.com/",
                "t",
                "12",
            ]))
            .unwrap();
        assert_eq!(p.record.slug, "3xYz");
        assert_eq!(p.record.url, "https://e.com/");
        assert_eq!(p.record.created_at, "2024-01-15T10:30:00Z");
        assert_eq!(p.record.clicks, 12);
        assert!(!p.generated_slug);
    }

    #[test]
    fn a_header_without_the_needed_columns_is_not_that_layout() {
        let names = names(&row(&["url", "slug"]));
        assert!(from_header(Layout::Yourls, &names).is_none());
        assert!(from_header(Layout::Kurz, &names).is_none());
        assert!(from_header(Layout::Plain, &names).is_some());
    }

    #[test]
    fn plain_rows_get_a_slug_when_they_have_none() {
        let cols = positional(Layout::Plain).unwrap();
        let p = cols.record(&row(&["https://e.com/"])).unwrap();
        assert!(p.generated_slug);
        assert_eq!(p.record.slug.len(), GENERATED_SLUG_LEN);
        let p = cols.record(&row(&["https://e.com/", "mine"])).unwrap();
        assert_eq!((p.record.slug.as_str(), p.generated_slug), ("mine", false));
    }

    #[test]
    fn bad_numbers_and_times_are_reasons() {
        let cols = positional(Layout::Yourls).unwrap();
        let err = cols
            .record(&row(&["k", "https://e.com/", "", "last tuesday", "", "1"]))
            .unwrap_err();
        assert!(err.starts_with("created: "), "{err}");
        let err = cols
            .record(&row(&["k", "https://e.com/", "", "2024-01-01", "", "many"]))
            .unwrap_err();
        assert_eq!(err, "clicks: 'many' is not a whole number");
    }
}
