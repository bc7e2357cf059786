//! Tokens of a `.manifest` source.
//!
//! Positions follow the reference compiler exactly, because diagnostics are
//! compared by line and column: operators, punctuation and newlines are placed
//! at their first character, while strings, numbers and words are placed just
//! after their last character. Columns count UTF-16 code units, 1-based.

use std::ops::Range;

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

/// Whether `word` is one of [`KEYWORDS`].
pub fn is_keyword(word: &str) -> bool {
    static SET: std::sync::OnceLock<rustc_hash::FxHashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| KEYWORDS.iter().copied().collect())
        .contains(word)
}

const OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "%", "=", "==", "!=", "<", ">", "<=", ">=", "&&", "||", "!", "?", ":",
    "->", "=>", "|", "&", ".", "..", "?.",
];

const PUNCTUATION: &[char] = &['(', ')', '{', '}', '[', ']', ',', ';', '@'];

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Identifier,
    Keyword,
    Str,
    Number,
    Operator,
    Punctuation,
    Newline,
    Eof,
}

impl TokenKind {
    /// The name the reference compiler's messages use for the kind.
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Identifier => "IDENTIFIER",
            TokenKind::Keyword => "KEYWORD",
            TokenKind::Str => "STRING",
            TokenKind::Number => "NUMBER",
            TokenKind::Operator => "OPERATOR",
            TokenKind::Punctuation => "PUNCTUATION",
            TokenKind::Newline => "NEWLINE",
            TokenKind::Eof => "EOF",
        }
    }
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// One token: its kind, its (unescaped) text, where upstream places it, and its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub value: String,
    pub pos: Pos,
    pub span: Range<usize>,
}

/// CRLF and CR become LF, as upstream does before lexing.
pub fn normalize_newlines(source: &str) -> String {
    source.replace("\r\n", "\n").replace('\r', "\n")
}

struct Lexer<'a> {
    src: &'a str,
    /// The byte offset of the next character.
    b: usize,
    line: u32,
    col: u32,
    tokens: Vec<Token>,
}

