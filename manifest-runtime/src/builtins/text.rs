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
use crate::eval::EvalError;
use crate::value::{Value, is_js_whitespace, utf16_len};

pub(super) fn call<'a>(builtin: Builtin, args: &mut Args<'a>) -> Out<'a> {
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
    match builtin {
        B::Trim => owned(Value::from(s.trim_matches(is_js_whitespace))),
        B::Split => owned(split(s, args.get(1))),
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
            owned(Value::String(s.replace(search, &with)))
        }
        B::ToUpperCase => owned(Value::String(s.to_uppercase())),
        B::ToLowerCase => owned(Value::String(s.to_lowercase())),
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

/// `s.split(sep)`: `undefined` keeps the string whole, `""` splits into UTF-16 code units.
fn split(s: &str, sep: &Value) -> Value {
    if matches!(sep, Value::Undefined) {
        return Value::Array(vec![Value::from(s)]);
    }
    let sep = sep.to_js_string();
    if sep.is_empty() {
        let mut parts = Vec::with_capacity(s.len());
        for c in s.chars() {
            if c.len_utf16() == 1 {
                parts.push(Value::String(c.to_string()));
            } else {
                parts.push(Value::from("\u{fffd}"));
                parts.push(Value::from("\u{fffd}"));
            }
        }
        return Value::Array(parts);
    }
    Value::Array(s.split(sep.as_str()).map(Value::from).collect())
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Untranslatable {
    /// JavaScript rejects it too: `matches` is false.
    Invalid,
    /// JavaScript accepts it, but the `regex` crate cannot run it.
    Unsupported(&'static str),
}

const CACHE_LIMIT: usize = 64;

thread_local! {
    static CACHE: RefCell<HashMap<String, Result<Regex, Untranslatable>>> =
        RefCell::new(HashMap::new());
}

/// `new RegExp(pattern).test(s)`, false for an invalid pattern.
fn regex_test(pattern: &str, s: &str) -> Result<bool, EvalError> {
    let compiled = CACHE.with(|cache| {
        if let Some(hit) = cache.borrow().get(pattern) {
            return hit.clone();
        }
        let compiled = translate(pattern)
            .and_then(|rust| Regex::new(&rust).map_err(|_| Untranslatable::Invalid));
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
            strs(split("a,b,,c", &Value::from(","))),
            ["a", "b", "", "c"]
        );
        assert_eq!(strs(split("abc", &Value::Undefined)), ["abc"]);
        assert_eq!(strs(split("ab", &Value::from(""))), ["a", "b"]);
        assert_eq!(strs(split("", &Value::from(","))), [""]);
        assert!(strs(split("", &Value::from(""))).is_empty());
        assert_eq!(strs(split("a1b", &Value::Number(1.0))), ["a", "b"]);
        assert_eq!(strs(split("anullb", &Value::Null)), ["a", "b"]);
    }
}
