//! The wire format of timestamps.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Timelike, Utc};

/// `2021-10-04T17:20:51.000Z`: UTC, RFC 3339, exactly three fractional digits. chrono's RFC 3339
/// writer, not a `format` string, which chrono parses again at every call: a send renders a
/// dozen timestamps, and the parsing showed in the server's profile (BENCHMARKS.md).
pub fn format_timestamp(t: NaiveDateTime) -> String {
    as_utc(t).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The current time truncated to whole milliseconds, so what is stored (microseconds on
/// PostgreSQL, text on SQLite) reads back identical to what was answered at creation.
pub fn now_millis() -> NaiveDateTime {
    truncate_to_millis(Utc::now().naive_utc())
}

pub fn truncate_to_millis(t: NaiveDateTime) -> NaiveDateTime {
    let nanos = t.nanosecond() / 1_000_000 * 1_000_000;
    t.with_nanosecond(nanos).unwrap_or(t)
}

/// Converts a stored naive UTC time to an aware one.
pub fn as_utc(t: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(t, Utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn formats_with_three_fraction_digits_and_z() {
        let t =
            NaiveDate::from_ymd_opt(2021, 10, 4).and_then(|d| d.and_hms_milli_opt(17, 20, 51, 0)).unwrap_or_default();
        assert_eq!(format_timestamp(t), "2021-10-04T17:20:51.000Z");
        let t = NaiveDate::from_ymd_opt(2021, 10, 4)
            .and_then(|d| d.and_hms_micro_opt(17, 20, 51, 123_456))
            .unwrap_or_default();
        assert_eq!(format_timestamp(truncate_to_millis(t)), "2021-10-04T17:20:51.123Z");
        let t =
            NaiveDate::from_ymd_opt(2026, 1, 2).and_then(|d| d.and_hms_micro_opt(3, 4, 5, 6_789)).unwrap_or_default();
        assert_eq!(format_timestamp(t), "2026-01-02T03:04:05.006Z", "the fraction is cut to milliseconds");
    }
}