/// Splits a (newline-normalised) source into tokens, ending with one `Eof`.
pub fn tokenize(src: &str) -> Vec<Token> {
    let mut lx = Lexer {
        src,
        b: 0,
        line: 1,
        col: 1,
        tokens: Vec::with_capacity(src.len() / 4),
    };
    lx.run();
    lx.tokens
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        let mut rest = self.src.get(self.b..)?.chars();
        if ahead == 0 {
            rest.next()
        } else {
            rest.nth(ahead)
        }
    }

    fn byte(&self) -> usize {
        self.b
    }

    fn at_end(&self) -> bool {
        self.b >= self.src.len()
    }

    /// Moves past one character (past the end: one column further).
    fn advance(&mut self) {
        if let Some(c) = self.peek(0) {
            self.col += c.len_utf16() as u32;
            self.b += c.len_utf8();
        } else {
            self.col += 1;
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.col,
        }
    }

    fn push(&mut self, kind: TokenKind, value: String, pos: Pos, start: usize) {
        let end = self.byte().max(start);
        self.tokens.push(Token {
            kind,
            value,
            pos,
            span: start..end,
        });
    }

    fn run(&mut self) {
        while !self.at_end() {
            self.skip_whitespace();
            let Some(c) = self.peek(0) else { break };
            let start = self.byte();
            if c == '\n' {
                let pos = self.pos();
                self.advance();
                self.push(TokenKind::Newline, "\n".into(), pos, start);
                self.line += 1;
                self.col = 1;
            } else if c == '"' || c == '\'' {
                self.read_string(c, start);
            } else if c == '`' {
                self.read_template(start);
            } else if c.is_ascii_digit() {
                let value = self.take_while(|c| c.is_ascii_digit() || c == '.');
                let pos = self.pos();
                self.push(TokenKind::Number, value, pos, start);
            } else if c.is_ascii_alphabetic() || c == '_' {
                let value = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
                let kind = if is_keyword(&value) {
                    TokenKind::Keyword
                } else {
                    TokenKind::Identifier
                };
                let pos = self.pos();
                self.push(kind, value, pos, start);
            } else if self.is_op_start(c) {
                self.read_operator(start);
            } else if PUNCTUATION.contains(&c) {
                let pos = self.pos();
                self.advance();
                self.push(TokenKind::Punctuation, c.to_string(), pos, start);
            } else {
                self.advance();
            }
        }
        let pos = self.pos();
        let end = self.src.len();
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            value: String::new(),
            pos,
            span: end..end,
        });
    }

    /// The ASCII run from here that `keep` accepts (columns move one a byte).
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.b;
        let bytes = self.src.as_bytes();
        while self.b < bytes.len() && bytes[self.b].is_ascii() && keep(bytes[self.b] as char) {
            self.b += 1;
            self.col += 1;
        }
        self.src[start..self.b].to_string()
    }

    fn skip_whitespace(&mut self) {
        while let Some(c) = self.peek(0) {
            if c == ' ' || c == '\t' || c == '\r' {
                self.advance();
            } else if c == '/' && self.peek(1) == Some('/') {
                while self.peek(0).is_some_and(|c| c != '\n') {
                    self.advance();
                }
            } else if c == '/' && self.peek(1) == Some('*') {
                self.advance();
                self.advance();
                while !(self.at_end() || self.peek(0) == Some('*') && self.peek(1) == Some('/')) {
                    if self.peek(0) == Some('\n') {
                        self.line += 1;
                        self.col = 0;
                    }
                    self.advance();
                }
                self.advance();
                self.advance();
            } else {
                break;
            }
        }
    }

    fn read_string(&mut self, quote: char, start: usize) {
        self.advance();
        let mut value = String::new();
        while let Some(c) = self.peek(0).filter(|&c| c != quote) {
            if c == '\\' {
                self.advance();
                match self.peek(0) {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some(other) => value.push(other),
                    None => {}
                }
            } else {
                value.push(c);
            }
            self.advance();
        }
        self.advance();
        let pos = self.pos();
        self.push(TokenKind::Str, value, pos, start);
    }

    fn read_template(&mut self, start: usize) {
        self.advance();
        let mut value = String::new();
        while let Some(c) = self.peek(0).filter(|&c| c != '`') {
            if c == '\n' {
                self.line += 1;
                self.col = 0;
            }
            value.push(c);
            self.advance();
        }
        self.advance();
        let pos = self.pos();
        self.push(TokenKind::Str, value, pos, start);
    }

    fn is_op_start(&self, c: char) -> bool {
        let mut buf = [0u8; 8];
        let one = c.encode_utf8(&mut buf).len();
        let two = self
            .peek(1)
            .map_or(one, |n| one + n.encode_utf8(&mut buf[one..]).len());
        let text = |n: usize| std::str::from_utf8(&buf[..n]).unwrap_or_default();
        OPERATORS.contains(&text(one)) || OPERATORS.contains(&text(two))
    }

    /// Upstream tries the two characters from here first; at the very end of
    /// the source those are one character, which then counts as two: the
    /// following end-of-file sits one column further (kept, as positions are compared).
    fn read_operator(&mut self, start: usize) {
        let pos = self.pos();
        let rest = self.src.get(self.b..).unwrap_or_default();
        let mut chars = rest.chars();
        let one = chars.next().map_or(0, char::len_utf8);
        let two = one + chars.next().map_or(0, char::len_utf8);
        if OPERATORS.contains(&&rest[..two]) {
            let text = rest[..two].to_string();
            self.advance();
            self.advance();
            self.push(TokenKind::Operator, text, pos, start);
        } else {
            let text = rest[..one].to_string();
            self.advance();
            self.push(TokenKind::Operator, text, pos, start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_sit_after_their_end_and_operators_at_their_start() {
        let toks = tokenize("entity A {\n  x &&& y\n}");
        assert_eq!(toks[0].kind, TokenKind::Keyword);
        assert_eq!(toks[0].pos, Pos { line: 1, column: 7 });
        assert_eq!(
            toks[2].pos,
            Pos {
                line: 1,
                column: 10
            }
        );
        let amp = toks.iter().find(|t| t.value == "&").map(|t| t.pos);
        assert_eq!(amp, Some(Pos { line: 2, column: 7 }));
        assert_eq!(toks.last().map(|t| t.kind), Some(TokenKind::Eof));
    }

    #[test]
    fn a_final_operator_pushes_end_of_file_one_column_further() {
        let eof = |src: &str| tokenize(src).last().map(|t| t.pos);
        assert_eq!(eof("a:"), Some(Pos { line: 1, column: 4 }));
        assert_eq!(eof("a: "), Some(Pos { line: 1, column: 4 }));
        assert_eq!(eof("a"), Some(Pos { line: 1, column: 2 }));
    }

    #[test]
    fn strings_unescape_and_comments_vanish() {
        let toks = tokenize("\"a\\n\\\"b\" // c\n/* d\n */ 'e'");
        assert_eq!(toks[0].value, "a\n\"b");
        assert_eq!(toks[1].kind, TokenKind::Newline);
        assert_eq!(toks[2].value, "e");
        assert_eq!(toks[2].pos.line, 3);
    }
}
