//! `canonical` against the existing canonical writer (`manifest-compiler`'s `jsjson`, copied
//! below as the oracle) and against upstream's own `irHash` stored in every IR fixture.

use manifest_ir::canonical::{self, Error};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// THE ORACLE: `manifest-compiler/src/jsjson.rs`'s `write_value`, `write_object`,
/// `itoa_i64` and `write_string`, copied verbatim but for writing to a `String` rather than
/// its `Sink` (jsjson is private to manifest-compiler).
mod oracle {
    use manifest_ir::js::{locale_compare, number_to_string};
    use serde_json::{Map, Value};
    use std::cmp::Ordering;

    pub fn canonical_string(value: &Value) -> String {
        let mut out = String::new();
        write_value(value, &mut out);
        out
    }

    fn write_value(value: &Value, out: &mut String) {
        // Iterative over nesting would be nicer; IR depth is bounded by the parser.
        match value {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    out.push_str(itoa_i64(i, &mut [0; 20]));
                } else if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                    if f.is_finite() {
                        out.push_str(ryu_js::Buffer::new().format(f));
                    } else {
                        out.push_str(&number_to_string(f));
                    }
                } else {
                    out.push_str(&n.to_string());
                }
            }
            Value::String(s) => write_string(s, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_value(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => write_object(map, out),
        }
    }

    fn write_object(map: &Map<String, Value>, out: &mut String) {
        out.push('{');
        // serde_json's maps iterate in byte order, which for the IR's keys is
        // nearly always `localeCompare` order already: sort only when it is not.
        let in_order = map
            .keys()
            .zip(map.keys().skip(1))
            .all(|(a, b)| locale_compare(a, b) != Ordering::Greater);
        if in_order {
            for (i, (key, value)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(value, out);
            }
        } else {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| locale_compare(a.0, b.0));
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(value, out);
            }
        }
        out.push('}');
    }

    /// The decimal text of `i`, in `buf`.
    fn itoa_i64(i: i64, buf: &mut [u8; 20]) -> &str {
        let mut n = i.unsigned_abs();
        let mut at = buf.len();
        loop {
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if i < 0 {
            at -= 1;
            buf[at] = b'-';
        }
        std::str::from_utf8(&buf[at..]).unwrap_or_default()
    }

    fn write_string(s: &str, out: &mut String) {
        out.push('"');
        if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            out.push_str(s);
            out.push('"');
            return;
        }
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `*.ir.json` in the workspace, outside `target` and hidden directories.
fn ir_fixtures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    walk(&path, out);
                }
            } else if name.ends_with(".ir.json") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&workspace(), &mut out);
    out.sort();
    out
}

/// `ir` with `provenance.irHash` taken out, and the hash taken out (if it was a string).
fn without_ir_hash(ir: &Value) -> (Value, Option<String>) {
    let mut ir = ir.clone();
    let hash = ir
        .get_mut("provenance")
        .and_then(Value::as_object_mut)
        .and_then(|p| p.remove("irHash"));
    (ir, hash.and_then(|h| h.as_str().map(str::to_owned)))
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

#[test]
fn every_ir_fixture_matches_the_oracle_and_its_stored_ir_hash() {
    let fixtures = ir_fixtures();
    let root = workspace();
    for dir in [
        "manifest-compiler/tests/fixtures",
        "tests/conformance/fixtures",
    ] {
        let n = fixtures
            .iter()
            .filter(|p| p.starts_with(root.join(dir)))
            .count();
        assert!(n >= 10, "only {n} IR fixtures under {dir}");
    }
    // Fixtures copied from upstream's suites had `contentHash` and `compilerVersion`
    // overwritten with "normalized-..." after `irHash` was stamped, so their `irHash` is of a
    // document no longer there. Every other fixture's `irHash` must recompute — among them
    // the npm reference compiler's own output in manifest-compiler/tests/provenance.
    let (mut hashed, mut npm, mut normalized) = (0, 0, 0);
    for path in &fixtures {
        let ir = read(path);
        let text = canonical::to_string(&ir).unwrap();
        assert_eq!(text, oracle::canonical_string(&ir), "{path:?}");

        let (bare, stored) = without_ir_hash(&ir);
        let text = canonical::to_string(&bare).unwrap();
        assert_eq!(text, oracle::canonical_string(&bare), "{path:?}");
        let hash = canonical::sha256_hex(&bare).unwrap();
        assert_eq!(hash, hex(&Sha256::digest(text.as_bytes())), "{path:?}");
        let Some(stored) = stored else { continue };
        let provenance = ir["provenance"].as_object().into_iter().flatten();
        if provenance
            .filter_map(|(_, v)| v.as_str())
            .any(|v| v.starts_with("normalized-"))
        {
            normalized += 1;
            continue;
        }
        assert_eq!(hash, stored, "{path:?}: irHash");
        hashed += 1;
        npm += usize::from(path.to_string_lossy().contains(".npm-"));
    }
    println!(
        "{} IR fixtures: {hashed} irHash recomputed ({npm} from npm), {normalized} normalized",
        fixtures.len()
    );
    assert!(fixtures.len() >= 95, "only {} IR fixtures", fixtures.len());
    assert!(
        hashed >= 10 && npm >= 4,
        "{hashed} irHash checked, {npm} npm"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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

/// Random documents, their objects written in shuffled order, against the oracle: keys and
/// strings with quotes, backslashes, control chars, commas and brackets, so that maps out of
/// order are split back into their entries through all of that.
#[test]
fn shuffled_random_documents_match_the_oracle() {
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }
    const ALPHABET: [&str; 16] = [
        "a", "b", "B", "_", "1", "\"", "\\", "\n", "\u{1}", "é", ",", "{", "}", "[", ":", "Z",
    ];
    fn text(rng: &mut Rng) -> String {
        (0..rng.below(5)).map(|_| ALPHABET[rng.below(16)]).collect()
    }
    fn value(rng: &mut Rng, depth: usize) -> Value {
        match rng.below(if depth > 3 { 4 } else { 7 }) {
            0 => Value::Null,
            1 => json!(rng.below(1000) as f64 / 8.0),
            2 => Value::String(text(rng)),
            3 => json!(rng.below(2) == 0),
            4 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth + 1)).collect()),
            _ => Value::Object(
                (0..rng.below(6))
                    .map(|_| (text(rng), value(rng, depth + 1)))
                    .collect(),
            ),
        }
    }
    /// `Value`, but each object's entries in the order a seed shuffles them.
    struct Shuffled<'a>(&'a Value, u64);
    impl Serialize for Shuffled<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self.0 {
                Value::Object(map) => {
                    let mut entries: Vec<_> = map.iter().collect();
                    let mut rng = Rng(self.1 | 1);
                    for i in (1..entries.len()).rev() {
                        entries.swap(i, rng.below(i + 1));
                    }
                    let seed = rng.next();
                    s.collect_map(entries.into_iter().map(|(k, v)| (k, Shuffled(v, seed))))
                }
                Value::Array(items) => {
                    s.collect_seq(items.iter().map(|v| Shuffled(v, self.1.rotate_left(7))))
                }
                other => other.serialize(s),
            }
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..2000 {
        let doc = value(&mut rng, 0);
        let want = oracle::canonical_string(&doc);
        assert_eq!(canonical::to_string(&doc).unwrap(), want, "round {round}");
        let shuffled = Shuffled(&doc, rng.next());
        assert_eq!(
            canonical::to_string(&shuffled).unwrap(),
            want,
            "round {round}"
        );
        assert_eq!(
            canonical::sha256_hex(&shuffled).unwrap(),
            hex(&Sha256::digest(want.as_bytes()))
        );
    }
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

