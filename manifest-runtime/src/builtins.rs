//! The builtin functions of `Engine.getBuiltins()` in the reference runtime, with its
//! JavaScript behaviour: most pass a value of the wrong type through unchanged rather than
//! fail; string lengths and indexes count UTF-16 code units.

mod date;
mod text;

use std::borrow::Cow;

use super::eval::{EvalError, Evaluator, Scope};
use super::expr::Expr;
use super::value::Value;

/// A lambda argument: `(params) => body`.
#[derive(Clone, Copy)]
pub(super) struct Lambda<'a> {
    pub(super) params: &'a [String],
    pub(super) body: &'a Expr,
}

/// An evaluated argument: a value, or a lambda (the only function values there are).
pub(super) enum Arg<'a> {
    Value(Cow<'a, Value>),
    Lambda(Lambda<'a>),
}

/// The arguments of one call; missing ones are `undefined`, as in JavaScript.
struct Args<'a>(Vec<Arg<'a>>);

static UNDEFINED: Value = Value::Undefined;

impl<'a> Args<'a> {
    /// Argument `i`; a lambda reads as `undefined` (a function has no `Value` form).
    fn get(&self, i: usize) -> &Value {
        match self.0.get(i) {
            Some(Arg::Value(v)) => v,
            _ => &UNDEFINED,
        }
    }

    /// Argument `i`, moved out.
    fn take(&mut self, i: usize) -> Cow<'a, Value> {
        match self.0.get_mut(i) {
            Some(Arg::Value(v)) => std::mem::replace(v, Cow::Borrowed(&UNDEFINED)),
            _ => Cow::Borrowed(&UNDEFINED),
        }
    }

    /// Argument `i` if it is a lambda.
    fn lambda(&self, i: usize) -> Option<Lambda<'a>> {
        match self.0.get(i) {
            Some(Arg::Lambda(l)) => Some(*l),
            _ => None,
        }
    }

    fn str(&self, i: usize) -> Option<&str> {
        self.get(i).as_str()
    }

    fn num(&self, i: usize) -> Option<f64> {
        self.get(i).as_f64()
    }

    /// The numbers among all the arguments.
    fn numbers(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.0.len()).filter_map(|i| self.num(i))
    }
}

macro_rules! builtins {
    ($($variant:ident = $name:literal,)*) => {
        /// A builtin function, by its name in expressions.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum Builtin {
            $($variant,)*
        }

        impl Builtin {
            /// The builtin called `name`.
            pub(super) fn from_name(name: &str) -> Option<Self> {
                Some(match name {
                    $($name => Builtin::$variant,)*
                    _ => return None,
                })
            }

            #[cfg(test)]
            pub(super) const ALL: &'static [Builtin] = &[$(Builtin::$variant,)*];

            /// The builtin's name.
            #[cfg(test)]
            pub(super) fn name(self) -> &'static str {
                match self {
                    $(Builtin::$variant => $name,)*
                }
            }
        }
    };
}

builtins! {
    Now = "now",
    Uuid = "uuid",
    Trim = "trim",
    Split = "split",
    Count = "count",
    StartsWith = "startsWith",
    EndsWith = "endsWith",
    Replace = "replace",
    ToUpperCase = "toUpperCase",
    ToLowerCase = "toLowerCase",
    Length = "length",
    Substring = "substring",
    IndexOf = "indexOf",
    Matches = "matches",
    Search = "search",
    Abs = "abs",
    Round = "round",
    Floor = "floor",
    Ceil = "ceil",
    Min = "min",
    Max = "max",
    Between = "between",
    Sum = "sum",
    Avg = "avg",
    MinOf = "min_of",
    MaxOf = "max_of",
    CountOf = "count_of",
    Filter = "filter",
    Map = "map",
    Year = "year",
    Month = "month",
    Day = "day",
    Hours = "hours",
    Minutes = "minutes",
    Seconds = "seconds",
    DateOf = "dateOf",
    TimeOf = "timeOf",
    DatetimeOf = "datetimeOf",
    AddDuration = "addDuration",
    DurationBetween = "durationBetween",
    DurationDays = "durationDays",
    DurationHours = "durationHours",
    DurationMinutes = "durationMinutes",
    DurationSeconds = "durationSeconds",
    Flag = "flag",
    HasPermission = "hasPermission",
    RoleAllows = "roleAllows",
}

