//! `Value` conversions against JavaScript's.

use super::*;

#[test]
fn number_formatting_matches_javascript() {
    let cases = [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (1.5, "1.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (123_456_789_012_345_680_000.0, "123456789012345680000"),
        (1_000_000_000_000.0, "1000000000000"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (-1.5e-9, "-1.5e-9"),
    ];
    for (n, want) in cases {
        assert_eq!(js_number_to_string(n), want, "{n:?}");
        assert_eq!(Value::Number(n).to_js_string(), want);
    }
}

#[test]
fn to_string_of_compounds_and_primitives() {
    let arr = Value::Array(vec![
        Value::Number(1.0),
        Value::Null,
        Value::Undefined,
        Value::Array(vec![Value::from("a"), Value::Bool(true)]),
    ]);
    assert_eq!(arr.to_js_string(), "1,,,a,true");
    assert_eq!(
        Value::Object(Object::new()).to_js_string(),
        "[object Object]"
    );
    assert_eq!(Value::Undefined.to_js_string(), "undefined");
    assert_eq!(Value::Null.to_js_string(), "null");
}

#[test]
fn string_to_number_follows_javascript() {
    let cases: [(&str, f64); 17] = [
        ("", 0.0),
        ("  \n\t ", 0.0),
        (" 42 ", 42.0),
        ("-1.5", -1.5),
        ("+.5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("1E-2", 0.01),
        ("0x1F", 31.0),
        ("0b101", 5.0),
        ("0o17", 15.0),
        ("Infinity", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
        ("\u{feff}7\u{a0}", 7.0),
        ("00012", 12.0),
        ("-0", -0.0),
        ("1_000", f64::NAN),
    ];
    for (s, want) in cases {
        let got = string_to_number(s);
        assert!(
            got == want && got.is_sign_negative() == want.is_sign_negative()
                || (got.is_nan() && want.is_nan()),
            "{s:?}: {got} != {want}"
        );
    }
    for bad in [
        "abc", "inf", "nan", "NaN", "infinity", "1e", "e5", ".", "-0x10", "0x", "1 2", "--1", "0xG",
    ] {
        assert!(string_to_number(bad).is_nan(), "{bad:?}");
    }
}

#[test]
fn to_number_of_every_type() {
    assert!(Value::Undefined.to_number().is_nan());
    assert_eq!(Value::Null.to_number(), 0.0);
    assert_eq!(Value::Bool(true).to_number(), 1.0);
    assert_eq!(Value::Array(vec![]).to_number(), 0.0);
    assert_eq!(Value::Array(vec![Value::from("7")]).to_number(), 7.0);
    assert!(
        Value::Array(vec![Value::Number(1.0), Value::Number(2.0)])
            .to_number()
            .is_nan()
    );
    assert!(Value::Object(Object::new()).to_number().is_nan());
}

#[test]
fn truthiness() {
    for falsy in [
        Value::Undefined,
        Value::Null,
        Value::Bool(false),
        Value::Number(0.0),
        Value::Number(-0.0),
        Value::Number(f64::NAN),
        Value::from(""),
    ] {
        assert!(!falsy.truthy(), "{falsy:?}");
    }
    for truthy in [
        Value::Bool(true),
        Value::Number(-1.0),
        Value::from("0"),
        Value::from("false"),
        Value::Array(vec![]),
        Value::Object(Object::new()),
    ] {
        assert!(truthy.truthy(), "{truthy:?}");
    }
}

/// The pairs of fixture 14 (operator-equality) and the rest of the JavaScript table.
#[test]
fn loose_equality_table() {
    let n = Value::Number;
    let s = Value::from;
    let b = Value::Bool;
    let arr = |v: Vec<Value>| Value::Array(v);
    let equal = [
        (Value::Undefined, Value::Null),
        (Value::Null, Value::Null),
        (Value::Undefined, Value::Undefined),
        (s("5"), n(5.0)),
        (n(0.0), b(false)),
        (n(1.0), b(true)),
        (s(""), n(0.0)),
        (s(""), b(false)),
        (s("1"), b(true)),
        (s(" \t"), n(0.0)),
        (n(0.0), n(-0.0)),
        (s("active"), s("active")),
        (arr(vec![n(1.0)]), s("1")),
        (arr(vec![n(1.0)]), n(1.0)),
        (arr(vec![]), b(false)),
        (arr(vec![]), s("")),
        (Value::Object(Object::new()), s("[object Object]")),
        (s("0x10"), n(16.0)),
    ];
    for (x, y) in equal {
        assert!(x.loose_eq(&y), "{x:?} == {y:?}");
        assert!(y.loose_eq(&x), "{y:?} == {x:?}");
    }
    let unequal = [
        (Value::Null, n(0.0)),
        (Value::Undefined, b(false)),
        (Value::Null, b(false)),
        (Value::Undefined, s("")),
        (n(f64::NAN), n(f64::NAN)),
        (s("NaN"), n(f64::NAN)),
        (s("a"), s("b")),
        (s("true"), b(true)),
        (arr(vec![]), arr(vec![])),
        (Value::Object(Object::new()), Value::Object(Object::new())),
        (s("5"), n(6.0)),
        (s("abc"), n(0.0)),
        (b(true), n(2.0)),
    ];
    for (x, y) in unequal {
        assert!(!x.loose_eq(&y), "{x:?} != {y:?}");
        assert!(!y.loose_eq(&x), "{y:?} != {x:?}");
    }
}

#[test]
fn strict_and_same_value_zero() {
    assert!(!Value::Number(f64::NAN).strict_eq(&Value::Number(f64::NAN)));
    assert!(Value::Number(f64::NAN).same_value_zero(&Value::Number(f64::NAN)));
    assert!(Value::Number(0.0).same_value_zero(&Value::Number(-0.0)));
    assert!(!Value::from("1").strict_eq(&Value::Number(1.0)));
    assert!(!Value::Undefined.strict_eq(&Value::Null));
}

#[test]
fn relational_comparison() {
    let cmp = |a: Value, b: Value| a.js_compare(&b);
    assert_eq!(
        cmp(Value::from("a"), Value::from("b")),
        Some(Ordering::Less)
    );
    assert_eq!(
        cmp(Value::from("10"), Value::from("9")),
        Some(Ordering::Less)
    );
    assert_eq!(
        cmp(Value::from("10"), Value::Number(9.0)),
        Some(Ordering::Greater)
    );
    assert_eq!(cmp(Value::Null, Value::Number(0.0)), Some(Ordering::Equal));
    assert_eq!(cmp(Value::Undefined, Value::Number(0.0)), None);
    assert_eq!(cmp(Value::from("x"), Value::Number(0.0)), None);
    // UTF-16 order: U+FF5E sorts after U+1F600's high surrogate (0xD83D).
    assert_eq!(
        cmp(Value::from("\u{ff5e}"), Value::from("\u{1f600}")),
        Some(Ordering::Greater)
    );
}

#[test]
fn json_round_trip() {
    let json: Json = serde_json::json!({"a": 6, "b": [1.5, null, "x"], "c": {"d": true}});
    let v = Value::from(&json);
    assert_eq!(v.to_json(), Some(json.clone()));
    assert_eq!(Value::from(json.clone()), v);
    assert_eq!(Value::Undefined.to_json(), None);
    assert_eq!(Value::Number(6.0).to_json().unwrap().to_string(), "6");
    assert_eq!(Value::Number(-0.0).to_json().unwrap().to_string(), "0");
    assert_eq!(Value::Number(f64::NAN).to_json(), Some(Json::Null));
    assert_eq!(Value::Number(f64::INFINITY).to_json(), Some(Json::Null));
    assert_eq!(
        Value::Number(1e300).to_json().unwrap().as_f64(),
        Some(1e300)
    );
    let mut fields = Object::new();
    fields.insert("gone".to_owned(), Value::Undefined);
    fields.insert("kept".to_owned(), Value::Null);
    let holes = Value::Array(vec![Value::Undefined, Value::Object(fields)]);
    assert_eq!(
        holes.to_json(),
        Some(serde_json::json!([null, {"kept": null}]))
    );
}

#[test]
fn utf16_helpers() {
    assert_eq!(utf16_len("abc"), 3);
    assert_eq!(utf16_len("é😀"), 3);
    assert!(is_js_whitespace('\u{feff}'));
    assert!(!is_js_whitespace('\u{85}'));
    assert!(is_js_whitespace('\u{2028}'));
}
