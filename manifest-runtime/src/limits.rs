//! Evaluation limits: how large a string or an array an expression may build, how much work
//! one evaluation may do, and how deeply nested the JSON given to the engine may be.
//!
//! Every limit is checked before the memory it guards is allocated (the length of a
//! concatenation, a `replace` or a `split` is worked out first), so a hostile input ends the
//! operation with [`LimitExceeded`] instead of aborting the process on an allocation failure
//! or a stack overflow. A command that exceeds a limit ends with
//! [`RuntimeError::LimitExceeded`] and writes nothing.

use std::fmt;

use serde_json::Value as Json;

use super::engine::RuntimeError;
use super::eval::EvalError;
use super::value::Value;

/// The limits of one evaluation, set with [`EngineBuilder::limits`](crate::EngineBuilder::limits).
///
/// The defaults are far above what any Manifest program needs and far below what hurts a
/// server: see each field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The longest string, in bytes of UTF-8, an expression may build (default 16 MiB).
    ///
    /// Bytes rather than UTF-16 code units because the length of a Rust string is known
    /// without a scan, and bytes are what the limit protects (a string of `n` UTF-16 units
    /// takes at most `3n` bytes). 16 MiB is a thousand times any text field an entity
    /// stores, and small enough that the few strings alive at once during an evaluation
    /// cannot exhaust a server.
    pub max_string_bytes: usize,
    /// The most elements an array an expression builds may have (default 1,000,000), which
    /// `split` and array literals are checked against. An element takes at least 32 bytes,
    /// so the largest array takes about 32 MB before its contents.
    pub max_array_len: usize,
    /// The work one evaluation of one expression may do, in steps (default 1,000,000): one
    /// per expression node evaluated, plus one per array element scanned or produced and
    /// one per KiB of string built or copied. A million steps run in well under a second;
    /// the reference runtime allows 10,000 per command.
    pub max_steps: u64,
    /// How deeply the JSON given to an operation (a command's input, the data of a create,
    /// an update or a constraint check) may nest, the outermost object counting as 1
    /// (default 128, the recursion limit of serde_json's parser, so any input parsed from
    /// JSON text by serde_json fits). Deeper input would overflow the stack when it is
    /// converted, compared or dropped. Raising this far above the default brings that back.
    pub max_input_depth: usize,
}

impl Limits {
    /// The defaults (see each field).
    pub const DEFAULT: Limits = Limits {
        max_string_bytes: 16 << 20,
        max_array_len: 1_000_000,
        max_steps: 1_000_000,
        max_input_depth: 128,
    };

    /// Set [`max_string_bytes`](Self::max_string_bytes).
    pub fn with_max_string_bytes(mut self, n: usize) -> Self {
        self.max_string_bytes = n;
        self
    }

    /// Set [`max_array_len`](Self::max_array_len).
    pub fn with_max_array_len(mut self, n: usize) -> Self {
        self.max_array_len = n;
        self
    }

    /// Set [`max_steps`](Self::max_steps).
    pub fn with_max_steps(mut self, n: u64) -> Self {
        self.max_steps = n;
        self
    }

    /// Set [`max_input_depth`](Self::max_input_depth).
    pub fn with_max_input_depth(mut self, n: usize) -> Self {
        self.max_input_depth = n;
        self
    }

    /// [`LimitExceeded`] for a string of `bytes` bytes, if that is too long.
    pub(crate) fn check_string(&self, bytes: usize) -> Result<(), EvalError> {
        check(Limit::StringBytes, self.max_string_bytes, bytes)
    }

    /// [`LimitExceeded`] for an array of `len` elements, if that is too long.
    pub(crate) fn check_array(&self, len: usize) -> Result<(), EvalError> {
        check(Limit::ArrayLength, self.max_array_len, len)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

fn check(limit: Limit, max: usize, actual: usize) -> Result<(), EvalError> {
    if actual > max {
        return Err(EvalError::LimitExceeded(LimitExceeded {
            limit,
            max: max as u64,
            actual: actual as u64,
        }));
    }
    Ok(())
}

/// Which limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_string_bytes`].
    StringBytes,
    /// [`Limits::max_array_len`].
    ArrayLength,
    /// [`Limits::max_steps`].
    Steps,
    /// [`Limits::max_input_depth`].
    InputDepth,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::StringBytes => "string length (bytes)",
            Limit::ArrayLength => "array length",
            Limit::Steps => "evaluation steps",
            Limit::InputDepth => "input nesting depth",
        })
    }
}

/// A limit was exceeded: which, its value, and what was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{limit} limit of {max} exceeded ({actual})")]
#[non_exhaustive]
pub struct LimitExceeded {
    /// The limit.
    pub limit: Limit,
    /// Its value.
    pub max: u64,
    /// What was asked for: the length or depth, or for [`Limit::Steps`] the steps counted
    /// when evaluation stopped.
    pub actual: u64,
}

/// The step budget of one evaluation.
#[derive(Debug)]
pub(crate) struct Budget {
    left: u64,
    max: u64,
}

impl Budget {
    pub(crate) fn new(max: u64) -> Self {
        Budget { left: max, max }
    }

