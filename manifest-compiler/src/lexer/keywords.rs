//! The reserved words, and a perfect hash to recognise them.

/// The reserved words: they may not name a declaration.
pub const KEYWORDS: &[&str] = &[
    "entity",
    "property",
    "behavior",
    "constraint",
    "flow",
    "effect",
    "expose",
    "compose",
    "command",
    "module",
    "policy",
    "store",
    "event",
    "computed",
    "derived",
    "hasMany",
    "hasOne",
    "belongsTo",
    "ref",
    "through",
    "on",
    "when",
    "then",
    "emit",
    "mutate",
    "compute",
    "guard",
    "publish",
    "persist",
    "as",
    "from",
    "to",
    "with",
    "where",
    "connect",
    "returns",
    "string",
    "number",
    "boolean",
    "list",
    "map",
    "any",
    "void",
    "true",
    "false",
    "null",
    "required",
    "unique",
    "indexed",
    "private",
    "readonly",
    "optional",
    "searchable",
    "encrypted",
    "rest",
    "graphql",
    "websocket",
    "function",
    "server",
    "http",
    "storage",
    "timer",
    "custom",
    "memory",
    "postgres",
    "supabase",
    "localStorage",
    "read",
    "write",
    "delete",
    "execute",
    "all",
    "override",
    "allow",
    "deny",
    "and",
    "or",
    "not",
    "is",
    "in",
    "contains",
    "user",
    "self",
    "context",
    "default",
    "overrideable",
    "failWhen",
    "ok",
    "warn",
    "block",
    "versionProperty",
    "versionAtProperty",
    "transition",
    "key",
    "fields",
    "references",
    "onDelete",
    "onUpdate",
    "cascade",
    "restrict",
    "setNull",
    "setDefault",
    "noAction",
    "enum",
    "decimal",
    "money",
    "tenant",
    "timestamps",
    "cache",
    "request",
    "session",
    "ttl",
    "run",
    "resolve",
    "params",
    "fanOut",
    "match",
    "else",
    "approval",
    "stages",
    "timeout",
    "async",
    "extends",
    "use",
    "saga",
    "webhook",
    "signature",
    "idempotencyHeader",
    "transform",
];

/// The slot of a word of at least two bytes in [`KEYWORD_SLOTS`]: a
/// multiplicative hash of its length and of its bytes 0, 2 (1 in a word of
/// two), second-to-last and last, which tell every keyword apart.
const fn keyword_slot(word: &[u8]) -> usize {
    let n = word.len();
    let third = if n > 2 { 2 } else { n - 1 };
    let key = word[0] as u64
        | (word[third] as u64) << 8
        | (word[n - 2] as u64) << 16
        | (word[n - 1] as u64) << 24
        | (n as u64) << 32;
    (key.wrapping_mul(KEYWORD_HASH) >> (64 - KEYWORD_SLOT_BITS)) as usize
}

/// A multiplier under which no two keywords share a slot (checked below, at compile time).
const KEYWORD_HASH: u64 = 0x86ca_be50_7d54_7fad;
const KEYWORD_SLOT_BITS: u32 = 10;

/// Per slot, 1 + the index in [`KEYWORDS`] of the keyword there, or 0.
const KEYWORD_SLOTS: [u8; 1 << KEYWORD_SLOT_BITS] = {
    assert!(KEYWORDS.len() < u8::MAX as usize);
    let mut table = [0u8; 1 << KEYWORD_SLOT_BITS];
    let mut i = 0;
    while i < KEYWORDS.len() {
        let word = KEYWORDS[i].as_bytes();
        assert!(word.len() >= 2, "a keyword of one letter");
        let slot = keyword_slot(word);
        assert!(
            table[slot] == 0,
            "two keywords share a slot: pick another KEYWORD_HASH"
        );
        table[slot] = (i + 1) as u8;
        i += 1;
    }
    table
};

/// Whether `word` is one of [`KEYWORDS`]: one hash and at most one compare.
pub fn is_keyword(word: &str) -> bool {
    let bytes = word.as_bytes();
    if bytes.len() < 2 {
        return false;
    }
    match KEYWORD_SLOTS[keyword_slot(bytes)] {
        0 => false,
        i => KEYWORDS[usize::from(i) - 1].as_bytes() == bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_the_listed_words_exactly() {
        assert!(KEYWORDS.iter().all(|w| is_keyword(w)));
        for word in ["Entity", "entit", "entityx", "", "value", "role", "masked"] {
            assert!(!is_keyword(word), "{word}");
        }
        // Every keyword with one byte changed, cut short or extended.
        for word in KEYWORDS {
            let mut near: Vec<String> = (0..word.len())
                .map(|i| format!("{}Z{}", &word[..i], &word[i + 1..]))
                .collect();
            near.push(word[..word.len() - 1].to_string());
            near.push(format!("{word}s"));
            for w in near {
                assert_eq!(is_keyword(&w), KEYWORDS.contains(&w.as_str()), "{w}");
            }
        }
    }
}
