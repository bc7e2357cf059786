//! Tokens of a `.manifest` source.
//!
//! Positions follow the reference compiler exactly, because diagnostics are
//! compared by line and column: operators, punctuation and newlines are placed
//! at their first character, while strings, numbers and words are placed just
//! after their last character. Columns count UTF-16 code units, 1-based.

mod keywords;

pub use keywords::{KEYWORDS, is_keyword};

use std::borrow::Cow;
use std::ops::Range;

/// The one-character operators; every two-character operator starts with one.
const OPERATOR_BYTES: &[u8] = b"+-*/%=<>!?:|&.";

/// Whether `a` then `b` is a two-character operator
/// (`==`, `!=`, `<=`, `>=`, `&&`, `||`, `->`, `=>`, `..`, `?.`).
fn is_two_char_operator(a: u8, b: u8) -> bool {
    matches!(
        (a, b),
        (b'=' | b'!' | b'<' | b'>', b'=')
            | (b'&', b'&')
            | (b'|', b'|')
            | (b'-' | b'=', b'>')
            | (b'.' | b'?', b'.')
    )
}

const PUNCTUATION_BYTES: &[u8] = b"(){}[],;@";

/// Which bytes continue a word (ASCII letters, digits and `_`).
const WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        table[i] = c.is_ascii_alphanumeric() || c == b'_';
        i += 1;
    }
    table
};

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
///
/// The text borrows from the source, except a string with escapes, whose
/// unescaped text is owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Token<'a> {
    pub kind: TokenKind,
    pub value: Cow<'a, str>,
    pub pos: Pos,
    pub span: Range<usize>,
}

/// CRLF and CR become LF, as upstream does before lexing.
pub fn normalize_newlines(source: &str) -> String {
    source.replace("\r\n", "\n").replace('\r', "\n")
}

/// UTF-16 code units in the UTF-8 `bytes` (whole characters): one for each
/// character, two for those of four bytes.
fn utf16_len(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .map(|&b| u32::from(b & 0xC0 != 0x80) + u32::from(b >= 0xF0))
        .sum()
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    /// The byte offset of the next character.
    b: usize,
    line: u32,
    col: u32,
    tokens: Vec<Token<'a>>,
}

/// Splits a (newline-normalised) source into tokens, ending with one `Eof`.
pub fn tokenize(src: &str) -> Vec<Token<'_>> {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        b: 0,
        line: 1,
        col: 1,
        tokens: Vec::with_capacity(src.len() / 4),
    };
    lx.run();
    lx.tokens
}

impl<'a> Lexer<'a> {
    fn byte_at(&self, at: usize) -> Option<u8> {
        self.bytes.get(at).copied()
    }

    /// Moves past one character (past the end: one column further).
    fn advance(&mut self) {
        match self.byte_at(self.b) {
            None => self.col += 1,
            Some(c) if c < 0x80 => {
                self.b += 1;
                self.col += 1;
            }
            Some(_) => {
                let c = self.src[self.b..].chars().next().unwrap_or_default();
                self.col += c.len_utf16() as u32;
                self.b += c.len_utf8();
            }
        }
    }

    /// Moves to byte `to` past ASCII bytes only, on this line.
    fn skip_ascii_to(&mut self, to: usize) {
        self.col += (to - self.b) as u32;
        self.b = to;
    }

    /// Moves to byte `to` (a character boundary, not before here) on this line.
    fn skip_to(&mut self, to: usize) {
        self.col += utf16_len(&self.bytes[self.b..to]);
        self.b = to;
    }

    /// Moves to byte `to` (a character boundary, not before here), counting
    /// the newlines passed; after one, the column restarts at 1 (upstream
    /// sets it to 0, then moves past the newline).
    fn skip_lines_to(&mut self, to: usize) {
        let passed = &self.bytes[self.b..to];
        match passed.iter().rposition(|&c| c == b'\n') {
            None => self.col += utf16_len(passed),
            Some(last) => {
                self.line += passed.iter().filter(|&&c| c == b'\n').count() as u32;
                self.col = 1 + utf16_len(&passed[last + 1..]);
            }
        }
        self.b = to;
    }