    /// Spend `n` steps.
    #[inline]
    pub(crate) fn spend(&mut self, n: u64) -> Result<(), EvalError> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(self.exceeded(n)),
        }
    }

    #[cold]
    fn exceeded(&self, n: u64) -> EvalError {
        EvalError::LimitExceeded(LimitExceeded {
            limit: Limit::Steps,
            max: self.max,
            actual: (self.max - self.left).saturating_add(n),
        })
    }
}

/// The steps copying `v` costs: one per value in it and one per KiB of string, counted
/// without recursion and only up to `cap` (past that the budget is exceeded anyway).
pub(crate) fn weight(v: &Value, cap: u64) -> u64 {
    fn own(v: &Value) -> u64 {
        match v {
            Value::String(s) => 1 + (s.len() as u64 >> 10),
            _ => 1,
        }
    }
    match v {
        Value::Array(_) | Value::Object(_) => {}
        other => return own(other),
    }
    let mut total = 0u64;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total += own(v);
        if total > cap {
            return total;
        }
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(fields) => stack.extend(fields.values()),
            _ => {}
        }
    }
    total
}

/// The nesting depth of `json` (a scalar is 0, `[]` and `{}` are 1), found without recursion.
/// Stops counting once past `cap`.
pub(crate) fn json_depth<'a>(json: impl IntoIterator<Item = &'a Json>, cap: usize) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Json, usize)> = json.into_iter().map(|j| (j, 1)).collect();
    while let Some((j, depth)) = stack.pop() {
        if !matches!(j, Json::Array(_) | Json::Object(_)) {
            continue;
        }
        deepest = deepest.max(depth);
        if deepest > cap {
            return deepest;
        }
        match j {
            Json::Array(items) => stack.extend(items.iter().map(|c| (c, depth + 1))),
            Json::Object(fields) => stack.extend(fields.values().map(|c| (c, depth + 1))),
            _ => {}
        }
    }
    deepest
}

pub(crate) use manifest_ir::depth::drop_deep;

/// [`check_input_depth`] on data the operation owns, which is dropped without recursion
/// when it is too deep.
pub(crate) fn check_owned_input(
    limits: &Limits,
    data: serde_json::Map<String, Json>,
    what: impl FnOnce() -> String,
) -> Result<serde_json::Map<String, Json>, RuntimeError> {
    match check_input_depth(limits, &data, what) {
        Ok(()) => Ok(data),
        Err(e) => {
            drop_deep(Json::Object(data));
            Err(e)
        }
    }
}

/// [`RuntimeError::LimitExceeded`] when the JSON object `data` (depth 1) nests deeper than
/// [`Limits::max_input_depth`]; `what` names the data in the error.
pub(crate) fn check_input_depth(
    limits: &Limits,
    data: &serde_json::Map<String, Json>,
    what: impl FnOnce() -> String,
) -> Result<(), RuntimeError> {
    // The map itself is the outermost level.
    let depth = 1 + json_depth(data.values(), limits.max_input_depth);
    if depth > limits.max_input_depth {
        return Err(RuntimeError::LimitExceeded {
            what: what(),
            exceeded: LimitExceeded {
                limit: Limit::InputDepth,
                max: limits.max_input_depth as u64,
                actual: depth as u64,
            },
        });
    }
    Ok(())
}

/// An evaluation error of `what` as a [`RuntimeError`]: a [`LimitExceeded`] is
/// [`RuntimeError::LimitExceeded`], anything else [`RuntimeError::Eval`].
pub(crate) fn eval_error(what: String, source: EvalError) -> RuntimeError {
    match source {
        EvalError::LimitExceeded(exceeded) => RuntimeError::LimitExceeded { what, exceeded },
        source => RuntimeError::Eval { what, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use manifest_ir::depth::json_path_past;
    use serde_json::json;

    #[test]
    fn json_depth_counts_containers() {
        assert_eq!(json_depth([&json!(1)], 10), 0);
        assert_eq!(json_depth([&json!([])], 10), 1);
        assert_eq!(json_depth([&json!({"a": [1, {"b": []}]})], 10), 4);
        assert_eq!(
            json_path_past(&json!({"a": [1, {"b": [[]]}], "c": {}}), 3).as_deref(),
            Some("a[1].b")
        );
        assert_eq!(json_path_past(&json!({"a": [1, {"b": 2}]}), 3), None);
        let mut deep = json!(0);
        for _ in 0..100_000 {
            deep = Json::Array(vec![deep]);
        }
        // Both stop early, and neither recurses.
        let depth = json_depth([&deep], 128);
        let path = json_path_past(&deep, 3);
        // Dropping it recursively would overflow the stack.
        drop_deep(deep);
        assert_eq!(depth, 129);
        assert_eq!(path.as_deref(), Some("[0][0][0]"));
    }

    #[test]
    fn budget_and_weight() {
        let mut b = Budget::new(3);
        assert!(b.spend(2).is_ok());
        let err = b.spend(2).unwrap_err();
        assert!(matches!(
            err,
            EvalError::LimitExceeded(LimitExceeded {
                limit: Limit::Steps,
                max: 3,
                actual: 4
            })
        ));
        let v = Value::Array(vec![Value::from("x".repeat(4096)), Value::Null]);
        assert_eq!(weight(&v, 100), 1 + 5 + 1);
        assert!(weight(&v, 2) > 2);
    }
}
