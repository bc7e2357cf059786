//! `canonical` for each kind of value serde writes: structs (and their field order), numbers,
//! strings, maps, options, units, enums, bytes; and `Serialize` impls that break serde's rules.

mod common;

use common::oracle;
use manifest_ir::canonical::{self, Error};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

#[derive(Serialize)]
struct Sorted {
    #[serde(rename = "_kind")]
    kind: &'static str,
    a: u8,
    #[serde(rename = "aB", skip_serializing_if = "Option::is_none")]
    a_b: Option<u8>,
    b: Vec<Inner>,
    #[serde(rename = "B")]
    big_b: bool,
    #[serde(rename = "c1")]
    c1: (),
}

#[derive(Serialize)]
struct Inner {
    name: String,
    #[serde(rename = "type")]
    ty: Kind,
}

#[derive(Serialize)]
enum Kind {
    Unit,
    Newtype(u8),
    Tuple(u8, String),
    Struct { x: f64, y: Option<u8> },
}

#[test]
fn structs_in_sorted_order_stream_out() {
    let v = Sorted {
        kind: "k",
        a: 1,
        a_b: None,
        b: vec![
            Inner {
                name: "n".into(),
                ty: Kind::Unit,
            },
            Inner {
                name: "m".into(),
                ty: Kind::Struct { x: 2.0, y: None },
            },
        ],
        big_b: true,
        c1: (),
    };
    let text = canonical::to_string(&v).unwrap();
    assert_eq!(
        text,
        r#"{"_kind":"k","a":1,"b":[{"name":"n","type":"Unit"},{"name":"m","type":{"Struct":{"x":2,"y":null}}}],"B":true,"c1":null}"#
    );
    let with_ab = Sorted { a_b: Some(3), ..v };
    let text = canonical::to_string(&with_ab).unwrap();
    assert!(
        text.starts_with(r#"{"_kind":"k","a":1,"aB":3,"b":"#),
        "{text}"
    );
    // And as the oracle writes the same value through serde_json::Value.
    let value = serde_json::to_value(&with_ab).unwrap();
    assert_eq!(text, oracle::canonical_string(&value));
}

#[test]
fn structs_out_of_order_are_an_error() {
    #[derive(Serialize)]
    struct Unsorted {
        a: u8,
        #[serde(rename = "B")]
        big_b: u8,
        b: u8,
    }
    let err = canonical::to_string(&Unsorted {
        a: 1,
        big_b: 2,
        b: 3,
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::KeyOrder {
                container: "Unsorted",
                previous: "B",
                key: "b"
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Unsorted"), "{err}");

    #[derive(Serialize)]
    struct Repeated {
        a: u8,
        #[serde(rename = "a")]
        again: u8,
    }
    let err = canonical::to_string(&Repeated { a: 1, again: 2 }).unwrap_err();
    assert!(matches!(err, Error::KeyOrder { key: "a", .. }), "{err:?}");

    #[derive(Serialize)]
    enum E {
        V { z: u8, y: u8 },
    }
    let err = canonical::sha256_hex(&E::V { z: 1, y: 2 }).unwrap_err();
    assert!(
        matches!(
            err,
            Error::KeyOrder {
                container: "V",
                previous: "z",
                key: "y"
            }
        ),
        "{err:?}"
    );
}

#[test]
fn numbers_are_javascript_text() {
    let cases: [(f64, &str); 12] = [
        (6.0, "6"),
        (-6.0, "-6"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1.5e-7, "1.5e-7"),
        (-0.0, "0"),
        (f64::NAN, "null"),
        (f64::INFINITY, "null"),
        (f64::NEG_INFINITY, "null"),
        (f64::MAX, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
    ];
    for (n, text) in cases {
        assert_eq!(canonical::to_string(&n).unwrap(), text, "{n}");
    }
    assert_eq!(
        canonical::to_string(&0.1f32).unwrap(),
        "0.10000000149011612"
    );
    assert_eq!(canonical::to_string(&f32::NAN).unwrap(), "null");
    assert_eq!(
        canonical::to_string(&u64::MAX).unwrap(),
        "18446744073709551615"
    );
    assert_eq!(
        canonical::to_string(&i64::MIN).unwrap(),
        "-9223372036854775808"
    );
    assert_eq!(canonical::to_string(&0u8).unwrap(), "0");
    assert_eq!(canonical::to_string(&-7i8).unwrap(), "-7");
    assert_eq!(
        canonical::to_string(&-(1i128 << 100)).unwrap(),
        "-1267650600228229401496703205376"
    );
    // Every finite f64 as `String(n)`.
    for n in [
        1.0,
        -1.5,
        123456789.125,
        1e-7,
        2f64.powi(53),
        2f64.powi(53) + 2.0,
        1e300,
        -1e-300,
        f64::EPSILON,
        f64::MIN_POSITIVE,
        std::f64::consts::PI,
        0.1 + 0.2,
    ] {
        assert_eq!(
            canonical::to_string(&n).unwrap(),
            manifest_ir::js::number_to_string(n)
        );
    }
    let v = json!([6.0, 0.5, u64::MAX, i64::MIN, -0.0, 1e21]);
    assert_eq!(
        canonical::to_string(&v).unwrap(),
        oracle::canonical_string(&v)
    );
}

#[test]
fn strings_escape_as_json_stringify_does() {
    let s = "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}é😀/<";
    let expected = r#""a\"b\\c\n\r\t\b\f\u0001\u001fé😀/<""#;
    assert_eq!(canonical::to_string(s).unwrap(), expected);
    assert_eq!(canonical::to_string(&'\n').unwrap(), r#""\n""#);
    assert_eq!(canonical::to_string(&'x').unwrap(), r#""x""#);
    let v = json!({ s: s });
    assert_eq!(
        canonical::to_string(&v).unwrap(),
        oracle::canonical_string(&v)
    );
}

#[test]
fn map_keys_sort_by_locale_compare() {
    let v = json!({"b": 1, "B": 2, "a": [1, "x\n"], "_z": null});
    assert_eq!(
        canonical::to_string(&v).unwrap(),
        r#"{"_z":null,"a":[1,"x\n"],"b":1,"B":2}"#
    );
    let nested = json!({
        "Z": {"b": {"B": 1, "b": {"y": [], "X": {}}}, "a": "q\"\n"},
        "y": [{"c": 1, "C": 2, "a1": 3, "a_": 4, "a": 5}, {}],
        "x\ty": {"\u{1}": 0, "é": 1, "e": 2, "E": 3},
    });
    assert_eq!(
        canonical::to_string(&nested).unwrap(),
        oracle::canonical_string(&nested)
    );
    assert!(
        canonical::to_string(&nested)
            .unwrap()
            .starts_with(r#"{"x\ty":{"\u0001":0,"e":2,"E":3,"é":1},"y":[{"a":5,"a_":4,"a1":3"#)
    );

    // Any map type: a HashMap's random order, a Vec of pairs via collect_map.
    let mut hm: HashMap<String, BTreeMap<&str, u8>> = HashMap::new();
    for k in ["b", "B", "a", "_z", "A", "a1", "aa", "a_"] {
        hm.insert(k.into(), [("Q", 1), ("q", 2), ("_", 3)].into());
    }
    let via_value = serde_json::to_value(&hm).unwrap();
    assert_eq!(
        canonical::to_string(&hm).unwrap(),
        oracle::canonical_string(&via_value)
    );
    struct Pairs(Vec<(&'static str, u8)>);
    impl Serialize for Pairs {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }
    let pairs = Pairs(vec![("z", 1), ("a", 2), ("a", 3), ("M", 4), ("m", 5)]);
    assert_eq!(
        canonical::to_string(&pairs).unwrap(),
        r#"{"a":2,"a":3,"m":5,"M":4,"z":1}"#
    );
}

#[test]
fn flattened_struct_fields_sort_with_the_map() {
    #[derive(Serialize)]
    struct Flat {
        z: u8,
        #[serde(flatten)]
        rest: BTreeMap<String, u8>,
        a: Inner2,
    }
    #[derive(Serialize)]
    struct Inner2 {
        k: u8,
    }
    let v = Flat {
        z: 1,
        rest: [("m".to_string(), 2), ("B".to_string(), 3)].into(),
        a: Inner2 { k: 4 },
    };
    assert_eq!(
        canonical::to_string(&v).unwrap(),
        r#"{"a":{"k":4},"B":3,"m":2,"z":1}"#
    );
}

#[test]
fn map_keys_must_be_strings() {
    let m: BTreeMap<u8, u8> = [(1, 2)].into();
    assert!(matches!(
        canonical::to_string(&m),
        Err(Error::KeyMustBeString("a number"))
    ));
    let m: BTreeMap<(u8, u8), u8> = [((1, 1), 2)].into();
    assert!(canonical::to_string(&m).is_err());
    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    enum K {
        Left,
        #[serde(rename = "right")]
        Right,
    }
    let m: BTreeMap<K, char> = [(K::Right, 'r'), (K::Left, 'l')].into();
    assert_eq!(
        canonical::to_string(&m).unwrap(),
        r#"{"Left":"l","right":"r"}"#
    );
    let m: BTreeMap<char, u8> = [('b', 1), ('A', 2)].into();
    assert_eq!(canonical::to_string(&m).unwrap(), r#"{"A":2,"b":1}"#);
}

#[test]
fn options_units_and_enums_write_as_serde_json_does() {
    #[derive(Serialize)]
    struct Unit;
    #[derive(Serialize)]
    struct Newtype(String);
    #[derive(Serialize)]
    struct Tuple(u8, Option<u8>);
    let kinds = vec![
        Kind::Unit,
        Kind::Newtype(7),
        Kind::Tuple(1, "t".into()),
        Kind::Struct { x: 0.5, y: Some(2) },
    ];
    let cases: Vec<(String, &str)> = vec![
        (canonical::to_string(&None::<u8>).unwrap(), "null"),
        (canonical::to_string(&Some(3u8)).unwrap(), "3"),
        (canonical::to_string(&()).unwrap(), "null"),
        (canonical::to_string(&Unit).unwrap(), "null"),
        (
            canonical::to_string(&Newtype("n".into())).unwrap(),
            r#""n""#,
        ),
        (canonical::to_string(&Tuple(1, None)).unwrap(), "[1,null]"),
        (
            canonical::to_string(&(true, false, "x")).unwrap(),
            r#"[true,false,"x"]"#,
        ),
        (canonical::to_string(&Vec::<u8>::new()).unwrap(), "[]"),
        (
            canonical::to_string(&kinds).unwrap(),
            r#"["Unit",{"Newtype":7},{"Tuple":[1,"t"]},{"Struct":{"x":0.5,"y":2}}]"#,
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
    assert_eq!(
        canonical::to_string(&kinds).unwrap(),
        serde_json::to_string(&kinds).unwrap()
    );
    struct Bytes(&'static [u8]);
    impl Serialize for Bytes {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
    assert_eq!(
        canonical::to_string(&Bytes(b"\0\x01\xff")).unwrap(),
        "[0,1,255]"
    );
    assert_eq!(canonical::to_string(&Bytes(b"")).unwrap(), "[]");
}

/// `Serialize` impls that break serde's contract get an error, not a panic.
#[test]
fn broken_serialize_impls_are_errors() {
    use serde::ser::SerializeMap;
    enum Broken {
        ValueWithoutKey,
        KeyWithoutValue,
        TwoKeys,
        AbandonedInner,
    }
    impl Serialize for Broken {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(None)?;
            match self {
                Broken::ValueWithoutKey => m.serialize_value(&1)?,
                Broken::KeyWithoutValue => m.serialize_key("k")?,
                Broken::TwoKeys => {
                    m.serialize_key("k")?;
                    m.serialize_key("j")?;
                }
                Broken::AbandonedInner => {
                    m.serialize_key("k")?;
                    m.serialize_value(&Abandon)?;
                }
            }
            m.end()
        }
    }
    struct Abandon;
    impl Serialize for Abandon {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(None)?;
            m.serialize_entry("b", &1)?;
            m.serialize_entry("a", &2)?;
            drop(m);
            Err(serde::ser::Error::custom("gave up"))
        }
    }
    /// Ignores the errors it is given, and carries on.
    struct Swallow;
    impl Serialize for Swallow {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeSeq;
            let mut seq = s.serialize_seq(None)?;
            let _ = seq.serialize_element(&Abandon);
            let _ = seq.serialize_element(&1);
            let _ = seq.serialize_element(&Broken::TwoKeys);
            seq.end()
        }
    }
    struct SwallowInMap;
    impl Serialize for SwallowInMap {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(None)?;
            m.serialize_key("z")?;
            let _ = m.serialize_value(&Abandon);
            let _ = m.serialize_entry("a", &Swallow);
            let _ = m.serialize_entry("b", &1);
            m.end()
        }
    }
    for b in [
        Broken::ValueWithoutKey,
        Broken::KeyWithoutValue,
        Broken::TwoKeys,
        Broken::AbandonedInner,
    ] {
        assert!(canonical::to_string(&b).is_err());
        assert!(canonical::sha256_hex(&b).is_err());
    }
    assert!(canonical::to_string(&Swallow).is_err());
    assert!(canonical::to_string(&SwallowInMap).is_err());
    assert!(canonical::to_string(&[Swallow]).is_err());
}
