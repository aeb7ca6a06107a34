//! Wall-clock time as kurz stores and shows it.
//!
//! Instants are Unix milliseconds (`i64`) in records and indexes, day buckets
//! are whole UTC days since the epoch (`u32`), and every time a person sees is
//! an RFC 3339 UTC string. Keeping the conversions here means the store and the
//! HTTP layer agree on one representation.

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// Milliseconds in one UTC day.
const DAY_MS: i64 = 86_400_000;

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    // Straight from the system clock: this runs on every redirect, and a
    // calendar date would be computed only to be thrown away.
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The UTC day number (days since 1970-01-01) that `ms` falls on.
/// Instants before 1970 map to day 0.
pub fn day_of(ms: i64) -> u32 {
    u32::try_from(ms.div_euclid(DAY_MS)).unwrap_or(0)
}

/// Formats Unix milliseconds as RFC 3339 UTC, e.g. `2026-11-26T10:00:00.123Z`.
pub fn format_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{ms}ms"))
}

/// Parses an RFC 3339 time with any offset into Unix milliseconds.
///
/// # Errors
/// Returns a message saying why the text is not an RFC 3339 time, or that
/// it falls outside the years 0000 to 9999 in UTC.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let t = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("'{text}' is not an RFC 3339 time: {e}"))?;
    // An offset can move a time in year 0000 or 9999 out of those years in
    // UTC, where it could no longer be shown, exported or imported.
    let in_utc = OffsetDateTime::from_unix_timestamp_nanos(t.unix_timestamp_nanos());
    if !in_utc.is_ok_and(|u| (0..=9999).contains(&u.year())) {
        return Err(format!("'{text}' is outside the years 0000 to 9999 in UTC"));
    }
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| format!("'{text}' is out of range"))
}

/// Formats a day number as `YYYY-MM-DD`.
pub fn format_day(day: u32) -> String {
    let date = Date::from_julian_day(UNIX_EPOCH_JULIAN + day as i32).unwrap_or(Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Parses `YYYY-MM-DD` into a day number.
///
/// # Errors
/// Returns a message when the text is not such a date, or is before 1970.
pub fn parse_day(text: &str) -> Result<u32, String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(text, &fmt).map_err(|e| format!("'{text}' is not a date: {e}"))?;
    u32::try_from(date.to_julian_day() - UNIX_EPOCH_JULIAN)
        .map_err(|_| format!("'{text}' is before 1970"))
}

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN: i32 = 2_440_588;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_agrees_with_the_calendar_clock() {
        let calendar = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        assert!((now_ms() - calendar).abs() < 1_000);
    }

    #[test]
    fn round_trips() {
        let ms = parse_rfc3339("2026-11-26T10:00:00.123+01:00").unwrap();
        assert_eq!(format_ms(ms), "2026-11-26T09:00:00.123Z");
        assert_eq!(format_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_day(day_of(ms)), "2026-11-26");
        assert_eq!(parse_day("2026-11-26").unwrap(), day_of(ms));
        assert_eq!(day_of(-5), 0);
        assert!(parse_rfc3339("tomorrow").is_err());
        // Regression: the offset moved these out of 0000-9999 in UTC, and the
        // API then showed "@<ms>ms" and exports could not be imported.
        assert!(parse_rfc3339("9999-12-31T23:59:59-23:59").is_err());
        assert!(parse_rfc3339("0000-01-01T00:00:00+23:59").is_err());
        assert!(parse_rfc3339("9999-12-31T23:59:59.999Z").is_ok());
        assert!(parse_rfc3339("0000-01-01T00:00:00Z").is_ok());
        assert!(parse_day("1969-12-31").is_err());
    }
}
