//! Quiet hours: a tenant's daily window, in the consumer's own local time, during which no new
//! outbound chat is opened (state laws such as Florida's, Oklahoma's and Washington's restrict
//! marketing texts to 8 am – 8 pm in the recipient's time zone).
//!
//! The consumer's time zones come from the NANP area code (and, where libphonenumber knows
//! better, a longer prefix) through libphonenumber's time zone map, shipped in
//! `data/nanp_time_zones.txt` (see `scripts/time-zones.sh`). Where a prefix spans several zones
//! it is quiet hours if it is quiet hours in any of them; where the map knows no zone of its own
//! for the number (non-geographic codes), in any US zone from Eastern to Hawaii.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;

use crate::admin::AdminInputError;
use crate::E164Number;

/// The map's source text.
const MAP: &str = include_str!("../data/nanp_time_zones.txt");

/// The zones a number of unknown zone may be in: the US zones from Eastern to Hawaii.
const US_ZONES: [Tz; 7] = [
    Tz::America__New_York,
    Tz::America__Chicago,
    Tz::America__Denver,
    Tz::America__Phoenix,
    Tz::America__Los_Angeles,
    Tz::America__Anchorage,
    Tz::Pacific__Honolulu,
];

/// The prefix map: digits after `+` to their zones.
fn map() -> &'static HashMap<&'static str, Vec<Tz>> {
    static PARSED: OnceLock<HashMap<&'static str, Vec<Tz>>> = OnceLock::new();
    PARSED.get_or_init(|| {
        MAP.lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .filter_map(|line| line.split_once('|'))
            .map(|(prefix, zones)| (prefix, zones.split('&').filter_map(|z| z.parse::<Tz>().ok()).collect()))
            .collect()
    })
}

/// The map's longest prefix, in digits (libphonenumber's go to seven for +1).
const LONGEST_PREFIX: usize = 10;

/// The time zones a consumer with this number may be in. Never empty.
pub fn zones_for(number: &E164Number) -> Vec<Tz> {
    let digits = number.as_str().trim_start_matches('+');
    let map = map();
    // "1" alone names every NANP zone (Canada's and the Caribbean's too): no zone of its own.
    let found = (2..=digits.len().min(LONGEST_PREFIX))
        .rev()
        .find_map(|n| digits.get(..n).and_then(|prefix| map.get(prefix)))
        .filter(|zones| !zones.is_empty());
    found.cloned().unwrap_or_else(|| US_ZONES.to_vec())
}

/// A daily window in local time, `start` inclusive, `end` exclusive; it crosses midnight when
/// `end` is earlier than `start` (`21:00`–`08:00` is quiet from 21:00 until 07:59).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: NaiveTime,
    end: NaiveTime,
}

impl QuietHours {
    /// From a tenant's `quiet_hours_start` and `quiet_hours_end`: both set or both null (no
    /// quiet hours); each `"HH:MM"`, 24-hour; not equal.
    pub fn from_settings(start: Option<&str>, end: Option<&str>) -> Result<Option<Self>, AdminInputError> {
        match (start, end) {
            (None, None) => Ok(None),
            (Some(start), Some(end)) => {
                let start = parse_hhmm(start).ok_or(AdminInputError::QuietHoursFormat("quiet_hours_start"))?;
                let end = parse_hhmm(end).ok_or(AdminInputError::QuietHoursFormat("quiet_hours_end"))?;
                if start == end {
                    return Err(AdminInputError::QuietHoursEmpty);
                }
                Ok(Some(Self { start, end }))
            }
            _ => Err(AdminInputError::QuietHoursPair),
        }
    }

    /// Whether `local` (a time of day) falls in the window.
    pub fn contains(&self, local: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= local && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }

    /// Whether it is quiet hours for a consumer with this number at `at`: in any of the zones
    /// the number may be in.
    pub fn applies(&self, number: &E164Number, at: DateTime<Utc>) -> bool {
        zones_for(number).iter().any(|tz| {
            let local = at.with_timezone(tz);
            self.contains(NaiveTime::from_hms_opt(local.hour(), local.minute(), 0).unwrap_or_default())
        })
    }
}

impl QuietHours {
    /// When a consumer with this number, in quiet hours at `at`, may next be texted: the end
    /// of the window in the latest of the zones the number may be in (quiet hours hold while
    /// any of them is quiet), as a time in that zone.
    pub fn next_allowed(&self, number: &E164Number, at: DateTime<Utc>) -> DateTime<Tz> {
        let mut latest: Option<DateTime<Tz>> = None;
        for tz in zones_for(number) {
            let local = at.with_timezone(&tz);
            if !self.contains(NaiveTime::from_hms_opt(local.hour(), local.minute(), 0).unwrap_or_default()) {
                continue;
            }
            let mut day = local.date_naive();
            // The window's end today, or tomorrow when it is past (at most two days on).
            for _ in 0..3 {
                let end = day.and_time(self.end).and_local_timezone(tz).earliest();
                if let Some(end) = end.filter(|end| *end > local) {
                    if latest.is_none_or(|l| end.with_timezone(&Utc) > l.with_timezone(&Utc)) {
                        latest = Some(end);
                    }
                    break;
                }
                day = day.succ_opt().unwrap_or(day);
            }
        }
        latest.unwrap_or_else(|| at.with_timezone(&Tz::UTC))
    }
}

