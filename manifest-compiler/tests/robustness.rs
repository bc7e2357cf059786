//! No input makes the compiler panic or overflow its stack: truncations and
//! random byte mutations of every fixture, and pathological nesting (a stack
//! overflow would abort the whole test binary).

mod common;

use common::{fixtures_dir, manifests};
use manifest_compiler::{INTERNAL_ERROR, Options, compile_with};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A tiny xorshift64* generator with a fixed seed: reproducible inputs.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn options() -> Options {
    Options {
        compiled_at: Some("2024-01-01T00:00:00.000Z".into()),
    }
}

/// Compiles `source`, returning false if it panicked (here, or inside the
/// compiler, which reports that as an internal error).
fn survives(source: &str) -> bool {
    match catch_unwind(AssertUnwindSafe(|| compile_with(source, &options()))) {
        Ok(Ok(_)) => true,
        Ok(Err(d)) => !d
            .all()
            .iter()
            .any(|x| x.message.starts_with(INTERNAL_ERROR)),
        Err(_) => false,
    }
}

const BYTES: &[u8] = b"{}()[]<>:;,.=!?&|+-*/%\"'`\n \tabcXYZ019_@#\\";
const WORDS: &[&str] = &[
    "entity ",
    "command ",
    "property ",
    "guard ",
    "mutate ",
    "emit ",
    "store ",
    "in ",
    "memory ",
    "policy ",
    "constraint ",
    "on ",
    "run ",
    "fanOut ",
    "match ",
    "else ",
    "create ",
    "(",
    ")",
    "{",
    "}",
    "\"",
    "self.",
    "count(X where ",
    "sum(X where ",
    "=>",
    "extends ",
    "mixin ",
    "approval ",
    "stages ",
    "saga ",
    "step ",
    "webhook ",
    "schedule ",
    "role ",
    "module ",
];

#[test]
fn truncations_and_mutations_never_panic() {
    let fixtures = manifests(&fixtures_dir());
    assert!(fixtures.len() >= 94);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let (mut tried, mut panicked) = (0usize, Vec::new());
    for (name, source) in &fixtures {
        // Truncations at about 40 points per fixture, on char boundaries.
        let len = source.len();
        let step = (len / 80).max(1);
        let mut cut = 0;
        while cut <= len {
            if source.is_char_boundary(cut) {
                tried += 1;
                if !survives(&source[..cut]) {
                    panicked.push(format!("{name} truncated at {cut}"));
                }
            }
            cut += step;
        }
        // Random mutations: overwrite, insert or delete bytes and words.
        for round in 0..120 {
            let mut bytes = source.as_bytes().to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len() + 1);
                match rng.below(4) {
                    0 if at < bytes.len() => bytes[at] = BYTES[rng.below(BYTES.len())],
                    1 => bytes.insert(at, BYTES[rng.below(BYTES.len())]),
                    2 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {
                        let w = WORDS[rng.below(WORDS.len())].as_bytes();
                        bytes.splice(at..at, w.iter().copied());
                    }
                }
            }
            let mutated = String::from_utf8_lossy(&bytes);
            tried += 1;
            if !survives(&mutated) {
                panicked.push(format!("{name} mutation {round}"));
            }
        }
    }
    eprintln!(
        "robustness: {tried} inputs tried, {} panicked",
        panicked.len()
    );
    assert!(tried > 15_000, "{tried}");
    assert!(panicked.is_empty(), "panicked on: {panicked:?}");
}

fn expect_error(what: &str, source: &str) {
    let result = catch_unwind(AssertUnwindSafe(|| compile_with(source, &options())));
    match result {
        Ok(Err(d)) => {
            let first = d
                .errors()
                .next()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            assert!(
                first.contains("too deep") || first.starts_with("Expected"),
                "{what}: {first}"
            );
        }
        Ok(Ok(_)) => panic!("{what}: compiled"),
        Err(_) => panic!("{what}: panicked"),
    }
}

#[test]
fn deep_nesting_is_a_diagnostic_not_a_crash() {
    let n = 100_000;
    let wrap = |body: String| format!("entity A {{\n  computed c: number = {body}\n}}\n");
    expect_error("parentheses", &wrap("(".repeat(n)));
    expect_error(
        "closed parentheses",
        &wrap(format!("{}1{}", "(".repeat(n), ")".repeat(n))),
    );
    expect_error("arrays", &wrap("[".repeat(n)));
    expect_error("objects", &wrap("{a: ".repeat(n)));
    expect_error("negations", &wrap(format!("{}x", "!".repeat(n))));
    expect_error("minus signs", &wrap(format!("{}x", "-".repeat(n))));
    expect_error("nots", &wrap(format!("{}x", "not ".repeat(n))));
    expect_error("sums", &wrap(format!("{}x", "x + ".repeat(n))));
    expect_error("members", &wrap(format!("x{}", ".y".repeat(n))));
    expect_error("calls", &wrap(format!("f{}", "()".repeat(n))));
    expect_error("ternaries", &wrap(format!("{}1", "x ? 1 : ".repeat(n))));
    expect_error("lambdas", &wrap(format!("{}1", "(x) => ".repeat(n))));
    expect_error(
        "generic types",
        &format!("entity A {{\n  property p: {}\n}}\n", "list<".repeat(n)),
    );
    expect_error("entities", &"entity A {\n".repeat(n));
    expect_error("modules", &"module M {\n".repeat(n));
}

#[test]
fn expressions_just_under_the_limits_compile() {
    let body = format!("{}1{}", "(".repeat(40), ")".repeat(40));
    let source = format!("entity A {{\n  computed c: number = {body}\n}}\nstore A in memory\n");
    assert!(compile_with(&source, &options()).is_ok());
    let sum = format!("{}1", "1 + ".repeat(200));
    let source = format!("entity A {{\n  computed c: number = {sum}\n}}\nstore A in memory\n");
    assert!(compile_with(&source, &options()).is_ok());
}
