//! Parsing and validation of the DBOS SDK 5.3.0 crontab syntax (its `scheduler/crontab.js`): 5 or 6
//! fields, nicknames, month and weekday names, lists, ranges (wrapping when inverted), steps on `*`
//! and ranges, `?` as a whole day field, and the day tokens `L`, `L-n`, `nW`, `LW` (day of month),
//! `nL`, `n#m` (day of week; 7 is Sunday). The accepted set and the error messages are the SDK's, so
//! an expression one side stores the other can fire.

use crate::engine::{EngineError, Result};

/// A day-of-month entry: a day number, or a token resolved against the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomEntry {
    Day(u32),
    /// `L`: the month's last day.
    Last,
    /// `L-n`: n days before the last.
    BeforeLast(u32),
    /// `nW`: the weekday nearest to day n, within the month.
    NearestWeekday(u32),
    /// `LW`: the weekday nearest to the last day.
    LastWeekday,
}

/// A day-of-week entry (0 = Sunday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DowEntry {
    Day(u32),
    /// `nL`: the month's last such weekday.
    LastOf(u32),
    /// `n#m`: the month's m-th such weekday.
    Nth(u32, u32),
}

/// A parsed crontab. The time fields are sorted, deduplicated value lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSpec {
    pub seconds: Vec<u32>,
    pub minutes: Vec<u32>,
    pub hours: Vec<u32>,
    pub days_of_month: Vec<DomEntry>,
    /// Bit m set for each allowed month 1..=12.
    pub months: u16,
    pub days_of_week: Vec<DowEntry>,
}

const NICKNAMES: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

/// (min, max) of each of the six fields, used for `*` and for wrapping ranges.
const BOUNDS: [(i64, i64); 6] = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];
const FIELD_NAMES: [&str; 6] = [
    "second",
    "minute",
    "hour",
    "day of month",
    "month",
    "week day",
];
/// The longest each month can be (February counted as 29), for rejecting `30 2`-style pairs.
const MAX_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// One comma-separated value after name, `*` and range expansion: a number, or text kept for the
/// day-token checks (anything left unrecognised is rejected by validation).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Num(i64),
    Text(String),
}

/// Parses and validates an expression; the error carries the SDK's message.
pub fn parse(expression: &str) -> Result<CronSpec> {
    let resolved = resolve_nickname(expression);
    let legal = |c: char| c.is_ascii_alphanumeric() || "-*/,#? ".contains(c);
    if resolved.is_empty() || !resolved.chars().all(legal) {
        return Err(EngineError::invalid("pattern includes illegal characters!"));
    }
    let raw: Vec<&str> = resolved.split(' ').filter(|f| !f.is_empty()).collect();
    // An all-space pattern splits to one empty field in the SDK.
    let count = raw.len().max(1);
    if count != 5 && count != 6 {
        return Err(EngineError::invalid(format!(
            "expected 5 or 6 fields but got {count}"
        )));
    }
    let mut patterns: Vec<String> = raw.iter().map(|f| f.to_string()).collect();
    if patterns.len() == 5 {
        patterns.insert(0, "0".into());
    }
    let fields: Vec<Vec<Value>> = (0..6).map(|i| expand_field(i, &patterns[i])).collect();
    let bad = |i: usize| {
        EngineError::invalid(format!(
            "{} is a invalid expression for {}",
            patterns[i], FIELD_NAMES[i]
        ))
    };

    let mut times: Vec<Vec<u32>> = Vec::with_capacity(3);
    for (i, field) in fields.iter().take(3).enumerate() {
        times.push(numbers_in(field, BOUNDS[i]).ok_or_else(|| bad(i))?);
    }
    let days_of_month = day_of_month_entries(&fields[3], &patterns[3]).ok_or_else(|| bad(3))?;
    let month_list = numbers_in(&fields[4], BOUNDS[4]).ok_or_else(|| bad(4))?;
    let days_of_week = day_of_week_entries(&fields[5]).ok_or_else(|| bad(5))?;
    let plain_days: Option<Vec<u32>> = days_of_month
        .iter()
        .map(|d| match d {
            DomEntry::Day(n) => Some(*n),
            _ => None,
        })
        .collect();
    if let Some(days) = plain_days {
        let possible = month_list
            .iter()
            .any(|m| days.iter().any(|d| *d <= MAX_DAYS[*m as usize - 1]));
        if !possible {
            return Err(EngineError::invalid(format!(
                "{} {} is an impossible day of month for the given month",
                patterns[3], patterns[4]
            )));
        }
    }
    let seconds = times.remove(0);
    let minutes = times.remove(0);
    let hours = times.remove(0);
    Ok(CronSpec {
        seconds,
        minutes,
        hours,
        days_of_month,
        months: month_list.iter().fold(0u16, |acc, m| acc | (1 << m)),
        days_of_week,
    })
}