impl QuietHours {
    /// The window under way in zone `tz` at `at`, or else the next one to begin: its start and
    /// end as times in that zone (the console shows them for a few US zones).
    pub fn window_in(&self, tz: Tz, at: DateTime<Utc>) -> Option<(DateTime<Tz>, DateTime<Tz>)> {
        let local = at.with_timezone(&tz);
        let today = local.date_naive();
        let crosses_midnight = self.end <= self.start;
        let days = [today.pred_opt(), Some(today), today.succ_opt()];
        days.into_iter().flatten().find_map(|day| {
            let start = day.and_time(self.start).and_local_timezone(tz).earliest()?;
            let end_day = if crosses_midnight { day.succ_opt()? } else { day };
            let end = end_day.and_time(self.end).and_local_timezone(tz).earliest()?;
            (end > local).then_some((start, end))
        })
    }
}

/// Whether `value` is a time of day as quiet hours take it, `"HH:MM"`.
pub fn is_hhmm(value: &str) -> bool {
    parse_hhmm(value).is_some()
}

/// `"HH:MM"`: two digits of hour (00–23), a colon, two digits of minute (00–59).
fn parse_hhmm(value: &str) -> Option<NaiveTime> {
    let bytes = value.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' || !value.chars().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit()) {
        return None;
    }
    let hour = value.get(..2)?.parse::<u32>().ok()?;
    let minute = value.get(3..)?.parse::<u32>().ok()?;
    NaiveTime::from_hms_opt(hour, minute, 0).filter(|_| hour < 24 && minute < 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn number(n: &str) -> E164Number {
        E164Number::parse(n).unwrap_or_else(|e| panic!("{n}: {e:?}"))
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("a valid instant")
    }

    fn window(start: &str, end: &str) -> QuietHours {
        match QuietHours::from_settings(Some(start), Some(end)) {
            Ok(Some(q)) => q,
            other => panic!("{start}-{end}: {other:?}"),
        }
    }

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()
    }

    #[test]
    fn settings_are_two_times_or_none() {
        assert_eq!(QuietHours::from_settings(None, None), Ok(None));
        assert_eq!(QuietHours::from_settings(Some("21:00"), None), Err(AdminInputError::QuietHoursPair));
        assert_eq!(QuietHours::from_settings(None, Some("08:00")), Err(AdminInputError::QuietHoursPair));
        for bad in ["24:00", "9:00", "09:60", "0900", "09:00:00", "ab:cd", " 9:00", "０9:00", "+9:00"] {
            assert_eq!(
                QuietHours::from_settings(Some(bad), Some("08:00")),
                Err(AdminInputError::QuietHoursFormat("quiet_hours_start")),
                "{bad}"
            );
        }
        assert_eq!(
            QuietHours::from_settings(Some("21:00"), Some("8:00")),
            Err(AdminInputError::QuietHoursFormat("quiet_hours_end"))
        );
        assert_eq!(QuietHours::from_settings(Some("08:00"), Some("08:00")), Err(AdminInputError::QuietHoursEmpty));
    }

    #[test]
    fn windows_within_a_day_and_across_midnight() {
        let day = window("09:00", "17:30");
        assert!(!day.contains(at(8, 59)) && day.contains(at(9, 0)) && day.contains(at(17, 29)));
        assert!(!day.contains(at(17, 30)), "the end is not quiet");
        let night = window("21:00", "08:00");
        assert!(night.contains(at(21, 0)) && night.contains(at(23, 59)) && night.contains(at(0, 0)));
        assert!(night.contains(at(7, 59)) && !night.contains(at(8, 0)) && !night.contains(at(20, 59)));
        assert!(!night.contains(at(12, 0)));
    }

    #[test]
    fn numbers_map_to_their_area_codes_zones() {
        assert_eq!(zones_for(&number("+1 212 555 0100")), [Tz::America__New_York]);
        assert_eq!(zones_for(&number("+1 415 555 0100")), [Tz::America__Los_Angeles]);
        assert_eq!(zones_for(&number("+1 808 555 0100")), [Tz::Pacific__Honolulu]);
        assert_eq!(zones_for(&number("+1 602 555 0100")), [Tz::America__Phoenix]);
        // Idaho's 208 spans two zones; some exchanges are known to be Mountain.
        assert_eq!(zones_for(&number("+1 208 555 0100")), [Tz::America__Boise, Tz::America__Los_Angeles]);
        // A toll-free number has no zone of its own: any US zone.
        assert_eq!(zones_for(&number("+1 800 555 0100")), US_ZONES);
    }

    #[test]
    fn quiet_hours_follow_the_consumers_clock_across_dst() {
        let law = window("20:00", "08:00");
        let (new_york, los_angeles) = (number("+1 212 555 0100"), number("+1 415 555 0100"));
        // 2026-07-01 01:30 UTC: 21:30 in New York (EDT, UTC-4), 18:30 in Los Angeles (PDT).
        let summer = utc(2026, 7, 1, 1, 30);
        assert!(law.applies(&new_york, summer));
        assert!(!law.applies(&los_angeles, summer), "another zone at the same instant");
        // 2026-01-15 00:30 UTC: 19:30 in New York (EST, UTC-5): not yet quiet.
        assert!(!law.applies(&new_york, utc(2026, 1, 15, 0, 30)));
        // The same UTC time of day on either side of the spring change (2026-03-08 in the US):
        // 12:30 UTC is 07:30 EST before it (quiet) and 08:30 EDT after it (not quiet).
        assert!(law.applies(&new_york, utc(2026, 3, 7, 12, 30)));
        assert!(!law.applies(&new_york, utc(2026, 3, 9, 12, 30)));
        // And the autumn change (2026-11-01): 12:30 UTC is 08:30 EDT before, 07:30 EST after.
        assert!(!law.applies(&new_york, utc(2026, 10, 31, 12, 30)));
        assert!(law.applies(&new_york, utc(2026, 11, 2, 12, 30)));
        // Arizona keeps standard time all year: 03:30 UTC is 20:30 there in July and January.
        let phoenix = number("+1 602 555 0100");
        assert!(law.applies(&phoenix, utc(2026, 7, 1, 3, 30)) && law.applies(&phoenix, utc(2026, 1, 1, 3, 30)));
        assert!(!law.applies(&phoenix, utc(2026, 7, 1, 2, 30)), "19:30 in Phoenix");
    }

    #[test]
    fn several_zones_are_quiet_when_any_of_them_is() {
        let law = window("20:00", "08:00");
        // 14:30 UTC in January: 09:30 in New York but 04:30 in Honolulu. A toll-free number may
        // be in either: quiet.
        let at = utc(2026, 1, 15, 14, 30);
        assert!(!law.applies(&number("+1 212 555 0100"), at));
        assert!(law.applies(&number("+1 808 555 0100"), at));
        assert!(law.applies(&number("+1 800 555 0100"), at));
        // 20:30 UTC: 15:30 in New York, 10:30 in Honolulu, daytime everywhere in the US.
        assert!(!law.applies(&number("+1 800 555 0100"), utc(2026, 1, 15, 20, 30)));
    }

    #[test]
    fn the_next_allowed_time_is_the_end_of_the_window_where_the_consumer_is() {
        let q = window("21:00", "08:00");
        // 04:30 UTC on 15 January: 23:30 in New York (+1 212), quiet until 08:00 the next day.
        let next = q.next_allowed(&number("+1 212 555 0100"), utc(2026, 1, 15, 4, 30));
        assert_eq!(next.format("%Y-%m-%d %H:%M %Z").to_string(), "2026-01-15 08:00 EST");
        // 12:00 UTC: 07:00 in New York, an hour to go.
        let next = q.next_allowed(&number("+1 212 555 0100"), utc(2026, 1, 15, 12, 0));
        assert_eq!(next.format("%H:%M").to_string(), "08:00");
    }

    #[test]
    fn the_window_under_way_or_next() {
        let q = window("21:00", "08:00");
        let ny: Tz = "America/New_York".parse().unwrap_or(Tz::UTC);
        // 15:00 in New York: the next window, tonight 21:00 to tomorrow 08:00.
        let (start, end) = q.window_in(ny, utc(2026, 1, 15, 20, 0)).unwrap_or_else(|| panic!("a window"));
        assert_eq!(start.format("%d %H:%M").to_string(), "15 21:00");
        assert_eq!(end.format("%d %H:%M").to_string(), "16 08:00");
        // 02:00 in New York: the window under way, since yesterday 21:00.
        let (start, end) = q.window_in(ny, utc(2026, 1, 15, 7, 0)).unwrap_or_else(|| panic!("a window"));
        assert_eq!(
            (start.format("%d %H:%M").to_string(), end.format("%d %H:%M").to_string()),
            ("14 21:00".into(), "15 08:00".into())
        );
    }
}
