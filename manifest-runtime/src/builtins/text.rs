//! String builtins, `matches` (JavaScript regular expressions run by the `regex` crate) and
//! `search`.
//!
//! Where a JavaScript string would hold a lone surrogate (`substring` or `split("")` cutting a
//! character outside the Basic Multilingual Plane in two), the half becomes U+FFFD.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use regex::Regex;

use super::{Args, Builtin, Out, boolean, number, owned};
use crate::eval::{EvalError, Evaluator};
use crate::limits::Limits;
use crate::value::{Value, is_js_whitespace, utf16_len};

pub(super) fn call<'a>(ev: &mut Evaluator<'_>, builtin: Builtin, args: &mut Args<'a>) -> Out<'a> {
    use Builtin as B;
    let Some(s) = args.str(0) else {
        return match builtin {
            B::StartsWith | B::EndsWith | B::Matches | B::Search => boolean(false),
            B::IndexOf => number(-1.0),
            B::Length => match args.get(0) {
                Value::Array(items) => number(super::len(items)),
                _ => Ok(args.take(0)),
            },
            _ => Ok(args.take(0)),
        };
    };
    // Every string builtin scans its string once (or builds one at most this long, checked).
    ev.spend(s.len() as u64 >> 10)?;
    match builtin {
        B::Trim => owned(Value::from(s.trim_matches(is_js_whitespace))),
        B::Split => owned(split(s, args.get(1), ev.limits)?),
        B::StartsWith => boolean(s.starts_with(args.get(1).to_js_string().as_str())),
        B::EndsWith => boolean(s.ends_with(args.get(1).to_js_string().as_str())),
        B::Replace => {
            let Some(search) = args.str(1) else {
                // `search.replace(...)` on a non-string throws a TypeError in the reference.
                return Err(EvalError::InvalidArgument {
                    function: "replace",
                    position: "second",
                    got: args.get(1).type_name(),
                });
            };
            let with = args.get(2).to_js_string();
            owned(Value::String(replace(s, search, &with, ev.limits)?))
        }
        B::ToUpperCase => {
            changed_case_len(s, ev.limits, char::to_uppercase)?;
            owned(Value::String(s.to_uppercase()))
        }
        B::ToLowerCase => {
            changed_case_len(s, ev.limits, char::to_lowercase)?;
            owned(Value::String(s.to_lowercase()))
        }
        #[allow(clippy::cast_precision_loss)] // lengths are far below 2^53
        B::Length => number(utf16_len(s) as f64),
        B::Substring => owned(Value::String(substring(s, args.get(1), args.get(2)))),
        B::IndexOf => number(index_of(s, &args.get(1).to_js_string())),
        B::Matches => match args.str(1) {
            Some(pattern) => regex_test(pattern, s).map(|b| Cow::Owned(Value::Bool(b))),
            None => boolean(false),
        },
        B::Search => boolean(args.str(1).is_some_and(|q| search(s, q))),
        _ => unreachable_builtin(builtin),
    }
}

/// Only the string builtins are routed here; answer `undefined` rather than panic.
fn unreachable_builtin<'a>(_: Builtin) -> Out<'a> {
    owned(Value::Undefined)
}

/// `s.replace(search, with)` for every occurrence, its length checked against
/// [`Limits::max_string_bytes`] first.
fn replace(s: &str, search: &str, with: &str, limits: &Limits) -> Result<String, EvalError> {
    if with.len() > search.len() {
        // An empty `search` matches between every two characters and at both ends.
        let count = if search.is_empty() {
            s.chars().count() + 1
        } else {
            s.matches(search).count()
        };
        let len = count
            .saturating_mul(with.len() - search.len())
            .saturating_add(s.len());
        limits.check_string(len)?;
    }
    Ok(s.replace(search, with))
}

/// Check the length of `s` with its case changed by `change` (which can make a character
/// longer: `ß` is `SS`), without building it, when it could exceed the limit.
fn changed_case_len<I: Iterator<Item = char>>(
    s: &str,
    limits: &Limits,
    change: fn(char) -> I,
) -> Result<(), EvalError> {
    // One UTF-8 character grows to at most three times its bytes.
    if s.len().saturating_mul(3) > limits.max_string_bytes {
        let len = s
            .chars()
            .map(|c| change(c).map(char::len_utf8).sum::<usize>())
            .sum();
        limits.check_string(len)?;
    }
    Ok(())
}

