//! Rate limits of commands and policies (`rateLimit { maxRequests windowMs scope }`), as the
//! reference's `RateLimiter` and `checkRateLimitGate` count them: a log of request times per
//! scope key (`user:<id>`, `tenant:<id>`, `global`; a policy's keys are prefixed with
//! `policy:<name>:`), read against the engine's clock.
//!
//! The counts live in the engine, like the reference's: each engine (each process) counts
//! its own requests. A limit shared by several processes needs a shared counter, which the
//! store contract does not offer.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use super::Engine;
use crate::ir::{IrRateLimit, RateLimitScope};
use crate::result::RateLimitDenial;
use crate::value::Value;

/// The request log of each scope key.
#[derive(Debug, Default)]
pub(super) struct RateLimiter {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    logs: HashMap<String, Log>,
    /// The size at which expired logs are next swept out (so that a limit per user does not
    /// keep a log for every user ever seen).
    sweep_at: usize,
}

#[derive(Debug)]
struct Log {
    /// The times of the requests counted in the current window, oldest first.
    times: VecDeque<f64>,
    window_start: f64,
    /// The window of the limit that last used this log.
    window_ms: f64,
}

/// Logs kept before the first sweep.
const FIRST_SWEEP: usize = 1024;

impl RateLimiter {
    /// Count a request for `key` at `now` if `limit` allows it; else how long until it would,
    /// in milliseconds.
    fn check(&self, key: &str, limit: &IrRateLimit, now: f64) -> Result<(), f64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.logs.len() >= state.sweep_at.max(FIRST_SWEEP) {
            state
                .logs
                .retain(|_, log| log.times.back().is_some_and(|t| *t > now - log.window_ms));
            state.sweep_at = 2 * state.logs.len();
        }
        let log = match state.logs.get_mut(key) {
            Some(log) => log,
            None => state.logs.entry(key.to_owned()).or_insert(Log {
                times: VecDeque::new(),
                window_start: now,
                window_ms: limit.window_ms,
            }),
        };
        log.window_ms = limit.window_ms;
        if now >= log.window_start + limit.window_ms {
            log.times.clear();
            log.window_start = now;
        } else {
            let cutoff = now - limit.window_ms;
            while log.times.front().is_some_and(|t| *t <= cutoff) {
                log.times.pop_front();
            }
        }
        let allowed = limit.max_requests + limit.burst_allowance.unwrap_or(0.0);
        if (log.times.len() as f64) < allowed {
            log.times.push_back(now);
            return Ok(());
        }
        // With nothing in the log (a limit of 0), the reference's arithmetic gives NaN and
        // falls back to the window.
        let retry = match log.times.front() {
            Some(oldest) => (oldest + limit.window_ms - now).max(0.0),
            None => limit.window_ms,
        };
        Err(retry)
    }
}

impl Engine {
    /// Count a request against `limit` (of a policy when `policy` is given); the denial when
    /// the limit is reached or its scope has no value, else `None`.
    pub(super) fn rate_limit_denial(
        &self,
        limit: &IrRateLimit,
        policy: Option<&str>,
    ) -> Option<RateLimitDenial> {
        let denial = |scope_key: String, retry_after: f64| RateLimitDenial {
            scope: limit.scope.as_str().into(),
            scope_key,
            limit: json_number(limit.max_requests),
            window_ms: json_number(limit.window_ms),
            retry_after_ms: json_number(retry_after),
        };
        let Some(scoped) = self.rate_limit_scope(limit.scope) else {
            return Some(denial("unresolved".to_owned(), limit.window_ms));
        };
        let key = match policy {
            Some(policy) => format!("policy:{policy}:{scoped}"),
            None => scoped,
        };
        let now = (self.now)();
        self.program
            .rate_limiter
            .check(&key, limit, now)
            .err()
            .map(|retry| denial(key, retry))
    }

    /// `user:<user.id>`, `tenant:<tenant>` or `global`; `None` when the user has no id or
    /// there is no tenant (the context's `tenantId`, else the engine's tenant).
    fn rate_limit_scope(&self, scope: RateLimitScope) -> Option<String> {
        let field = |object: &Value, name: &str| match object {
            Value::Object(fields) => fields.get(name).filter(|v| v.truthy()).cloned(),
            _ => None,
        };
        match scope {
            RateLimitScope::User => {
                let id = field(&self.user, "id")?;
                Some(format!("user:{}", id.to_js_string()))
            }
            RateLimitScope::Tenant => {
                let tenant = match field(&self.context, "tenantId") {
                    Some(tenant) => tenant.to_js_string(),
                    None => self.tenant_id.clone().filter(|t| !t.is_empty())?,
                };
                Some(format!("tenant:{tenant}"))
            }
            RateLimitScope::Global => Some("global".to_owned()),
        }
    }
}

fn json_number(n: f64) -> serde_json::Value {
    Value::Number(n)
        .to_json()
        .unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max: f64, window: f64, burst: Option<f64>) -> IrRateLimit {
        serde_json::from_value(serde_json::json!({
            "maxRequests": max, "windowMs": window, "scope": "global", "burstAllowance": burst
        }))
        .unwrap()
    }

    #[test]
    fn counts_within_a_window_then_starts_a_new_one() {
        let limiter = RateLimiter::default();
        let l = limit(2.0, 100.0, None);
        assert_eq!(limiter.check("k", &l, 0.0), Ok(()));
        assert_eq!(limiter.check("k", &l, 10.0), Ok(()));
        // Full until the oldest request leaves the window.
        assert_eq!(limiter.check("k", &l, 30.0), Err(70.0));
        // Another key counts on its own.
        assert_eq!(limiter.check("other", &l, 30.0), Ok(()));
        // The window has passed: a new one starts.
        assert_eq!(limiter.check("k", &l, 100.0), Ok(()));
        assert_eq!(limiter.check("k", &l, 101.0), Ok(()));
        assert_eq!(limiter.check("k", &l, 102.0), Err(98.0));
        // A burst allowance adds to the limit; a limit of 0 refuses for a whole window.
        let burst = limit(1.0, 100.0, Some(1.0));
        assert_eq!(limiter.check("b", &burst, 0.0), Ok(()));
        assert_eq!(limiter.check("b", &burst, 1.0), Ok(()));
        assert!(limiter.check("b", &burst, 2.0).is_err());
        assert_eq!(limiter.check("z", &limit(0.0, 50.0, None), 0.0), Err(50.0));
    }

    #[test]
    fn expired_logs_are_swept() {
        let limiter = RateLimiter::default();
        let l = limit(1.0, 10.0, None);
        for i in 0..FIRST_SWEEP {
            limiter.check(&format!("user:{i}"), &l, 0.0).unwrap();
        }
        // Much later, one more key: every earlier log has expired and goes.
        limiter.check("user:new", &l, 1000.0).unwrap();
        let state = limiter.state.lock().unwrap();
        assert_eq!(state.logs.len(), 1);
        assert!(state.logs.contains_key("user:new"));
    }
}
