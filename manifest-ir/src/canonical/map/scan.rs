//! A map's text split back into its entries, for the rare map whose keys came out of order.
//!
//! The text is the serializer's own (a `{`, then `"key":value` entries joined by `,`, the
//! closing `}` not yet written), so this is not a JSON parser: it finds where each key and each
//! value ends, and reads back the few escapes `JSON.stringify` writes in keys. Text it cannot
//! split is an error, never a panic.

use super::Error;

/// A range of a text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) end: usize,
}

/// A map key, raw (unescaped): where it is in the map's text (within its quotes) when escaping
/// left it as it was, else where its copy is in `Maps::keys`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Key {
    span: Span,
    in_keys: bool,
}

impl Key {
    pub(super) fn in_text(start: usize, end: usize) -> Self {
        Key {
            span: Span { start, end },
            in_keys: false,
        }
    }

    pub(super) fn in_keys(start: usize, end: usize) -> Self {
        Key {
            span: Span { start, end },
            in_keys: true,
        }
    }

    /// The key, from the text its span is in (`text` or `keys`).
    pub(super) fn text<'s>(self, text: &'s str, keys: &'s str) -> &'s str {
        let s = if self.in_keys { keys } else { text };
        s.get(self.span.start..self.span.end).unwrap_or_default()
    }
}

/// One `"key":value` of a map's text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub(super) key: Key,
    pub(super) text: Span,
}

fn malformed() -> Error {
    Error::Custom("a map's text could not be split into its entries to sort them".into())
}

/// The entries of `map` (`{` and its entries, without the closing `}`), in `out`; keys that
/// have escapes are read back into `keys`.
pub(super) fn entries(map: &str, keys: &mut String, out: &mut Vec<Entry>) -> Result<(), Error> {
    let b = map.as_bytes();
    if b.first() != Some(&b'{') {
        return Err(malformed());
    }
    let mut at = 1;
    while at < b.len() {
        let start = at;
        let key = string(map, &mut at, keys)?;
        if b.get(at) != Some(&b':') {
            return Err(malformed());
        }
        at = value_end(b, at + 1)?;
        out.push(Entry {
            key,
            text: Span { start, end: at },
        });
        match b.get(at) {
            None => break,
            Some(b',') => at += 1,
            Some(_) => return Err(malformed()),
        }
    }
    Ok(())
}

/// The string at `*at` (a `"`), moving `*at` past it.
fn string(map: &str, at: &mut usize, keys: &mut String) -> Result<Key, Error> {
    let b = map.as_bytes();
    if b.get(*at) != Some(&b'"') {
        return Err(malformed());
    }
    let start = *at + 1;
    let end = b
        .get(start..)
        .and_then(|rest| rest.iter().position(|&c| c == b'"' || c == b'\\'))
        .map(|n| start + n)
        .ok_or_else(malformed)?;
    if b[end] == b'"' {
        *at = end + 1;
        return Ok(Key::in_text(start, end));
    }
    let from = keys.len();
    keys.push_str(map.get(start..end).ok_or_else(malformed)?);
    let mut i = end;
    loop {
        match b.get(i) {
            Some(b'"') => break,
            Some(b'\\') => {
                let (c, len) = escape(map, i + 1)?;
                keys.push(c);
                i += 1 + len;
            }
            Some(_) => {
                // Up to the next quote or escape, whole chars.
                let n = b[i..]
                    .iter()
                    .position(|&c| c == b'"' || c == b'\\')
                    .ok_or_else(malformed)?;
                keys.push_str(map.get(i..i + n).ok_or_else(malformed)?);
                i += n;
            }
            None => return Err(malformed()),
        }
    }
    *at = i + 1;
    Ok(Key::in_keys(from, keys.len()))
}

/// The char an escape stands for (the text from `at` is what follows its `\`), and the
/// escape's length after the `\`.
fn escape(map: &str, at: usize) -> Result<(char, usize), Error> {
    let c = match map.as_bytes().get(at) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => {
            let hex = map.get(at + 1..at + 5).ok_or_else(malformed)?;
            let code = u32::from_str_radix(hex, 16).map_err(|_| malformed())?;
            return Ok((char::from_u32(code).ok_or_else(malformed)?, 5));
        }
        _ => return Err(malformed()),
    };
    Ok((c, 1))
}

/// Where the value from `at` ends: at the `,` after it, or at the end of the text.
fn value_end(b: &[u8], mut at: usize) -> Result<usize, Error> {
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    while let Some(&c) = b.get(at) {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.checked_sub(1).ok_or_else(malformed)?,
                b',' if depth == 0 => return Ok(at),
                _ => {}
            }
        }
        at += 1;
    }
    if depth != 0 || in_string {
        return Err(malformed());
    }
    Ok(at)
}