/// `s.split(sep)`: `undefined` keeps the string whole, `""` splits into UTF-16 code units.
/// The number of parts is checked against [`Limits::max_array_len`] first.
fn split(s: &str, sep: &Value, limits: &Limits) -> Result<Value, EvalError> {
    if matches!(sep, Value::Undefined) {
        return Ok(Value::Array(vec![Value::from(s)]));
    }
    let sep = sep.to_js_string();
    if sep.is_empty() {
        limits.check_array(utf16_len(s))?;
        let mut parts = Vec::with_capacity(s.len());
        for c in s.chars() {
            if c.len_utf16() == 1 {
                parts.push(Value::String(c.to_string()));
            } else {
                parts.push(Value::from("\u{fffd}"));
                parts.push(Value::from("\u{fffd}"));
            }
        }
        return Ok(Value::Array(parts));
    }
    limits.check_array(s.matches(sep.as_str()).count() + 1)?;
    Ok(Value::Array(
        s.split(sep.as_str()).map(Value::from).collect(),
    ))
}

/// JavaScript `ToIntegerOrInfinity`.
fn to_integer(v: &Value) -> f64 {
    let n = v.to_number();
    if n.is_nan() { 0.0 } else { n.trunc() }
}

/// `s.substring(start, end)` in UTF-16 code units: bounds clamped to `[0, length]`,
/// swapped when reversed, `end` defaulting to the length.
fn substring(s: &str, start: &Value, end: &Value) -> String {
    #[allow(clippy::cast_precision_loss)] // lengths are far below 2^53
    let len = utf16_len(s) as f64;
    let clamp = |n: f64| n.clamp(0.0, len);
    let a = clamp(to_integer(start));
    let b = if matches!(end, Value::Undefined) {
        len
    } else {
        clamp(to_integer(end))
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped to [0, len]
    let (from, to) = (a.min(b) as usize, a.max(b) as usize);
    if s.is_ascii() {
        return s[from..to].to_owned();
    }
    let units: Vec<u16> = s.encode_utf16().collect();
    String::from_utf16_lossy(&units[from..to])
}

/// `s.indexOf(search)` in UTF-16 code units, `-1` when absent.
fn index_of(s: &str, search: &str) -> f64 {
    match s.find(search) {
        #[allow(clippy::cast_precision_loss)] // lengths are far below 2^53
        Some(byte) => utf16_len(&s[..byte]) as f64,
        None => -1.0,
    }
}

/// `search(text, query)`: every lowercase `[a-z0-9]+` token of the query is a token of the
/// text; false for an empty query.
fn search(text: &str, query: &str) -> bool {
    fn tokens(s: &str) -> impl Iterator<Item = String> {
        s.to_lowercase()
            .split(|c: char| !c.is_ascii_lowercase() && !c.is_ascii_digit())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
    }
    let haystack: HashSet<String> = tokens(text).collect();
    let mut needles = tokens(query).peekable();
    needles.peek().is_some() && needles.all(|n| haystack.contains(&n))
}

/// Why a JavaScript pattern has no `regex` equivalent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Untranslatable {
    /// JavaScript rejects it too: `matches` is false.
    Invalid,
    /// JavaScript accepts it, but the `regex` crate cannot run it.
    Unsupported(&'static str),
    /// It translates, but the `regex` crate cannot compile it within its limits (the size
    /// of the compiled program, the nesting of groups); the message says which.
    TooLarge(String),
}

/// Compile a translated pattern. A syntax error means JavaScript rejects the pattern too
/// (the translation keeps JavaScript's syntax), except for the nesting limit, which only
/// the `regex` crate has.
fn compile(rust: &str) -> Result<Regex, Untranslatable> {
    Regex::new(rust).map_err(|e| match e {
        regex::Error::Syntax(message) if !message.contains("exceed the maximum number of") => {
            Untranslatable::Invalid
        }
        other => Untranslatable::TooLarge(other.to_string()),
    })
}

const CACHE_LIMIT: usize = 64;

thread_local! {
    static CACHE: RefCell<HashMap<String, Result<Regex, Untranslatable>>> =
        RefCell::new(HashMap::new());
}

/// `new RegExp(pattern).test(s)`: false for a pattern JavaScript rejects (as the reference's
/// `matches` answers, catching the `SyntaxError`); an error for a pattern JavaScript accepts
/// but this runtime cannot run, rather than a made-up answer.
fn regex_test(pattern: &str, s: &str) -> Result<bool, EvalError> {
    let compiled = CACHE.with(|cache| {
        if let Some(hit) = cache.borrow().get(pattern) {
            return hit.clone();
        }
        let compiled = translate(pattern).and_then(|rust| compile(&rust));
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), compiled.clone());
        compiled
    });
    match compiled {
        Ok(re) => Ok(re.is_match(s)),
        Err(Untranslatable::Invalid) => Ok(false),
        Err(Untranslatable::Unsupported(what)) => Err(EvalError::Unsupported {
            what: format!("{what} in the `matches` pattern {pattern:?}"),
        }),
        Err(Untranslatable::TooLarge(message)) => Err(EvalError::PatternTooLarge {
            pattern: pattern.to_owned(),
            message,
        }),
    }
}

