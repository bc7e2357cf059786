//! Compiles a `.manifest` file and prints its IR (or its diagnostics).
//!
//! `cargo run -p manifest-compiler --example compile -- file.manifest`

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: compile <file.manifest>");
        std::process::exit(2);
    };
    let source = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    match manifest_compiler::compile(&source) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("{w}");
            }
            println!("{}", c.to_json());
        }
        Err(d) => {
            for x in d.all() {
                eprintln!("{x}");
            }
            std::process::exit(1);
        }
    }
}
