//! Strings as `JSON.stringify` writes them, with a fast look for the common string that
//! needs no escaping.

use super::Error;
use crate::js;

/// `s` as [`js::write_json_string`] writes it, with a faster look for what needs escaping.
#[inline]
pub(super) fn write_string(text: &mut String, s: &str) -> Result<(), Error> {
    if !needs_escape(s.as_bytes()) {
        text.reserve(s.len() + 2);
        text.push('"');
        text.push_str(s);
        text.push('"');
        return Ok(());
    }
    js::write_json_string(text, s).map_err(|_| Error::Custom("formatting failed".into()))
}

/// Whether `s` has a byte `JSON.stringify` escapes (a control char, `"` or `\`), looked for
/// eight bytes at a time.
#[inline]
pub(super) fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of the word below `n`, for n <= 0x80 (exact, with no false positives).
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x;
    let word = |x: u64| {
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        (below(x, 0x20) | below(quote, 1) | below(backslash, 1)) & HIGH != 0
    };
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        if word(u64::from_ne_bytes(w)) {
            return true;
        }
    }
    // The last few bytes, shifted into a word of `a`s (which byte goes where is no matter).
    let rest = chunks.remainder();
    word(
        rest.iter()
            .fold(ONES * u64::from(b'a'), |w, &b| w << 8 | u64::from(b)),
    )
}

#[cfg(test)]
mod tests {
    use super::needs_escape;

    #[test]
    fn needs_escape_finds_every_byte_that_does() {
        let naive = |s: &[u8]| s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        for len in 0..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    for fill in [b'a', 0x7f, 0x80, 0xff, b' '] {
                        let mut s = vec![fill; len];
                        s[at] = b;
                        assert_eq!(needs_escape(&s), naive(&s), "{s:?}");
                    }
                }
            }
            assert!(!needs_escape(&vec![b'x'; len]));
        }
    }
}