const JS_SPACE: &str =
    r"\t\n\x0B\f\r \xA0\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";

/// Rewrite a JavaScript pattern (no flags, not in `u` mode) in `regex` syntax: ASCII `\d`,
/// `\w`, `\b`; JavaScript's `\s` and `.`; Annex B literal `{`, `}`, `]` and identity escapes.
fn translate(pattern: &str) -> Result<String, Untranslatable> {
    use Untranslatable::{Invalid, Unsupported};
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    return Err(Invalid);
                };
                i += 1;
                i = escape(&chars, i, e, in_class, &mut out)?;
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '[' if in_class => out.push_str(r"\["),
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '-' if in_class && chars.get(i) == Some(&'-') => out.push_str(r"\-"),
            _ if in_class => out.push(c),
            '[' => {
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    // `[]` matches nothing, `[^]` anything.
                    i += 1;
                    out.push_str(if negated { r"(?s:.)" } else { r"[a&&b]" });
                } else {
                    in_class = true;
                    out.push_str(if negated { "[^" } else { "[" });
                }
            }
            '.' => out.push_str(r"[^\n\r\x{2028}\x{2029}]"),
            '(' if chars.get(i) == Some(&'?') => match (chars.get(i + 1), chars.get(i + 2)) {
                (Some(':'), _) => {
                    out.push_str("(?:");
                    i += 2;
                }
                (Some('=' | '!'), _) => return Err(Unsupported("a lookahead")),
                (Some('<'), Some('=' | '!')) => return Err(Unsupported("a lookbehind")),
                (Some('<'), _) => {
                    out.push_str("(?<");
                    i += 2;
                }
                _ => return Err(Invalid),
            },
            '{' => match quantifier_len(&chars[i..]) {
                Some(n) => {
                    out.push('{');
                    out.extend(&chars[i..i + n]);
                    i += n;
                }
                None => out.push_str(r"\{"),
            },
            '}' | ']' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    if in_class {
        return Err(Invalid);
    }
    Ok(out)
}

