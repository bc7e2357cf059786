//! Builtin edge cases. Every expected value was printed by the reference runtime's
//! `getBuiltins()` (`@angriff36/manifest` 3.4.23).

use serde_json::json;

use super::Builtin;
use crate::eval::tests::{TestHost, call, expr, id, lambda, member};
use crate::eval::{EvalError, Scope, eval};
use crate::value::Value;

/// Call builtin `name` with `args` (bound as `a0`, `a1`, …, so `undefined` can be passed).
fn try_b(name: &str, args: &[Value]) -> Result<Value, EvalError> {
    let mut scope = Scope::new();
    let mut refs = Vec::new();
    for (i, v) in args.iter().enumerate() {
        scope.set(format!("a{i}"), v.clone());
        refs.push(id(&format!("a{i}")));
    }
    eval(&expr(call(name, refs)), &scope, &TestHost::default())
}

fn b(name: &str, args: &[Value]) -> Value {
    try_b(name, args).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn n(x: f64) -> Value {
    Value::Number(x)
}

fn s(x: &str) -> Value {
    Value::from(x)
}

fn j(v: serde_json::Value) -> Value {
    Value::from(v)
}

/// Bit-for-bit number check (`Object.is`): tells `-0` from `0`, and `NaN` equals `NaN`.
fn assert_num(v: Value, want: f64) {
    let got = v
        .as_f64()
        .unwrap_or_else(|| panic!("{v:?} is not a number"));
    assert!(
        got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
        "{got:?} != {want:?}"
    );
}

#[test]
fn names_round_trip() {
    for &builtin in Builtin::ALL {
        assert_eq!(Builtin::from_name(builtin.name()), Some(builtin));
    }
    assert_eq!(Builtin::ALL.len(), 47);
    assert_eq!(Builtin::from_name("updateLowStockFlag"), None);
    assert_eq!(Builtin::from_name("toString"), None);
}

#[test]
fn string_builtins() {
    assert_eq!(b("trim", &[s(" \t\u{feff}hi\u{a0}\n")]), s("hi"));
    assert_eq!(b("trim", &[s("\u{85}x")]), s("\u{85}x"));
    assert_eq!(b("trim", &[n(5.0)]), n(5.0));
    assert_eq!(b("split", &[s("a,b"), s(",")]), j(json!(["a", "b"])));
    assert_eq!(b("split", &[s("a b")]), j(json!(["a b"])));
    assert_eq!(
        b("split", &[s("abc"), s("b"), n(9.0)]),
        j(json!(["a", "c"]))
    );
    assert_eq!(b("split", &[n(12.0), s("1")]), n(12.0));
    assert_eq!(b("count", &[j(json!([1, 2, 3]))]), n(3.0));
    assert_eq!(b("count", &[s("abc")]), s("abc"));
    assert_eq!(b("startsWith", &[s("5abc"), n(5.0)]), Value::Bool(true));
    assert_eq!(b("startsWith", &[s("undefinedx")]), Value::Bool(true));
    assert_eq!(b("startsWith", &[n(55.0), s("5")]), Value::Bool(false));
    assert_eq!(
        b("endsWith", &[s("hello world"), s("world")]),
        Value::Bool(true)
    );
    assert_eq!(b("endsWith", &[Value::Null, s("")]), Value::Bool(false));
    assert_eq!(b("toUpperCase", &[s("Straße")]), s("STRASSE"));
    assert_eq!(b("toLowerCase", &[s("ΑΣ")]), s("ας"));
    assert_eq!(b("toLowerCase", &[s("İ")]), s("i\u{307}"));
    assert_eq!(b("toUpperCase", &[Value::Bool(true)]), Value::Bool(true));
    assert_eq!(b("length", &[s("😀")]), n(2.0));
    assert_eq!(b("length", &[j(json!([1, [2, 3]]))]), n(2.0));
    assert_eq!(b("length", &[Value::Null]), Value::Null);
    assert_eq!(b("length", &[]), Value::Undefined);
    assert_eq!(b("substring", &[s("hello"), n(1.0)]), s("ello"));
    assert_eq!(
        b("substring", &[s("hello world"), n(0.0), n(5.0)]),
        s("hello")
    );
    assert_eq!(b("substring", &[n(5.0), n(1.0)]), n(5.0));
    assert_eq!(b("indexOf", &[s("héllo wörld"), s("w")]), n(6.0));
    assert_eq!(b("indexOf", &[s("a1"), n(1.0)]), n(1.0));
    assert_eq!(b("indexOf", &[j(json!(["w"])), s("w")]), n(-1.0));
}

#[test]
fn replace_is_global_and_literal() {
    assert_eq!(b("replace", &[s("a.b.c"), s("."), s("$&")]), s("a$&b$&c"));
    assert_eq!(
        b("replace", &[s("old gold old"), s("old"), s("new")]),
        s("new gnew new")
    );
    assert_eq!(b("replace", &[s("aaa"), s("aa"), s("b")]), s("ba"));
    assert_eq!(b("replace", &[s("abc"), s(""), s("-")]), s("-a-b-c-"));
    assert_eq!(b("replace", &[s("x"), s("x")]), s("undefined"));
    assert_eq!(b("replace", &[s("x"), s("x"), n(1.5)]), s("1.5"));
    assert_eq!(b("replace", &[n(7.0), n(7.0), s("y")]), n(7.0));
    // `search.replace` is not a function: the reference throws.
    let err = try_b("replace", &[s("abc"), Value::Undefined, s("y")]).unwrap_err();
    assert!(matches!(
        err,
        EvalError::InvalidArgument {
            function: "replace",
            got: "undefined",
            ..
        }
    ));
}

#[test]
fn matches_and_search() {
    assert_eq!(
        b("matches", &[s("555-1234"), s(r"^\d{3}-\d{4}$")]),
        Value::Bool(true)
    );
    assert_eq!(
        b("matches", &[s("555-12345"), s(r"^\d{3}-\d{4}$")]),
        Value::Bool(false)
    );
    assert_eq!(b("matches", &[s("x"), s("(")]), Value::Bool(false));
    assert_eq!(b("matches", &[n(5.0), s("5")]), Value::Bool(false));
    assert_eq!(b("matches", &[s("5"), n(5.0)]), Value::Bool(false));
    assert!(matches!(
        try_b("matches", &[s("ab"), s("a(?=b)")]),
        Err(EvalError::Unsupported { .. })
    ));
    assert_eq!(
        b("search", &[s("The Quick-Brown fox!"), s("brown QUICK")]),
        Value::Bool(true)
    );
    assert_eq!(
        b("search", &[s("The Quick-Brown fox!"), s("")]),
        Value::Bool(false)
    );
    assert_eq!(b("search", &[s("x"), Value::Null]), Value::Bool(false));
}

#[test]
fn math_builtins() {
    assert_num(b("abs", &[n(-2.5)]), 2.5);
    assert_eq!(b("abs", &[s("-2")]), s("-2"));
    assert_num(b("round", &[n(-3.7)]), -4.0);
    assert_num(b("round", &[n(2.5)]), 3.0);
    assert_num(b("round", &[n(-2.5)]), -2.0);
    assert_num(b("round", &[n(-0.4)]), -0.0);
    assert_num(b("round", &[n(0.499_999_999_999_999_94)]), 0.0);
    assert_num(
        b("round", &[n(4_503_599_627_370_495.5)]),
        4_503_599_627_370_496.0,
    );
    assert_num(b("round", &[n(f64::NAN)]), f64::NAN);
    assert_num(b("floor", &[n(-0.5)]), -1.0);
    assert_num(b("ceil", &[n(-0.5)]), -0.0);
    assert_eq!(b("floor", &[s("5.5")]), s("5.5"));
    assert_num(b("min", &[n(5.0), s("1"), n(3.0)]), 3.0);
    assert_num(b("max", &[n(-1.0), n(0.0), n(100.0)]), 100.0);
    assert_num(b("min", &[n(0.0), n(-0.0)]), -0.0);
    assert_num(b("max", &[n(-0.0), n(0.0)]), 0.0);
    assert_num(b("min", &[n(1.0), n(f64::NAN), s("x")]), f64::NAN);
    assert_eq!(b("min", &[]), Value::Undefined);
    assert_eq!(b("max", &[s("9")]), Value::Undefined);
    assert_eq!(b("between", &[n(5.0), n(1.0), n(5.0)]), Value::Bool(true));
    assert_eq!(b("between", &[s("3"), n(1.0), n(5.0)]), Value::Bool(false));
}

#[test]
fn aggregate_builtins() {
    let items =
        j(json!([{"price": 2, "qty": 3}, {"price": 1.5, "qty": 0}, {"price": "x", "qty": 2}]));
    let mut scope = Scope::new();
    scope.set("items", items);
    let run = |name: &str, body: Option<serde_json::Value>| {
        let mut args = vec![id("items")];
        args.extend(body.map(|b| lambda("it", b)));
        eval(&expr(call(name, args)), &scope, &TestHost::default()).unwrap()
    };
    let price = || member(id("it"), "price");
    let qty = || member(id("it"), "qty");
    let total = json!({"kind": "binary", "operator": "*", "left": price(), "right": qty()});
    // `"x" * 2` is NaN, a number, so it is summed.
    assert_num(run("sum", Some(total)), f64::NAN);
    assert_num(run("sum", Some(price())), 3.5);
    assert_num(run("avg", Some(price())), 1.75);
    assert_num(run("min_of", Some(price())), 1.5);
    assert_num(run("max_of", Some(price())), 2.0);
    assert_num(run("count_of", Some(qty())), 2.0);
    assert_num(run("count_of", None), 3.0);
    assert_eq!(
        run("filter", Some(qty()))
            .to_json()
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(run("map", Some(qty())), j(json!([3, 0, 2])));
    assert_eq!(run("map", None), scope.get("items").unwrap().clone());

    assert_num(b("sum", &[j(json!([1, "2", 3]))]), 4.0);
    assert_num(b("sum", &[j(json!([]))]), 0.0);
    assert_eq!(b("sum", &[s("x")]), s("x"));
    assert_num(b("avg", &[j(json!([2, 4, "x"]))]), 3.0);
    assert_num(b("avg", &[j(json!([]))]), 0.0);
    assert_num(b("avg", &[s("x")]), 0.0);
    assert_eq!(b("min_of", &[j(json!([]))]), Value::Undefined);
    assert_num(b("min_of", &[j(json!([3, 1, "0"]))]), 1.0);
    assert_eq!(b("max_of", &[n(3.0)]), Value::Undefined);
    assert_num(b("count_of", &[s("x")]), 0.0);
    assert_eq!(b("filter", &[s("x")]), j(json!([])));

    // With a mapper, `v < result` starts from undefined: a NaN is kept only when first.
    let mut nan_first = Scope::new();
    nan_first.set("xs", Value::Array(vec![n(f64::NAN), n(1.0)]));
    let min_of = expr(call("min_of", vec![id("xs"), lambda("v", id("v"))]));
    assert_num(
        eval(&min_of, &nan_first, &TestHost::default()).unwrap(),
        f64::NAN,
    );
    nan_first.set("xs", Value::Array(vec![n(2.0), n(f64::NAN), n(1.0)]));
    assert_num(
        eval(&min_of, &nan_first, &TestHost::default()).unwrap(),
        1.0,
    );
}

#[test]
fn date_builtins() {
    let ts = || n(1e12); // 2001-09-09T01:46:40Z
    assert_num(b("year", &[ts()]), 2001.0);
    assert_num(b("month", &[ts()]), 9.0);
    assert_num(b("day", &[ts()]), 9.0);
    assert_num(b("hours", &[ts()]), 1.0);
    assert_num(b("minutes", &[ts()]), 46.0);
    assert_num(b("seconds", &[ts()]), 40.0);
    assert_num(b("year", &[n(-1.5)]), 1969.0);
    assert_num(b("seconds", &[n(-1.5)]), 59.0);
    assert_num(b("year", &[n(f64::NAN)]), f64::NAN);
    assert_num(b("day", &[n(8.64e15 + 1.0)]), f64::NAN);
    assert_eq!(b("month", &[s("2024-01-01")]), s("2024-01-01"));
    assert_eq!(b("dateOf", &[ts()]), s("2001-09-09"));
    assert_eq!(b("dateOf", &[n(-62_198_755_200_000.0)]), s("-1-01-01"));
    assert_eq!(b("dateOf", &[n(-62_135_596_800_000.0)]), s("1-01-01"));
    assert_eq!(b("dateOf", &[n(8.64e15)]), s("275760-09-13"));
    assert_eq!(b("dateOf", &[n(f64::INFINITY)]), Value::Null);
    assert_eq!(b("dateOf", &[s("1")]), Value::Null);
    assert_eq!(b("timeOf", &[ts()]), s("01:46:40"));
    assert_eq!(b("timeOf", &[n(-1.5)]), s("23:59:59"));
    assert_num(
        b("datetimeOf", &[s("2024-02-29"), s("12:30:15")]),
        1_709_209_815_000.0,
    );
    assert_num(b("datetimeOf", &[s("2001-09-09")]), 999_993_600_000.0);
    assert_eq!(b("datetimeOf", &[s("2023-02-29")]), Value::Null);
    assert_num(
        b("addDuration", &[ts(), n(86_400_000.0)]),
        1_000_086_400_000.0,
    );
    assert_eq!(b("addDuration", &[ts(), n(f64::INFINITY)]), Value::Null);
    assert_eq!(b("addDuration", &[ts(), s("1")]), Value::Null);
    assert_num(b("durationBetween", &[n(1.0), n(5.0)]), 4.0);
    assert_num(b("durationDays", &[n(2.0)]), 172_800_000.0);
    assert_num(b("durationHours", &[n(1.5)]), 5_400_000.0);
    assert_num(b("durationMinutes", &[n(2.0)]), 120_000.0);
    assert_num(b("durationSeconds", &[n(-1.0)]), -1000.0);
    assert_eq!(b("durationHours", &[s("1")]), Value::Null);
}

#[test]
fn host_builtins_default_to_denial() {
    assert_eq!(b("flag", &[s("new-flow")]), Value::Bool(false));
    assert_eq!(b("flag", &[n(1.0)]), Value::Bool(false));
    assert_eq!(
        b("roleAllows", &[s("admin"), s("read")]),
        Value::Bool(false)
    );
    assert_eq!(b("roleAllows", &[n(1.0), s("read")]), Value::Bool(false));
    assert_num(b("now", &[]), 1e12);
    assert_eq!(b("uuid", &[s("ignored")]), s("test-id-1"));
}