    /// The first byte from `from` that `stop` accepts, or the end.
    fn find(&self, from: usize, stop: impl Fn(u8) -> bool) -> usize {
        self.bytes[from..]
            .iter()
            .position(|&c| stop(c))
            .map_or(self.bytes.len(), |i| from + i)
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.col,
        }
    }

    fn push(&mut self, kind: TokenKind, value: Cow<'a, str>, pos: Pos, start: usize) {
        let end = self.b.max(start);
        self.tokens.push(Token {
            kind,
            value,
            pos,
            span: start..end,
        });
    }

    /// The source text from `start` to here.
    fn text(&self, start: usize) -> Cow<'a, str> {
        Cow::Borrowed(&self.src[start..self.b])
    }

    fn run(&mut self) {
        while self.b < self.bytes.len() {
            self.skip_whitespace();
            let Some(c) = self.byte_at(self.b) else { break };
            let start = self.b;
            match c {
                b'\n' => {
                    let pos = self.pos();
                    self.b += 1;
                    self.push(TokenKind::Newline, self.text(start), pos, start);
                    self.line += 1;
                    self.col = 1;
                }
                b'"' | b'\'' => self.read_string(c, start),
                b'`' => self.read_template(start),
                b'0'..=b'9' => {
                    let end = self.find(start, |c| !(c.is_ascii_digit() || c == b'.'));
                    self.skip_ascii_to(end);
                    let pos = self.pos();
                    self.push(TokenKind::Number, self.text(start), pos, start);
                }
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                    let end = self.find(start, |c| !WORD_BYTES[usize::from(c)]);
                    self.skip_ascii_to(end);
                    let word = &self.src[start..end];
                    let kind = if is_keyword(word) {
                        TokenKind::Keyword
                    } else {
                        TokenKind::Identifier
                    };
                    let pos = self.pos();
                    self.push(kind, Cow::Borrowed(word), pos, start);
                }
                _ if OPERATOR_BYTES.contains(&c) => self.read_operator(c, start),
                _ if PUNCTUATION_BYTES.contains(&c) => {
                    let pos = self.pos();
                    self.advance();
                    self.push(TokenKind::Punctuation, self.text(start), pos, start);
                }
                _ => self.advance(),
            }
        }
        let pos = self.pos();
        let end = self.src.len();
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            value: Cow::Borrowed(""),
            pos,
            span: end..end,
        });
    }

    fn skip_whitespace(&mut self) {
        loop {
            match self.byte_at(self.b) {
                Some(b' ' | b'\t' | b'\r') => {
                    self.b += 1;
                    self.col += 1;
                    continue;
                }
                Some(b'/') => {}
                _ => return,
            }
            match self.byte_at(self.b + 1) {
                Some(b'/') => {
                    let end = self.find(self.b, |c| c == b'\n');
                    self.skip_to(end);
                }
                Some(b'*') => {
                    // Up to the closing `*/` or the end, then two columns
                    // further either way (past the end, as upstream counts).
                    self.b += 2;
                    self.col += 2;
                    let body = self.b;
                    let end = self.bytes[body..]
                        .windows(2)
                        .position(|w| w == b"*/")
                        .map_or(self.bytes.len(), |i| body + i);
                    self.skip_lines_to(end);
                    self.b = (end + 2).min(self.bytes.len());
                    self.col += 2;
                }
                _ => return,
            }
        }
    }

    /// A quoted string: `\n` and `\t` unescape, `\` before anything else
    /// keeps that character; newlines inside do not move to the next line.
    fn read_string(&mut self, quote: u8, start: usize) {
        self.advance();
        let body = self.b;
        let mut owned: Option<String> = None;
        loop {
            let at = self.find(self.b, |c| c == quote || c == b'\\');
            let segment = &self.src[self.b..at];
            self.skip_to(at);
            if self.byte_at(at) != Some(b'\\') {
                if let Some(s) = owned.as_mut() {
                    s.push_str(segment);
                }
                break;
            }
            let s = owned.get_or_insert_with(|| String::with_capacity(at - body + 8));
            s.push_str(segment);
            self.b += 1;
            self.col += 1;
            match self.src[self.b..].chars().next() {
                Some('n') => s.push('\n'),
                Some('t') => s.push('\t'),
                Some(other) => s.push(other),
                None => {}
            }
            self.advance();
        }
        let value = match owned {
            Some(s) => Cow::Owned(s),
            None => Cow::Borrowed(&self.src[body..self.b]),
        };
        self.advance();
        let pos = self.pos();
        self.push(TokenKind::Str, value, pos, start);
    }

    /// A template string: kept as written, newlines and all.
    fn read_template(&mut self, start: usize) {
        self.advance();
        let body = self.b;
        let end = self.find(body, |c| c == b'`');
        self.skip_lines_to(end);
        let value = Cow::Borrowed(&self.src[body..end]);
        self.advance();
        let pos = self.pos();
        self.push(TokenKind::Str, value, pos, start);
    }

    /// Upstream tries the two characters from here first; at the very end of
    /// the source those are one character, which then counts as two: the
    /// following end-of-file sits one column further (kept, as positions are compared).
    fn read_operator(&mut self, c: u8, start: usize) {
        let pos = self.pos();
        match self.byte_at(self.b + 1) {
            Some(next) if is_two_char_operator(c, next) => {
                self.b += 2;
                self.col += 2;
            }
            None => {
                self.b += 1;
                self.col += 2;
            }
            Some(_) => {
                self.b += 1;
                self.col += 1;
            }
        }
        self.push(TokenKind::Operator, self.text(start), pos, start);
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

    #[test]
    fn text_borrows_the_source_unless_unescaped() {
        let toks = tokenize("'a\\'b' \"cd\" ef");
        assert_eq!(toks[0].value, "a'b");
        assert!(matches!(toks[0].value, Cow::Owned(_)));
        assert!(matches!(toks[1].value, Cow::Borrowed("cd")));
        assert!(matches!(toks[2].value, Cow::Borrowed("ef")));
    }

    #[test]
    fn columns_count_utf16_units_across_comments_and_templates() {
        let at = |src: &str, i: usize| tokenize(src)[i].pos;
        // é is one unit, 😀 two.
        assert_eq!(at("\"é😀\" x", 0), Pos { line: 1, column: 6 });
        assert_eq!(at("\"é😀\" x", 1), Pos { line: 1, column: 8 });
        assert_eq!(at("/* é\n bc */ x", 0), Pos { line: 2, column: 9 });
        assert_eq!(
            at("/* é */ x", 0),
            Pos {
                line: 1,
                column: 10
            }
        );
        assert_eq!(at("`a\nbc` y", 0), Pos { line: 2, column: 4 });
        assert_eq!(at("`a\nbc` y", 1), Pos { line: 2, column: 6 });
        assert_eq!(at("// é😀\nx", 0), Pos { line: 1, column: 7 });
    }
}