#[test]
fn hashing_streams_in_chunks_and_matches_the_text() {
    let long = "x".repeat(40_000);
    let v = json!({
        "provenance": {"contentHash": "c"},
        "B": [1, -2, 0.5, long, {"é": long}], "a": {"Z": null, "y": "q\"\n"},
        "many": (0..5000).map(|i| json!({"k": i, "K": [i, "é"]})).collect::<Vec<_>>(),
    });
    let text = canonical::to_string(&v).unwrap();
    assert!(text.len() > 3 * (1 << 14));
    assert_eq!(
        canonical::sha256_hex(&v).unwrap(),
        hex(&Sha256::digest(text.as_bytes()))
    );
    assert_eq!(
        canonical::sha256_hex("abc").unwrap(),
        hex(&Sha256::digest(b"\"abc\""))
    );
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

/// `cargo test --release -p manifest-ir --test canonical timing -- --ignored --nocapture`:
/// `CANON_N` (1000) rounds, each writing the reference IR once each way in turn (so a busy
/// machine slows all alike); the total and the median round of each.
#[test]
#[ignore = "timing; run in release"]
fn timing_against_the_oracle() {
    use std::time::{Duration, Instant};
    let ir = read(&workspace().join("manifest-compiler/tests/reference/library.ir.json"));
    let n: usize = std::env::var("CANON_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let ways: [(&str, &dyn Fn() -> usize); 4] = [
        ("oracle (jsjson)", &|| oracle::canonical_string(&ir).len()),
        ("canonical::to_string", &|| {
            canonical::to_string(&ir).unwrap().len()
        }),
        ("oracle + SHA-256", &|| {
            Sha256::digest(oracle::canonical_string(&ir).as_bytes()).len()
        }),
        ("canonical::sha256_hex", &|| {
            canonical::sha256_hex(&ir).unwrap().len()
        }),
    ];
    if let Ok(only) = std::env::var("CANON_ONLY") {
        // One way only (`oracle`, `string`, `oracle-hash` or `hash`), for a profiler.
        let way = ["oracle", "string", "oracle-hash", "hash"];
        let way = ways[way.iter().position(|w| *w == only).unwrap_or(3)].1;
        let len: usize = (0..n).map(|_| way()).sum();
        println!("{only}: {len}");
        return;
    }
    let mut times = vec![Vec::with_capacity(n); ways.len()];
    let mut len = 0;
    for _ in 0..n {
        for (way, times) in ways.iter().zip(&mut times) {
            let t = Instant::now();
            len += way.1();
            times.push(t.elapsed());
        }
    }
    println!("library.ir.json, {n} rounds ({len}):");
    for (way, times) in ways.iter().zip(&mut times) {
        times.sort();
        let total: Duration = times.iter().sum();
        let median = times.get(n / 2).copied().unwrap_or_default();
        println!(
            "  {:<22} total {total:>10.2?}, median {median:>8.2?}",
            way.0
        );
    }
}
