//! Schedule triggers: cron syntax and durations, as upstream's schedule-utils.

/// Five fields, each `*`, `*/n`, or digits with `,` `/` `-`.
pub(crate) fn valid_cron(expr: &str) -> bool {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    fields.len() == 5
        && fields.iter().all(|f| {
            *f == "*"
                || f.strip_prefix("*/")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                || (f
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b',' | b'/' | b'-'))
                    && f.split([',', '/', '-']).all(|p| {
                        p.is_empty() || p.bytes().next().is_some_and(|b| b.is_ascii_digit())
                    }))
        })
}

fn unit_ms(unit: &str) -> Option<f64> {
    Some(match unit {
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        "week" | "weeks" => 604_800_000.0,
        _ => return None,
    })
}

/// Milliseconds of `"5m"`-style text (digits, then letters), or of a value and a unit.
pub(crate) fn duration_ms(
    text: Option<&str>,
    value: Option<f64>,
    unit: Option<&str>,
) -> Result<f64, String> {
    if let Some(t) = text {
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        let suffix = &t[digits..];
        if digits == 0 || !suffix.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!("Invalid duration format: \"{t}\""));
        }
        let n: f64 = t[..digits]
            .parse()
            .map_err(|_| format!("Invalid duration format: \"{t}\""))?;
        let suffix = if suffix.is_empty() { "ms" } else { suffix };
        let ms = unit_ms(suffix).ok_or_else(|| format!("Invalid duration unit: \"{suffix}\""))?;
        return Ok(n * ms);
    }
    let Some(v) = value else {
        return Err("missing duration".into());
    };
    let unit = unit.unwrap_or("ms");
    let unit = if unit.is_empty() { "ms" } else { unit };
    let ms = unit_ms(unit).ok_or_else(|| format!("Invalid duration unit: \"{unit}\""))?;
    Ok(v * ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_and_durations() {
        assert!(valid_cron("0 9 * * 1-5"));
        assert!(valid_cron("*/15 * * * *"));
        assert!(!valid_cron("0 9 * *"));
        assert!(!valid_cron("0 9 * * MON"));
        assert_eq!(duration_ms(Some("5m"), None, None), Ok(300_000.0));
        assert_eq!(duration_ms(None, Some(2.0), Some("h")), Ok(7_200_000.0));
        assert!(duration_ms(None, Some(2.0), Some("minutes")).is_err());
    }
}