/// Call `builtin` with evaluated `args`; lambdas run in `scope`.
pub(super) fn call<'a>(
    ev: &mut Evaluator<'_>,
    builtin: Builtin,
    args: Vec<Arg<'a>>,
    scope: &Scope<'_>,
) -> Out<'a> {
    use Builtin as B;
    let mut args = Args(args);
    match builtin {
        B::Now => number(ev.host.now()),
        B::Uuid => owned(Value::String(ev.host.generate_id())),
        B::Trim | B::Split | B::StartsWith | B::EndsWith | B::Replace | B::ToUpperCase => {
            text::call(ev, builtin, &mut args)
        }
        B::ToLowerCase | B::Length | B::Substring | B::IndexOf | B::Matches | B::Search => {
            text::call(ev, builtin, &mut args)
        }
        B::Count => match args.get(0) {
            Value::Array(items) => number(len(items)),
            _ => Ok(args.take(0)),
        },
        B::Abs => numeric(&mut args, f64::abs),
        B::Round => numeric(&mut args, js_round),
        B::Floor => numeric(&mut args, f64::floor),
        B::Ceil => numeric(&mut args, f64::ceil),
        B::Min => owned(math_min(args.numbers()).map_or(Value::Undefined, Value::Number)),
        B::Max => owned(math_max(args.numbers()).map_or(Value::Undefined, Value::Number)),
        B::Between => boolean(match (args.num(0), args.num(1), args.num(2)) {
            (Some(v), Some(lo), Some(hi)) => v >= lo && v <= hi,
            _ => false,
        }),
        B::Sum | B::Avg | B::MinOf | B::MaxOf | B::CountOf | B::Filter | B::Map => {
            aggregate(ev, builtin, args, scope)
        }
        B::Year | B::Month | B::Day | B::Hours | B::Minutes | B::Seconds => {
            date::part(builtin, &mut args)
        }
        B::DateOf | B::TimeOf | B::DatetimeOf => date::call(builtin, &args),
        B::AddDuration => owned(finite2(&args, |ts, d| ts + d)),
        B::DurationBetween => owned(finite2(&args, |a, b| b - a)),
        B::DurationDays => owned(finite1(&args, 86_400_000.0)),
        B::DurationHours => owned(finite1(&args, 3_600_000.0)),
        B::DurationMinutes => owned(finite1(&args, 60_000.0)),
        B::DurationSeconds => owned(finite1(&args, 1000.0)),
        B::Flag => match args.str(0) {
            Some(name) => owned(ev.host.flag(name)),
            None => boolean(false),
        },
        B::HasPermission => boolean(match args.str(0) {
            Some(action) => ev.host.has_permission(action, args.str(1)),
            None => false,
        }),
        B::RoleAllows => boolean(match (args.str(0), args.str(1)) {
            (Some(role), Some(action)) => ev.host.role_allows(role, action, args.str(2)),
            _ => false,
        }),
    }
}

type Out<'a> = Result<Cow<'a, Value>, EvalError>;

fn owned<'a>(v: Value) -> Out<'a> {
    Ok(Cow::Owned(v))
}

fn number<'a>(n: f64) -> Out<'a> {
    owned(Value::Number(n))
}

fn boolean<'a>(b: bool) -> Out<'a> {
    owned(Value::Bool(b))
}

/// `f(n)` for a number, else the argument unchanged.
fn numeric<'a>(args: &mut Args<'a>, f: fn(f64) -> f64) -> Out<'a> {
    match args.num(0) {
        Some(n) => number(f(n)),
        None => Ok(args.take(0)),
    }
}

#[allow(clippy::cast_precision_loss)] // lengths are far below 2^53
fn len<T>(items: &[T]) -> f64 {
    items.len() as f64
}

/// `n * unit` for a finite number, else `null`.
fn finite1(args: &Args<'_>, unit: f64) -> Value {
    match args.num(0) {
        Some(n) if n.is_finite() => Value::Number(n * unit),
        _ => Value::Null,
    }
}

/// `f(a, b)` for two finite numbers, else `null`.
fn finite2(args: &Args<'_>, f: fn(f64, f64) -> f64) -> Value {
    match (args.num(0), args.num(1)) {
        (Some(a), Some(b)) if a.is_finite() && b.is_finite() => Value::Number(f(a, b)),
        _ => Value::Null,
    }
}

