//! Schedule triggers: cron syntax and interval durations.

/// Five whitespace-separated fields of `*`, numbers, ranges, lists and steps.
pub(crate) fn valid_cron(expr: &str) -> bool {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    fields.len() == 5
        && fields.iter().all(|f| {
            !f.is_empty()
                && f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/' | '?'))
        })
}

fn unit_ms(unit: &str) -> Option<f64> {
    Some(match unit {
        "ms" | "millisecond" | "milliseconds" => 1.0,
        "s" | "sec" | "secs" | "second" | "seconds" => 1000.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        "w" | "week" | "weeks" => 604_800_000.0,
        _ => return None,
    })
}

/// Milliseconds of `"5m"`-style text, or of a value and a unit.
pub(crate) fn duration_ms(
    text: Option<&str>,
    value: Option<f64>,
    unit: Option<&str>,
) -> Result<f64, String> {
    let (v, u) = match text {
        Some(t) => {
            let t = t.trim();
            let split = t
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(t.len());
            let v: f64 = t[..split]
                .parse()
                .map_err(|_| format!("Invalid duration '{t}'"))?;
            (v, t[split..].trim().to_string())
        }
        None => (
            value.ok_or("missing duration")?,
            unit.unwrap_or("ms").to_string(),
        ),
    };
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("Duration must be positive, got {v}"));
    }
    let ms = unit_ms(&u).ok_or_else(|| format!("Unknown duration unit '{u}'"))?;
    Ok(v * ms)
}
