//! `.manifest` to Manifest IR v1 (JSON).
//!
//! ```
//! let compiled = manifest_compiler::compile("entity A {\n  property n: number = 0\n}\nstore A in memory\n");
//! assert!(compiled.is_ok());
//! ```
//!
//! [`compile`] returns the IR and its warnings, or [`Diagnostics`] (an error
//! holding every diagnostic, errors and warnings, in upstream's order) when any
//! error was reported; no input makes it panic. The IR is the typed
//! [`manifest_ir::Ir`] the runtime loads, lowered straight from the syntax tree,
//! with `provenance.irHash` already computed; [`Compiled::to_json`] and
//! [`Compiled::to_value`] give it as upstream's JSON (objects' keys sorted, so
//! output is stable; upstream's key order is not kept, which deep equality does
//! not need).

mod ast;
mod checks;
pub mod diagnostic;
pub mod lexer;
mod lower;
mod parser;
pub mod provenance;
#[cfg(feature = "render")]
pub mod render;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use parser::{MAX_EXPR_DEPTH, MAX_NESTING};
pub use provenance::COMPILER_VERSION;

pub use manifest_ir::Ir;

/// A successful compilation.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// The program, with its provenance (hashes included).
    pub ir: Ir,
    /// Warnings reported on the way (never errors).
    pub warnings: Vec<Diagnostic>,
}

impl Compiled {
    /// The IR as JSON text, indented, numbers as JavaScript writes them.
    pub fn to_json(&self) -> String {
        manifest_ir::text::to_string_pretty(&self.ir)
    }

    /// The IR as a JSON value (integral numbers as integers, as upstream's JSON parses).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(&self.ir).unwrap_or(serde_json::Value::Null)
    }
}

/// Options for [`compile_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `provenance.compiledAt`; the current UTC time when `None`.
    pub compiled_at: Option<String>,
}

/// Compiles `source`, stamping the current time into the provenance.
pub fn compile(source: &str) -> Result<Compiled, Diagnostics> {
    compile_with(source, &Options::default())
}

/// The stack the compiler runs on: the parser and lowering recurse (within
/// [`MAX_NESTING`] and [`MAX_EXPR_DEPTH`]), so unless the source is
/// [`shallow`] they get a stack of their own, whatever the caller's thread has.
const STACK_BYTES: usize = 32 * 1024 * 1024;

/// Compiles `source` with `options` (a fixed `compiled_at` makes output reproducible).
pub fn compile_with(source: &str, options: &Options) -> Result<Compiled, Diagnostics> {
    let outcome = if shallow(source) {
        let here = std::panic::AssertUnwindSafe(|| compile_here(source, options));
        Ok(std::panic::catch_unwind(here))
    } else {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("manifest-compiler".into())
                .stack_size(STACK_BYTES)
                .spawn_scoped(scope, || compile_here(source, options))
                .map(|handle| handle.join())
        })
    };
    match outcome {
        Ok(Ok(result)) => result,
        // A panic is a bug; report it rather than propagate it.
        Ok(Err(_)) => Err(Diagnostics(vec![Diagnostic::error(format!(
            "{INTERNAL_ERROR}: the compiler panicked; please report this input"
        ))])),
        // No thread available: compile on the caller's stack.
        Err(_) => compile_here(source, options),
    }
}

/// Brackets (`(`, `[`, `{`) open at once, at most, for [`shallow`].
const SHALLOW_BRACKETS: u32 = 8;
/// Bytes other than letters, digits and `_` on one line, at most, for [`shallow`].
const SHALLOW_LINE_SEPARATORS: u32 = 64;

/// Whether `source` is shallow enough to compile on the caller's stack
/// (spawning a thread costs more than compiling a small program).
///
/// A cheap over-estimate of nesting: expressions do not continue across a
/// newline except inside brackets, and every token of an expression but the
/// first follows a byte that is not a letter, a digit or `_`; so with few
/// brackets open at once and few such bytes on any line, every tree the
/// parser and the lowering recurse over stays shallow.
fn shallow(source: &str) -> bool {
    let (mut open, mut on_line) = (0u32, 0u32);
    for &b in source.as_bytes() {
        match b {
            b'\n' | b'\r' => on_line = 0,
            b'(' | b'[' | b'{' => {
                open += 1;
                on_line += 1;
                if open > SHALLOW_BRACKETS {
                    return false;
                }
            }
            b')' | b']' | b'}' => {
                open = open.saturating_sub(1);
                on_line += 1;
            }
            b if b.is_ascii_alphanumeric() || b == b'_' => continue,
            _ => on_line += 1,
        }
        if on_line > SHALLOW_LINE_SEPARATORS {
            return false;
        }
    }
    true
}

/// The start of the message of a diagnostic reporting a compiler bug.
pub const INTERNAL_ERROR: &str = "internal compiler error";

fn compile_here(source: &str, options: &Options) -> Result<Compiled, Diagnostics> {
    let normalized = if source.contains('\r') {
        std::borrow::Cow::Owned(lexer::normalize_newlines(source))
    } else {
        std::borrow::Cow::Borrowed(source)
    };
    let (mut program, mut diagnostics) = parser::parse(&normalized);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(Diagnostics(diagnostics));
    }
    let mut ir = lower::lower(&mut program, &mut diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(Diagnostics(diagnostics));
    }
    let compiled_at = options
        .compiled_at
        .clone()
        .unwrap_or_else(provenance::now_iso8601);
    ir.provenance = Some(provenance::provenance(source, compiled_at));
    if let Err(e) = provenance::stamp_ir_hash(&mut ir) {
        return Err(Diagnostics(vec![Diagnostic::error(format!(
            "{INTERNAL_ERROR}: the IR's hash could not be computed: {e}"
        ))]));
    }
    Ok(Compiled {
        ir,
        warnings: diagnostics,
    })
}
