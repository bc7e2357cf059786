//! Diagnostics rendered as rustc renders its own (with the `render` feature):
//! `error[code]: message`, then `--> file:line:column`, the source line and a
//! caret under the token, by `codespan-reporting`, as plain text.
//!
//! ```
//! let source = "entity A {\n  command go() {\n    mutate = 1\n  }\n}\n";
//! let d = manifest_compiler::compile(source).unwrap_err();
//! let text = manifest_compiler::render::render(d.all(), "a.manifest", source);
//! assert!(text.starts_with("error: Expected IDENTIFIER, got ="), "{text}");
//! assert!(text.contains("--> a.manifest:3:12"), "{text}");
//! assert!(text.contains("3 |     mutate = 1\n  |            ^"), "{text}");
//! ```

use crate::diagnostic::{Diagnostic, Severity};
use crate::lexer::normalize_newlines;
use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Chars, Config};
use std::ops::Range;

/// Renders `diagnostics` of `source` (as given to the compiler; `name` is how
/// the file is shown), one after another, each followed by a blank line.
pub fn render(diagnostics: &[Diagnostic], name: &str, source: &str) -> String {
    // Spans are offsets in the newline-normalised source the compiler read.
    let text = normalize_newlines(source);
    let file = SimpleFile::new(name, text.as_str());
    let config = Config {
        chars: Chars::ascii(),
        ..Config::default()
    };
    let mut out = String::new();
    for d in diagnostics {
        let mut report = match d.severity {
            Severity::Error => Report::error(),
            Severity::Warning => Report::warning(),
        }
        .with_message(&d.message);
        if let Some(code) = &d.code {
            report = report.with_code(code);
        }
        match span_of(d, &text) {
            Some(span) => report = report.with_labels(vec![Label::primary((), span)]),
            None => report = report.with_notes(vec![format!("in {name}")]),
        }
        if term::emit_to_string(&mut out, &config, &file, &report).is_err() {
            // A span the file cannot show: the diagnostic's own line.
            out.push_str(&format!("{d}\n\n"));
        }
    }
    out
}

/// The bytes a diagnostic points at: its span, or else the character at its
/// line and column (columns count UTF-16 units, as upstream's do).
pub fn span_of(d: &Diagnostic, text: &str) -> Option<Range<usize>> {
    if let Some(span) = &d.span
        && span.start <= span.end
        && span.end <= text.len()
        && text.is_char_boundary(span.start)
        && text.is_char_boundary(span.end)
    {
        // A newline token is shown as the end of its line, not as a two-line span.
        let end = if text[span.clone()].ends_with('\n') {
            span.end - 1
        } else {
            span.end
        };
        return Some(span.start..end.max(span.start));
    }
    let start = offset_of(text, d.line?, d.column?)?;
    let end = text[start..]
        .chars()
        .next()
        .filter(|&c| c != '\n')
        .map_or(start, |c| start + c.len_utf8());
    Some(start..end)
}

/// The byte offset of 1-based `line` and UTF-16 `column` (clamped to the line's end).
pub fn offset_of(text: &str, line: u32, column: u32) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line as usize - 2)
            .map(|(i, _)| i + 1)?
    };
    let rest = &text[line_start..];
    let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let mut units = 1;
    for (i, c) in line_text.char_indices() {
        if units >= column {
            return Some(line_start + i);
        }
        units += c.len_utf16() as u32;
    }
    Some(line_start + line_text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_lines_and_utf16_columns() {
        let text = "ab\nc\u{1F600}d\n";
        assert_eq!(offset_of(text, 1, 2), Some(1));
        assert_eq!(offset_of(text, 2, 1), Some(3));
        // The emoji takes two UTF-16 columns (2 and 3): `d` is column 4.
        assert_eq!(offset_of(text, 2, 4), Some(8));
        assert_eq!(offset_of(text, 2, 99), Some(9));
        assert_eq!(offset_of(text, 9, 1), None);
    }

    #[test]
    fn a_diagnostic_without_a_place_has_no_snippet() {
        let d = Diagnostic::error("no place");
        let text = render(&[d], "x.manifest", "entity A {}\n");
        assert!(text.starts_with("error: no place"), "{text}");
        assert!(text.contains("= in x.manifest"), "{text}");
        assert!(!text.contains("-->"), "{text}");
    }

    #[test]
    fn a_line_and_column_without_a_span_get_a_caret() {
        let d = Diagnostic::warning("here").at(crate::lexer::Pos { line: 2, column: 3 });
        let text = render(&[d], "y.manifest", "line one\r\nab!cd\r\n");
        assert!(text.contains("--> y.manifest:2:3"), "{text}");
        assert!(text.contains("ab!cd"), "{text}");
        assert!(text.contains("  ^"), "{text}");
    }
}