/// JavaScript `Math.round`: the nearest integer, halves toward +∞, `-0` kept for
/// `-0.5 <= n < 0`.
pub(super) fn js_round(n: f64) -> f64 {
    if !n.is_finite() || n == 0.0 {
        return n;
    }
    if (-0.5..0.0).contains(&n) {
        return -0.0;
    }
    let floor = n.floor();
    if n - floor >= 0.5 { floor + 1.0 } else { floor }
}

/// JavaScript `Math.min(...nums)`: `NaN` if any is `NaN`, `-0` below `0`; `None` when empty.
fn math_min(nums: impl Iterator<Item = f64>) -> Option<f64> {
    nums.reduce(|acc, n| {
        if acc.is_nan() || n.is_nan() {
            f64::NAN
        } else if n < acc || (n == 0.0 && acc == 0.0 && n.is_sign_negative()) {
            n
        } else {
            acc
        }
    })
}

/// JavaScript `Math.max(...nums)`: `NaN` if any is `NaN`, `0` above `-0`; `None` when empty.
fn math_max(nums: impl Iterator<Item = f64>) -> Option<f64> {
    nums.reduce(|acc, n| {
        if acc.is_nan() || n.is_nan() {
            f64::NAN
        } else if n > acc || (n == 0.0 && acc == 0.0 && n.is_sign_positive()) {
            n
        } else {
            acc
        }
    })
}

/// `sum`, `avg`, `min_of`, `max_of`, `count_of`, `filter`, `map` over an array, with an
/// optional lambda.
fn aggregate<'a>(
    ev: &mut Evaluator<'_>,
    builtin: Builtin,
    mut args: Args<'a>,
    scope: &Scope<'_>,
) -> Out<'a> {
    use Builtin as B;
    let lambda = args.lambda(1);
    if lambda.is_none()
        && matches!(builtin, B::Filter | B::Map)
        && matches!(args.get(0), Value::Array(_))
    {
        return Ok(args.take(0));
    }
    let Value::Array(items) = args.get(0) else {
        return Ok(match builtin {
            B::Sum => args.take(0),
            B::Avg | B::CountOf => Cow::Owned(Value::Number(0.0)),
            B::Filter | B::Map => Cow::Owned(Value::Array(Vec::new())),
            _ => Cow::Owned(Value::Undefined),
        });
    };
    ev.spend(items.len() as u64)?;
    let Some(lambda) = lambda else {
        let nums = items.iter().filter_map(Value::as_f64);
        return Ok(Cow::Owned(match builtin {
            B::Sum => Value::Number(nums.fold(0.0, |a, n| a + n)),
            B::Avg => {
                let (total, count) = nums.fold((0.0, 0.0), |(t, c), n| (t + n, c + 1.0));
                Value::Number(if count > 0.0 { total / count } else { 0.0 })
            }
            B::MinOf => math_min(nums).map_or(Value::Undefined, Value::Number),
            B::MaxOf => math_max(nums).map_or(Value::Undefined, Value::Number),
            _ => Value::Number(len(items)),
        }));
    };
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        results.push(ev.call_lambda(lambda, scope, item)?);
    }
    if builtin == B::Filter {
        for (item, keep) in items.iter().zip(&results) {
            if keep.truthy() {
                ev.spend_copy(item)?;
            }
        }
    }
    let nums = results.iter().filter_map(Value::as_f64);
    Ok(Cow::Owned(match builtin {
        B::Sum => Value::Number(nums.fold(0.0, |a, n| a + n)),
        B::Avg => {
            let (total, count) = nums.fold((0.0, 0.0), |(t, c), n| (t + n, c + 1.0));
            Value::Number(if count > 0.0 { total / count } else { 0.0 })
        }
        // `v < result` with `result` undefined at first: NaN only wins as the first number.
        B::MinOf => nums
            .reduce(|acc, n| if n < acc { n } else { acc })
            .map_or(Value::Undefined, Value::Number),
        B::MaxOf => nums
            .reduce(|acc, n| if n > acc { n } else { acc })
            .map_or(Value::Undefined, Value::Number),
        B::CountOf => {
            #[allow(clippy::cast_precision_loss)] // counts are far below 2^53
            let kept = results.iter().filter(|v| v.truthy()).count() as f64;
            Value::Number(kept)
        }
        B::Filter => Value::Array(
            items
                .iter()
                .zip(&results)
                .filter(|(_, keep)| keep.truthy())
                .map(|(item, _)| item.clone())
                .collect(),
        ),
        _ => Value::Array(results),
    }))
}

#[cfg(test)]
mod tests;