/// If `rest` (after a `{`) is `n}`, `n,}` or `n,m}`, its length including the `}`.
fn quantifier_len(rest: &[char]) -> Option<usize> {
    let digits = |from: usize| {
        rest[from..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let min = digits(0);
    if min == 0 {
        return None;
    }
    let mut i = min;
    if rest.get(i) == Some(&',') {
        i += 1 + digits(i + 1);
    }
    (rest.get(i) == Some(&'}')).then_some(i + 1)
}

/// Translate the escape `\e` (the characters after it start at `i`); returns the new `i`.
fn escape(
    chars: &[char],
    mut i: usize,
    e: char,
    in_class: bool,
    out: &mut String,
) -> Result<usize, Untranslatable> {
    use Untranslatable::Unsupported;
    let class = |out: &mut String, body: &str, negated: bool| {
        out.push_str(if negated { "[^" } else { "[" });
        out.push_str(body);
        out.push(']');
    };
    let hex = |from: usize, n: usize| -> Option<u32> {
        let digits: String = chars.get(from..from + n)?.iter().collect();
        if digits.chars().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(&digits, 16).ok()
        } else {
            None
        }
    };
    let literal = |out: &mut String, c: char| {
        out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
    };
    match e {
        'd' | 'D' => class(out, "0-9", e == 'D'),
        'w' | 'W' => class(out, "0-9A-Za-z_", e == 'W'),
        's' | 'S' => class(out, JS_SPACE, e == 'S'),
        'b' if in_class => out.push_str(r"\x08"),
        'b' => out.push_str(r"(?-u:\b)"),
        'B' if !in_class => out.push_str(r"(?-u:\B)"),
        'n' | 'r' | 't' | 'f' | 'v' => {
            out.push('\\');
            out.push(e);
        }
        '0' if !chars.get(i).is_some_and(char::is_ascii_digit) => out.push_str(r"\x00"),
        '0'..='9' => return Err(Unsupported("a backreference or octal escape")),
        'k' if chars.get(i) == Some(&'<') => return Err(Unsupported("a named backreference")),
        'x' => match hex(i, 2) {
            Some(n) => {
                i += 2;
                out.push_str(&format!(r"\x{{{n:X}}}"));
            }
            None => literal(out, 'x'),
        },
        'u' => match hex(i, 4) {
            Some(hi @ 0xD800..=0xDBFF) => {
                let lo = (chars.get(i + 4) == Some(&'\\') && chars.get(i + 5) == Some(&'u'))
                    .then(|| hex(i + 6, 4))
                    .flatten()
                    .filter(|lo| (0xDC00..=0xDFFF).contains(lo))
                    .ok_or(Unsupported("a lone surrogate"))?;
                i += 10;
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                out.push_str(&format!(r"\x{{{c:X}}}"));
            }
            Some(0xDC00..=0xDFFF) => return Err(Unsupported("a lone surrogate")),
            Some(n) => {
                i += 4;
                out.push_str(&format!(r"\x{{{n:X}}}"));
            }
            None => literal(out, 'u'),
        },
        'c' => match chars.get(i) {
            Some(&l) if l.is_ascii_alphabetic() => {
                i += 1;
                out.push_str(&format!(r"\x{{{:X}}}", u32::from(l) % 32));
            }
            _ => {
                literal(out, '\\');
                literal(out, 'c');
            }
        },
        other => literal(out, other),
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_javascript_patterns() {
        let ok = |p: &str| translate(p).unwrap_or_else(|e| panic!("{p}: {e:?}"));
        assert_eq!(ok(r"^\d{3}-\d{4}$"), r"^[0-9]{3}-[0-9]{4}$");
        assert_eq!(ok("a{"), r"a\{");
        assert_eq!(ok("a{2,}b{1,3}"), "a{2,}b{1,3}");
        assert_eq!(ok(r"[\d.]"), r"[[0-9].]");
        assert_eq!(ok(r"\/x"), "/x");
        assert_eq!(
            translate("(?=a)"),
            Err(Untranslatable::Unsupported("a lookahead"))
        );
        assert_eq!(translate(r"(a)\1").map_err(|_| ()), Err(()));
        assert_eq!(translate("[abc"), Err(Untranslatable::Invalid));
        assert_eq!(translate("(?i)a"), Err(Untranslatable::Invalid));
        assert_eq!(translate("a\\"), Err(Untranslatable::Invalid));
    }

    #[test]
    fn regex_semantics_follow_javascript() {
        let t = |p: &str, s: &str| regex_test(p, s).unwrap();
        // The fixture 63 shapes.
        assert!(t(r"^[A-Z]{2}-\d{4}$", "AB-1234"));
        assert!(!t(r"^[A-Z]{2}-\d{4}$", "AB-12345"));
        assert!(t(r"^\S+@\S+\.\S+$", "a@b.co"));
        // ASCII-only \d and \w, JavaScript \s and `.`.
        assert!(!t(r"^\d$", "٣"));
        assert!(!t(r"^\w$", "é"));
        assert!(t(r"^\s$", "\u{feff}"));
        assert!(!t("^.$", "\n"));
        assert!(!t("^.$", "\u{2028}"));
        assert!(t("^.$", "\u{85}"));
        assert!(t(r"\bfoo\b", "a foo b"));
        assert!(t("a{", "a{"));
        assert!(t("x]", "x]"));
        assert!(t("[]]|q", "q"));
        assert!(!t("[]", "anything"));
        assert!(t("^[^]$", "\n"));
        assert!(t(r"\u0041\x42", "AB"));
        assert!(t(r"^\ud83d\ude00$", "😀"));
        assert!(t(r"^\cJ$", "\n"));
        assert!(t(r"^[a&&b]$", "&"));
        assert!(t(r"^\a\e$", "ae"));
        // Invalid in JavaScript: false.
        assert!(!t("(", "("));
        assert!(!t("*", "*"));
        // Valid in JavaScript, impossible here: an error, not a silent false.
        assert!(regex_test("(?<=a)b", "ab").is_err());
        assert!(regex_test(r"(a)\1", "aa").is_err());
        // Valid in JavaScript, too large for the `regex` crate: an error naming the pattern.
        for pattern in [
            "^(?:a{1000}){1000}$",
            &format!("{}a{}", "(".repeat(300), ")".repeat(300)),
        ] {
            match regex_test(pattern, "a") {
                Err(EvalError::PatternTooLarge { pattern: p, .. }) => assert_eq!(p, pattern),
                other => panic!("{pattern}: {other:?}"),
            }
        }
        // Still an error when the compiled pattern comes from the cache.
        assert!(regex_test("^(?:a{1000}){1000}$", "a").is_err());
    }

    #[test]
    fn search_tokens() {
        assert!(search("The Quick-Brown fox!", "quick FOX"));
        assert!(!search("The Quick-Brown fox!", "quick cat"));
        assert!(!search("anything", " -- "));
        // Non-ASCII letters separate tokens, as `[^a-z0-9]+` does.
        assert!(search("café au lait", "caf lait"));
        assert!(search("café au lait", "café"));
        assert!(!search("café au lait", "cafe"));
        assert!(search("café au lait", "é caf"));
        assert!(!search("foobar", "foo"));
    }

    #[test]
    fn utf16_positions() {
        assert_eq!(
            substring("héllo wörld", &Value::Number(1.0), &Value::Number(4.0)),
            "éll"
        );
        assert_eq!(
            substring("abc", &Value::Number(2.0), &Value::Number(0.0)),
            "ab"
        );
        assert_eq!(
            substring("abc", &Value::Number(-5.0), &Value::Undefined),
            "abc"
        );
        assert_eq!(
            substring("abc", &Value::Number(f64::NAN), &Value::Number(9.0)),
            "abc"
        );
        assert_eq!(substring("abc", &Value::from("1"), &Value::Null), "a");
        assert_eq!(
            substring("😀x", &Value::Number(1.0), &Value::Number(3.0)),
            "\u{fffd}x"
        );
        assert_eq!(index_of("😀world", "world"), 2.0);
        assert_eq!(index_of("abc", ""), 0.0);
        assert_eq!(index_of("abc", "z"), -1.0);
    }

    #[test]
    fn split_like_javascript() {
        let strs = |v: Value| match v {
            Value::Array(items) => items
                .into_iter()
                .map(|i| i.as_str().unwrap().to_owned())
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            strs(split("a,b,,c", &Value::from(","), &Limits::DEFAULT).unwrap()),
            ["a", "b", "", "c"]
        );
        assert_eq!(
            strs(split("abc", &Value::Undefined, &Limits::DEFAULT).unwrap()),
            ["abc"]
        );
        assert_eq!(
            strs(split("ab", &Value::from(""), &Limits::DEFAULT).unwrap()),
            ["a", "b"]
        );
        assert_eq!(
            strs(split("", &Value::from(","), &Limits::DEFAULT).unwrap()),
            [""]
        );
        assert!(strs(split("", &Value::from(""), &Limits::DEFAULT).unwrap()).is_empty());
        assert_eq!(
            strs(split("a1b", &Value::Number(1.0), &Limits::DEFAULT).unwrap()),
            ["a", "b"]
        );
        assert_eq!(
            strs(split("anullb", &Value::Null, &Limits::DEFAULT).unwrap()),
            ["a", "b"]
        );
    }
}
