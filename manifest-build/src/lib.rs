//! Compile a `.manifest` program from a crate's `build.rs`: its IR is written to
//! `$OUT_DIR/<name>.ir.json` to embed with `include_str!`, and plain structs for chosen
//! entities (deriving manifest-core's `ManifestEntity` and serde's traits) to
//! `$OUT_DIR/<name>_entities.rs` to `include!`, so the typed store is the program's by
//! construction. A program with an error fails the build with its diagnostics, rendered as
//! rustc renders its own.
//!
//! ```no_run
//! // build.rs
//! use manifest_build::{Program, StructOptions};
//!
//! Program::new("library.manifest")
//!     .entity("Book", StructOptions::table("library_book").with_version("version"))
//!     .build();
//! ```
//!
//! ```text
//! // src/main.rs
//! const IR: &str = include_str!(concat!(env!("OUT_DIR"), "/library.ir.json"));
//! include!(concat!(env!("OUT_DIR"), "/library_entities.rs"));
//! ```
//!
//! The crate then depends on `manifest-core` (with its `derive` feature) and `serde` (with
//! `derive`), which the generated code names as `::manifest_core` and `::serde`.

mod structs;

pub use structs::{camel_case, entity_struct, rust_type, snake_case};

use std::fmt;
use std::path::{Path, PathBuf};

/// How an entity's struct is generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StructOptions {
    /// The SQL table (`#[manifest(table = ...)]`); the derive's default when `None`.
    pub table: Option<String>,
    /// The struct's name; the entity's when `None` (then `#[manifest(entity = ...)]` names it).
    pub struct_name: Option<String>,
    /// The tenant field (serialised under this very name); `tenant_id` when `None`.
    pub tenant_field: Option<String>,
    /// A version field (`#[manifest(version)] <name>: i64`), when wanted.
    pub version_field: Option<String>,
}

impl StructOptions {
    /// Options with a table name.
    pub fn table(table: &str) -> StructOptions {
        StructOptions {
            table: Some(table.into()),
            ..StructOptions::default()
        }
    }

    /// Adds a version field named `field`.
    pub fn with_version(mut self, field: &str) -> StructOptions {
        self.version_field = Some(field.into());
        self
    }
}

/// Why a program could not be built.
#[derive(Debug)]
pub enum Error {
    /// The program could not be read, or an output not written.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// `OUT_DIR` is not set (not in a build script) and no output folder was given.
    NoOutDir,
    /// The program has errors: their rendered diagnostics.
    Compile(String),
    /// An entity asked for is not in the program (outside modules).
    UnknownEntity(String),
    /// A property gives a field name that is not an identifier, or one already taken.
    BadField { entity: String, field: String },
    /// A struct or tenant field name that cannot be used.
    BadName(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, error } => write!(f, "{}: {error}", path.display()),
            Error::NoOutDir => write!(
                f,
                "OUT_DIR is not set: call this from build.rs, or give an output folder"
            ),
            Error::Compile(rendered) => {
                write!(f, "the program does not compile:\n{}", rendered.trim_end())
            }
            Error::UnknownEntity(e) => {
                write!(f, "the program has no entity `{e}` (outside modules)")
            }
            Error::BadField { entity, field } => {
                write!(
                    f,
                    "entity `{entity}`: property `{field}` gives no usable Rust field name (not an identifier, or taken by the id, tenant or version field)"
                )
            }
            Error::BadName(name) => write!(f, "`{name}` cannot be used as a Rust name here"),
        }
    }
}

impl std::error::Error for Error {}

/// What [`Program::compile`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// `<out>/<name>.ir.json`.
    pub ir_path: PathBuf,
    /// `<out>/<name>_entities.rs` (written even when no entity was chosen).
    pub entities_path: PathBuf,
    /// The IR.
    pub ir: manifest_compiler::Ir,
    /// The warnings, rendered (empty when there were none).
    pub warnings: String,
}

/// A program to compile, with the entities to generate structs for.
#[derive(Debug, Clone)]
pub struct Program {
    path: PathBuf,
    name: String,
    out_dir: Option<PathBuf>,
    entities: Vec<(String, StructOptions)>,
}

impl Program {
    /// The program at `path` (relative paths are from the crate's root, where build scripts
    /// run); output files are named for its file stem.
    pub fn new(path: impl AsRef<Path>) -> Program {
        let path = path.as_ref().to_path_buf();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "program".into());
        Program {
            path,
            name,
            out_dir: None,
            entities: Vec::new(),
        }
    }

    /// Names the output files `<name>.ir.json` and `<name>_entities.rs`.
    pub fn name(mut self, name: &str) -> Program {
        self.name = name.into();
        self
    }

    /// Writes into `dir` instead of `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Program {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Generates a struct for `entity`.
    pub fn entity(mut self, entity: &str, options: StructOptions) -> Program {
        self.entities.push((entity.into(), options));
        self
    }

    /// Compiles and writes the outputs. Prints nothing (see [`Program::build`]).
    pub fn compile(&self) -> Result<Output, Error> {
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(Error::NoOutDir)?,
        };
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |error| Error::Io { path, error }
        };
        let source = std::fs::read_to_string(&self.path).map_err(io(&self.path))?;
        let shown = self.path.display().to_string();
        let compiled =
            manifest_compiler::compile_with(&source, &manifest_compiler::Options::from_env())
                .map_err(|d| {
                    Error::Compile(manifest_compiler::render::render(d.all(), &shown, &source))
                })?;
        let warnings = if compiled.warnings.is_empty() {
            String::new()
        } else {
            manifest_compiler::render::render(&compiled.warnings, &shown, &source)
        };
        let mut code = format!("// Generated by manifest-build from {shown}: do not edit.\n");
        for (entity, options) in &self.entities {
            code.push('\n');
            code.push_str(&entity_struct(&compiled.ir, entity, options)?);
        }
        let ir_text = compiled.to_json() + "\n";
        std::fs::create_dir_all(&out_dir).map_err(io(&out_dir))?;
        let ir_path = out_dir.join(format!("{}.ir.json", self.name));
        let entities_path = out_dir.join(format!("{}_entities.rs", self.name));
        write_if_changed(&ir_path, &ir_text).map_err(io(&ir_path))?;
        write_if_changed(&entities_path, &code).map_err(io(&entities_path))?;
        Ok(Output {
            ir_path,
            entities_path,
            ir: compiled.ir,
            warnings,
        })
    }

    /// For `build.rs`: [`Program::compile`], telling cargo to rerun when the program
    /// changes and showing each warning as a cargo warning; on any error, prints it (the
    /// rendered diagnostics) and panics, which fails the build with them.
    pub fn build(&self) -> Output {
        println!("cargo:rerun-if-changed={}", self.path.display());
        match self.compile() {
            Ok(out) => {
                for w in out.warnings.split("\n\n").filter(|w| !w.trim().is_empty()) {
                    println!("cargo:warning={}", w.lines().next().unwrap_or_default());
                }
                out
            }
            Err(e) => {
                eprintln!("{e}");
                panic!(
                    "manifest-build: {} failed; see the diagnostics above",
                    self.path.display()
                );
            }
        }
    }
}

/// Writes `text` unless the file already holds it (so dependents are not rebuilt).
fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text)
}
