//! `canonical` against the existing canonical writer (`manifest-compiler`'s `jsjson`, copied
//! into tests/common as the oracle) and against upstream's own `irHash` stored in the IR
//! fixtures; and its speed beside the oracle's.

mod common;

use common::{hex, oracle, read, workspace};
use manifest_ir::canonical;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

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
