//! When a parsed crontab next fires, in an IANA timezone: the first matching instant strictly after
//! a given one, walking the calendar day by day in local time (SDK semantics: day of month AND day
//! of week must both match; a local time skipped by a spring-forward never fires, one repeated by a
//! fall-back fires at both instants).

use chrono::{Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;

use super::cron::{self, CronSpec, DomEntry, DowEntry};
use crate::engine::{EngineError, Result};

/// The SDK gives up after a century: a schedule with no match in it never fires.
const MAX_SEARCH_DAYS: u32 = 366 * 100;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A crontab bound to its timezone.
#[derive(Debug, Clone)]
pub struct Schedule {
    spec: CronSpec,
    tz: Tz,
}

/// Parses an IANA name as `Intl` does (any letter case); the error is the SDK's.
pub fn parse_timezone(name: &str) -> Result<Tz> {
    Tz::from_str_insensitive(name)
        .map_err(|_| EngineError::invalid(format!("Invalid timezone: '{name}'")))
}

impl Schedule {
    pub fn new(expression: &str, timezone: &str) -> Result<Schedule> {
        Ok(Schedule {
            spec: cron::parse(expression)?,
            tz: parse_timezone(timezone)?,
        })
    }

    /// The first matching instant (epoch ms) strictly after `after_ms`, or None within a century.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let mut date = self.local(after_ms)?.date();
        for _ in 0..MAX_SEARCH_DAYS {
            if self.runs_on(date) {
                if let Some(t) = self.first_on_day(date, after_ms) {
                    return Some(t);
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    fn local(&self, ms: i64) -> Option<NaiveDateTime> {
        Some(self.tz.timestamp_millis_opt(ms).single()?.naive_local())
    }

    /// Local minus UTC, in ms, at an instant.
    fn offset_ms(&self, ms: i64) -> i64 {
        self.local(ms).map_or(0, |l| {
            l.and_utc().timestamp_millis() - ms.div_euclid(1000) * 1000
        })
    }

    fn runs_on(&self, date: NaiveDate) -> bool {
        let spec = &self.spec;
        spec.months & (1 << date.month()) != 0
            && spec.days_of_month.iter().any(|d| dom_matches(*d, date))
            && spec.days_of_week.iter().any(|d| dow_matches(*d, date))
    }

    /// The earliest instant after `after_ms` whose local time on `date` matches the time fields.
    fn first_on_day(&self, date: NaiveDate, after_ms: i64) -> Option<i64> {
        let day_start = date.and_time(NaiveTime::MIN).and_utc().timestamp_millis();
        // Every instant of this local day lies in this window (offsets span UTC-12 to UTC+14); the
        // offsets at its ends bound where a local time can land, which lets whole hours be skipped.
        let before = self.offset_ms(day_start - 14 * HOUR_MS);
        let after = self.offset_ms(day_start + DAY_MS + 12 * HOUR_MS);
        let (min_off, max_off) = (before.min(after), before.max(after));
        let mut best: Option<i64> = None;
        let beyond_best =
            |local: i64, best: Option<i64>| best.is_some_and(|b| local - max_off >= b);
        for &h in &self.spec.hours {
            let hour_start = day_start + i64::from(h) * HOUR_MS;
            if beyond_best(hour_start, best) {
                break;
            }
            if hour_start + HOUR_MS - min_off <= after_ms {
                continue;
            }
            for &m in &self.spec.minutes {
                let minute_start = hour_start + i64::from(m) * 60_000;
                if beyond_best(minute_start, best) {
                    break;
                }
                if minute_start + 60_000 - min_off <= after_ms {
                    continue;
                }
                for &s in &self.spec.seconds {
                    let local = minute_start + i64::from(s) * 1000;
                    if beyond_best(local, best) {
                        break;
                    }
                    let naive = date.and_hms_opt(h, m, s)?;
                    let candidates = match self.tz.from_local_datetime(&naive) {
                        LocalResult::Single(t) => [Some(t), None],
                        LocalResult::Ambiguous(a, b) => [Some(a), Some(b)],
                        LocalResult::None => [None, None],
                    };
                    for t in candidates.into_iter().flatten() {
                        let ms = t.timestamp_millis();
                        if ms > after_ms && best.is_none_or(|b| ms < b) {
                            best = Some(ms);
                        }
                    }
                }
            }
        }
        best
    }
}

fn last_day(date: NaiveDate) -> u32 {
    let (y, m) = (date.year(), date.month());
    let first_of_next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    first_of_next
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

fn weekday(date: NaiveDate, day: u32) -> Option<Weekday> {
    date.with_day(day).map(|d| d.weekday())
}

/// The weekday (Mon-Fri) nearest to `target` without leaving the month.
fn nearest_weekday(date: NaiveDate, target: u32) -> Option<u32> {
    let last = last_day(date);
    if target < 1 || target > last {
        return None;
    }
    Some(match weekday(date, target)? {
        Weekday::Sat if target == 1 => 3,
        Weekday::Sat => target - 1,
        Weekday::Sun if target == last => target - 2,
        Weekday::Sun => target + 1,
        _ => target,
    })
}

fn dom_matches(entry: DomEntry, date: NaiveDate) -> bool {
    let day = date.day();
    match entry {
        DomEntry::Day(n) => n == day,
        DomEntry::Last => day == last_day(date),
        DomEntry::BeforeLast(n) => last_day(date)
            .checked_sub(n)
            .is_some_and(|t| t >= 1 && t == day),
        DomEntry::NearestWeekday(n) => nearest_weekday(date, n) == Some(day),
        DomEntry::LastWeekday => nearest_weekday(date, last_day(date)) == Some(day),
    }
}

fn dow_matches(entry: DowEntry, date: NaiveDate) -> bool {
    let today = date.weekday().num_days_from_sunday();
    match entry {
        DowEntry::Day(d) => d == today,
        DowEntry::Nth(d, m) => d == today && (date.day() - 1) / 7 + 1 == m,
        DowEntry::LastOf(d) => d == today && date.day() + 7 > last_day(date),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).map_or(0, |d| d.timestamp_millis())
    }

    #[test]
    fn every_second_and_dst() -> Result<()> {
        let every = Schedule::new("* * * * * *", "UTC")?;
        assert_eq!(every.next_after(1_000), Some(2_000));
        assert_eq!(every.next_after(1_500), Some(2_000));
        // 02:30 does not exist on 2026-03-08 in New York: the next 02:30 is the day after.
        let ny = Schedule::new("30 2 * * *", "America/New_York")?;
        assert_eq!(
            ny.next_after(ms("2026-03-08T00:00:00-05:00")),
            Some(ms("2026-03-09T02:30:00-04:00"))
        );
        // 01:30 happens twice on 2026-11-01: both fire.
        let first = ny_fall()?.next_after(ms("2026-11-01T00:00:00-04:00"));
        assert_eq!(first, Some(ms("2026-11-01T01:30:00-04:00")));
        let second = ny_fall()?.next_after(first.unwrap_or(0));
        assert_eq!(second, Some(ms("2026-11-01T01:30:00-05:00")));
        Ok(())
    }

    fn ny_fall() -> Result<Schedule> {
        Schedule::new("30 1 * * *", "America/New_York")
    }
}
