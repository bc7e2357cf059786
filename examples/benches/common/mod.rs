//! Helpers both benchmark harnesses share (included with `#[path]`; not a bench target).
// Each harness includes this file and uses part of it.
#![allow(dead_code)]

use std::time::Instant;

/// A `usize` from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Operations per second of `n` operations started at `start`.
pub fn per_sec(n: usize, start: Instant) -> f64 {
    n as f64 / start.elapsed().as_secs_f64()
}

/// The median (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A rate with thousands separators: `1,234,567`.
pub fn fmt_rate(r: f64) -> String {
    let s = format!("{r:.0}");
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