fn resolve_nickname(expression: &str) -> String {
    let key = expression.trim().to_ascii_lowercase();
    NICKNAMES
        .iter()
        .find(|(name, _)| *name == key)
        .map_or_else(|| expression.to_string(), |(_, cron)| cron.to_string())
}

/// Replaces every case-insensitive occurrence of each name by its index plus `base`, full names
/// before three-letter ones (as the SDK does, so `thursday` is not read as `thu` + `rsday`).
fn replace_names(field: &str, names: &[&str], base: usize) -> String {
    let mut out = field.to_string();
    for long in [true, false] {
        for (i, name) in names.iter().enumerate() {
            let name = if long { name } else { &name[..3] };
            out = replace_ci(&out, name, &(i + base).to_string());
        }
    }
    out
}

fn replace_ci(haystack: &str, needle: &str, with: &str) -> String {
    let lower = haystack.to_ascii_lowercase();
    let mut out = String::with_capacity(haystack.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(needle) {
        out.push_str(&haystack[at..at + found]);
        out.push_str(with);
        at += found + needle.len();
    }
    out.push_str(&haystack[at..]);
    out
}

/// Names, `?`, `*` and ranges of field `i` turned into a value list.
fn expand_field(i: usize, pattern: &str) -> Vec<Value> {
    let mut text = pattern.to_string();
    if text == "?" && (i == 3 || i == 5) {
        text = "*".into();
    }
    if i == 4 {
        text = replace_names(&text, &MONTHS, 1);
    } else if i == 5 {
        text = replace_names(&text, &WEEKDAYS, 0);
    }
    let (min, max) = BOUNDS[i];
    let mut values = Vec::new();
    for token in text.split(',') {
        let token = token.replacen('*', &format!("{min}-{max}"), 1);
        match expand_range(&token, min, max) {
            Some(numbers) => values.extend(numbers.into_iter().map(Value::Num)),
            None => values.push(normalize(&token)),
        }
    }
    if i == 5 {
        // 7 is Sunday, folded only after ranges are expanded so `5-7` keeps its end.
        values = values
            .into_iter()
            .map(|v| match v {
                Value::Num(7) => Value::Num(0),
                Value::Text(t) if t.starts_with('7') => Value::Text(format!("0{}", &t[1..])),
                other => other,
            })
            .collect();
    }
    values
}

/// `a-b` or `a-b/step` as numbers; an inverted range wraps through the field's maximum. Anything
/// else, or a step below 1, is left as a token for validation.
fn expand_range(token: &str, min: i64, max: i64) -> Option<Vec<i64>> {
    let (range, step) = match token.split_once('/') {
        Some((r, s)) => (r, s),
        None => (token, "1"),
    };
    let (a, b) = range.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) || !digits(step) {
        return None;
    }
    // Out-of-range numbers are saturated: validation rejects them all the same.
    let num = |s: &str| s.parse::<i64>().unwrap_or(i64::MAX / 4).min(i64::MAX / 4);
    let (first, last, step) = (num(a), num(b), num(step));
    if step < 1 {
        return None;
    }
    if first <= last {
        if first > max {
            return Some(vec![first]);
        }
        // Bounded: values past the field's maximum only need one representative to be rejected.
        let end = last.min(max + step);
        return Some((first..=end).step_by(step as usize).collect());
    }
    let size = max - min + 1;
    let span = (last - first).rem_euclid(size);
    Some(
        (0..=span)
            .step_by(step as usize)
            .map(|offset| {
                let v = first + offset;
                if v > max {
                    v - size
                } else {
                    v
                }
            })
            .collect(),
    )
}

