//! Diagnostics: what the compiler reports, in upstream's shape.

use crate::lexer::Pos;
use std::fmt;
use std::ops::Range;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One diagnostic. `line`/`column` are 1-based and set where upstream sets them
/// (parser diagnostics and a few semantic ones); `span` is the byte range of the
/// token they point at, in the newline-normalised source, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Option<String>,
    pub message: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub span: Option<Range<usize>>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, message)
    }

    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, message)
    }

    fn new(severity: Severity, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            code: None,
            message: message.into(),
            line: None,
            column: None,
            span: None,
        }
    }

    /// Places the diagnostic at `pos`.
    pub fn at(mut self, pos: Pos) -> Diagnostic {
        self.line = Some(pos.line);
        self.column = Some(pos.column);
        self
    }

    /// Places it at `pos` when there is one.
    pub fn at_opt(self, pos: Option<Pos>) -> Diagnostic {
        match pos {
            Some(p) => self.at(p),
            None => self,
        }
    }

    pub fn with_code(mut self, code: &str) -> Diagnostic {
        self.code = Some(code.to_string());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.severity.as_str())?;
        if let Some(code) = &self.code {
            write!(f, "[{code}]")?;
        }
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, " at {l}:{c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A failed compilation: every diagnostic reported, errors and warnings, in order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} error(s); first: {}", self.errors().count(), self.errors().next().map(|d| d.to_string()).unwrap_or_default())]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    pub fn all(&self) -> &[Diagnostic] {
        &self.0
    }
}
