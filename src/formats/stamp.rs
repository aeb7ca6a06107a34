//! Creation times as other shorteners write them, read into Unix milliseconds.
//!
//! YOURLS writes MySQL `DATETIME`s (`2024-01-15 10:30:00`), Shlink ISO 8601
//! with an offset, Bitly ISO 8601 with a `+0000` offset, and hand-made files
//! often a bare date or Unix seconds. A time without an offset is taken as
//! UTC: the files do not say which zone they mean, and UTC is what kurz keeps.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::clock;

/// `2024-01-15 10:30:00` or `2024-01-15T10:30:00`, with optional fractions.
const LOCAL: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day][first [ ][T]][hour]:[minute]:[second][optional [.[subsecond]]]"
);

/// The same with a `+0000`-style offset (Bitly).
const COMPACT_OFFSET: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day][first [ ][T]][hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory][offset_minute]"
);

/// A bare date, taken as midnight UTC.
const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// Unix seconds up to this are seconds; larger numbers are milliseconds
/// (10^11 s is the year 5138, 10^11 ms is 1973).
const SECONDS_UP_TO: i64 = 100_000_000_000;

/// Parses a creation time in any of the forms above into Unix milliseconds.
///
/// # Errors
/// A message naming the text when it is none of the forms, or falls outside
/// the years 0000 to 9999.
pub fn parse(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(ms) = clock::parse_rfc3339(text) {
        return Ok(ms);
    }
    let nanos = if let Ok(t) = PrimitiveDateTime::parse(text, LOCAL) {
        t.assume_utc().unix_timestamp_nanos()
    } else if let Ok(t) = OffsetDateTime::parse(text, COMPACT_OFFSET) {
        t.unix_timestamp_nanos()
    } else if let Ok(d) = Date::parse(text, DATE) {
        d.midnight().assume_utc().unix_timestamp_nanos()
    } else if let Some(n) = text.parse::<i64>().ok().filter(|_| !text.starts_with('+')) {
        let ms = if n.abs() <= SECONDS_UP_TO {
            n.saturating_mul(1000)
        } else {
            n
        };
        i128::from(ms) * 1_000_000
    } else {
        return Err(format!(
            "'{text}' is not a time kurz can read (RFC 3339, 'YYYY-MM-DD HH:MM:SS', \
             'YYYY-MM-DD' or Unix seconds)"
        ));
    };
    let in_range = OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .is_ok_and(|t| (0..=9999).contains(&t.year()));
    if !in_range {
        return Err(format!("'{text}' is outside the years 0000 to 9999"));
    }
    i64::try_from(nanos / 1_000_000).map_err(|_| format!("'{text}' is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(text: &str) -> String {
        clock::format_ms(parse(text).unwrap())
    }

    #[test]
    fn reads_the_forms_other_shorteners_write() {
        assert_eq!(iso("2024-01-15 10:30:00"), "2024-01-15T10:30:00Z");
        assert_eq!(iso("2024-01-15T10:30:00"), "2024-01-15T10:30:00Z");
        assert_eq!(iso("2024-01-15 10:30:00.25"), "2024-01-15T10:30:00.25Z");
        assert_eq!(iso("2024-01-15T10:30:00+02:00"), "2024-01-15T08:30:00Z");
        assert_eq!(iso("2024-01-15T10:30:00+0000"), "2024-01-15T10:30:00Z");
        assert_eq!(iso("2024-01-15T10:30:00-0130"), "2024-01-15T12:00:00Z");
        assert_eq!(iso("2024-01-15"), "2024-01-15T00:00:00Z");
        assert_eq!(iso("1705314600"), "2024-01-15T10:30:00Z");
        assert_eq!(iso("1705314600123"), "2024-01-15T10:30:00.123Z");
        assert_eq!(iso(" 2024-01-15 "), "2024-01-15T00:00:00Z");
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "yesterday",
            "15/01/2024",
            "2024-13-01",
            "",
            "+12",
            "99999999999999999",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