/// A single token: a number, or upper-cased if it looks like a day token, else kept verbatim.
fn normalize(token: &str) -> Value {
    let token = token.trim();
    if !token.is_empty() && token.bytes().all(|c| c.is_ascii_digit()) {
        return Value::Num(token.parse::<i64>().unwrap_or(i64::MAX));
    }
    let lower = token.to_ascii_lowercase();
    let day_token = lower == "l"
        || lower
            .strip_prefix("l-")
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|c| c.is_ascii_digit()))
        || (lower.len() == 2 && lower.ends_with('l') && matches!(lower.as_bytes()[0], b'0'..=b'7'))
        || lower.contains('w');
    Value::Text(if day_token {
        token.to_ascii_uppercase()
    } else {
        token.to_string()
    })
}

/// The field's numbers, sorted and deduplicated, if every value is a number within bounds.
fn numbers_in(values: &[Value], (min, max): (i64, i64)) -> Option<Vec<u32>> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        match v {
            Value::Num(n) if (min..=max).contains(n) => out.push(*n as u32),
            _ => return None,
        }
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

fn small_number(s: &str, max_len: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn day_of_month_entries(values: &[Value], raw: &str) -> Option<Vec<DomEntry>> {
    // `W` only on a single day or on `L`: checked on the raw text, before ranges hide `1-15W`.
    let w_misused = raw.split(',').any(|t| {
        let t = t.trim().to_ascii_uppercase();
        t.contains('W') && !w_token(&t)
    });
    if w_misused {
        return None;
    }
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let entry = match v {
            Value::Num(n) if (1..=31).contains(n) => DomEntry::Day(*n as u32),
            Value::Num(_) => return None,
            Value::Text(t) if t == "L" => DomEntry::Last,
            Value::Text(t) if t == "LW" => DomEntry::LastWeekday,
            Value::Text(t) if w_token(t) => {
                let n = small_number(&t[..t.len() - 1], 2)?;
                if !(1..=31).contains(&n) {
                    return None;
                }
                DomEntry::NearestWeekday(n)
            }
            Value::Text(t) => {
                let n = small_number(t.strip_prefix("L-")?, 2)?;
                if !(1..=30).contains(&n) {
                    return None;
                }
                DomEntry::BeforeLast(n)
            }
        };
        out.push(entry);
    }
    Some(out)
}

/// `nW` (one or two digits) or `LW`, upper-case.
fn w_token(t: &str) -> bool {
    t.strip_suffix('W')
        .is_some_and(|d| d == "L" || small_number(d, 2).is_some())
}

fn day_of_week_entries(values: &[Value]) -> Option<Vec<DowEntry>> {
    let mut out: Vec<DowEntry> = Vec::with_capacity(values.len());
    for v in values {
        let entry = match v {
            Value::Num(n) if (0..=7).contains(n) => DowEntry::Day((*n % 7) as u32),
            Value::Num(_) => return None,
            Value::Text(t) => {
                let b = t.as_bytes();
                let day = match b.first() {
                    Some(c @ b'0'..=b'7') => u32::from(c - b'0') % 7,
                    _ => return None,
                };
                match &b[1..] {
                    [b'L'] => DowEntry::LastOf(day),
                    [b'#', m @ b'1'..=b'5'] => DowEntry::Nth(day, u32::from(m - b'0')),
                    _ => return None,
                }
            }
        };
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    Some(out)
}
