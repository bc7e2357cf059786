//! Prints, one JSON line per `.manifest` file in a folder, whether it compiled
//! and its diagnostics: `cargo run -p manifest-compiler --example diagnose -- <dir>`.
//! Used to compare our diagnostics with another compiler's, file by file.

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: diagnose <dir>");
        std::process::exit(2);
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "manifest"));
    files.sort();
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap_or_default();
        let (ok, diagnostics) = match manifest_compiler::compile(&source) {
            Ok(c) => (true, c.warnings),
            Err(d) => (false, d.0),
        };
        let d: Vec<serde_json::Value> = diagnostics
            .iter()
            .map(|x| serde_json::json!([x.severity.as_str(), x.message, x.line, x.column]))
            .collect();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        println!("{}", serde_json::json!({"file": name, "ok": ok, "d": d}));
    }
}
