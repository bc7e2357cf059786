//! Number text as JavaScript reads it.

/// JavaScript's `parseFloat` for a lexed number (digits and dots).
pub(crate) fn js_parse_float(text: &str) -> f64 {
    let mut seen_dot = false;
    let prefix: String = text
        .chars()
        .take_while(|&c| {
            if c == '.' {
                if seen_dot {
                    return false;
                }
                seen_dot = true;
            }
            true
        })
        .collect();
    prefix
        .parse::<f64>()
        .or_else(|_| format!("{prefix}0").parse::<f64>())
        .unwrap_or(f64::NAN)
}

/// JavaScript's `Number(text)`: NaN unless the whole text is a number.
pub(crate) fn js_number(text: &str) -> f64 {
    let t = text.trim();
    if t.is_empty() {
        return 0.0;
    }
    if t.ends_with('.') {
        return format!("{t}0").parse().unwrap_or(f64::NAN);
    }
    t.parse().unwrap_or(f64::NAN)
}
