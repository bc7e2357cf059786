//! Date builtins: parts of an epoch-millisecond timestamp in UTC, and the `date`/`time`
//! string conversions.
//!
//! The calendar arithmetic is done here (proleptic Gregorian, days from the epoch) rather
//! than with chrono, because JavaScript dates span ±8.64e15 ms (±275,760 years), beyond
//! chrono's range.

use super::{Args, Builtin, Out, number, owned};
use crate::value::Value;

const MS_PER_DAY: i64 = 86_400_000;

/// JavaScript `TimeClip`: the integral time value (truncated toward zero), or `None` for an
/// invalid date (non-finite, or beyond ±8.64e15 ms).
fn time_clip(ts: f64) -> Option<i64> {
    #[allow(clippy::cast_possible_truncation)] // |ts| <= 8.64e15, so exact after trunc
    (ts.is_finite() && ts.abs() <= 8.64e15).then(|| ts.trunc() as i64)
}

/// Year, month (1-based), day of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to a civil date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The UTC `(year, month, day, hours, minutes, seconds)` of a clipped time value.
fn parts(t: i64) -> [i64; 6] {
    let (y, mo, d) = civil_from_days(t.div_euclid(MS_PER_DAY));
    let ms = t.rem_euclid(MS_PER_DAY);
    [y, mo, d, ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60]
}

/// `year`…`seconds`: a number's UTC part (`NaN` for an invalid date); anything else
/// unchanged.
pub(super) fn part<'a>(builtin: Builtin, args: &mut Args<'a>) -> Out<'a> {
    let Some(ts) = args.num(0) else {
        return Ok(args.take(0));
    };
    let index = match builtin {
        Builtin::Year => 0,
        Builtin::Month => 1,
        Builtin::Day => 2,
        Builtin::Hours => 3,
        Builtin::Minutes => 4,
        _ => 5,
    };
    #[allow(clippy::cast_precision_loss)] // small integers
    number(time_clip(ts).map_or(f64::NAN, |t| parts(t)[index] as f64))
}

/// `dateOf`, `timeOf`, `datetimeOf`: `null` on invalid input.
pub(super) fn call<'a>(builtin: Builtin, args: &Args<'a>) -> Out<'a> {
    let clipped = || args.num(0).and_then(time_clip).map(parts);
    owned(match builtin {
        Builtin::DateOf => clipped().map_or(Value::Null, |[y, mo, d, ..]| {
            Value::String(format!("{y}-{mo:02}-{d:02}"))
        }),
        Builtin::TimeOf => clipped().map_or(Value::Null, |[.., h, mi, s]| {
            Value::String(format!("{h:02}:{mi:02}:{s:02}"))
        }),
        _ => datetime_of(args.get(0), args.get(1)).map_or(Value::Null, Value::Number),
    })
}

/// `datetimeOf(date, time?)`: epoch ms of `"YYYY-MM-DD"` at `"HH:MM:SS"` (midnight when
/// absent) UTC.
fn datetime_of(date: &Value, time: &Value) -> Option<f64> {
    let [y, mo, d] = fields(date.as_str()?, '-', [4, 2, 2])?;
    // The reference checks the day with `Date.UTC(year, month, 0)`, which reads years
    // 0–99 as 1900–1999.
    let check_year = if y <= 99 { y + 1900 } else { y };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(check_year, mo) {
        return None;
    }
    let [h, mi, s] = match time {
        Value::Undefined => [0, 0, 0],
        other => fields(other.as_str()?, ':', [2, 2, 2])?,
    };
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let ms = days_from_civil(y, mo, d) * MS_PER_DAY + h * 3_600_000 + mi * 60_000 + s * 1000;
    #[allow(clippy::cast_precision_loss)] // |ms| < 2^53 for four-digit years
    Some(ms as f64)
}

/// Three ASCII-digit fields of the given widths, separated by `sep`, and nothing else.
fn fields(s: &str, sep: char, widths: [usize; 3]) -> Option<[i64; 3]> {
    let mut parts = s.split(sep);
    let mut out = [0; 3];
    for (slot, width) in out.iter_mut().zip(widths) {
        let part = parts.next()?;
        if part.len() != width || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let next = if month == 12 {
        days_from_civil(year + 1, 1, 1)
    } else {
        days_from_civil(year, month + 1, 1)
    };
    next - days_from_civil(year, month, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        for days in [
            -719_468,
            -1,
            0,
            1,
            10_957,
            11_016,
            2_932_896,
            -100_000_000,
            100_000_000,
        ] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{days}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn parts_in_utc() {
        // 1_000_000_000_000 is 2001-09-09T01:46:40Z, the conformance clock.
        assert_eq!(parts(1_000_000_000_000), [2001, 9, 9, 1, 46, 40]);
        assert_eq!(parts(-1), [1969, 12, 31, 23, 59, 59]);
        assert_eq!(parts(8_640_000_000_000_000), [275_760, 9, 13, 0, 0, 0]);
        assert_eq!(parts(-8_640_000_000_000_000), [-271_821, 4, 20, 0, 0, 0]);
        assert_eq!(time_clip(-1.5), Some(-1));
        assert_eq!(time_clip(8.64e15 + 1.0), None);
        assert_eq!(time_clip(f64::NAN), None);
    }

    #[test]
    fn datetime_of_validates_like_the_reference() {
        let dt = |d: &str, t: Option<&str>| {
            datetime_of(&Value::from(d), &t.map_or(Value::Undefined, Value::from))
        };
        assert_eq!(dt("2001-09-09", Some("01:46:40")), Some(1e12));
        assert_eq!(dt("1970-01-01", None), Some(0.0));
        assert_eq!(dt("2024-02-29", None), Some(1_709_164_800_000.0));
        assert_eq!(dt("2023-02-29", None), None);
        assert_eq!(dt("2024-13-01", None), None);
        assert_eq!(dt("2024-1-01", None), None);
        assert_eq!(dt("2024-01-01", Some("24:00:00")), None);
        assert_eq!(dt("2024-01-01", Some("1:00:00")), None);
        assert_eq!(dt("2024-01-01 ", None), None);
        // Years 0-99 are checked as 1900-1999: 1900 is not a leap year, 1904 is.
        assert_eq!(dt("0000-02-29", None), None);
        assert!(dt("0004-02-29", None).is_some());
        assert_eq!(datetime_of(&Value::from("2024-01-01"), &Value::Null), None);
        assert_eq!(datetime_of(&Value::Number(0.0), &Value::Undefined), None);
    }
}
