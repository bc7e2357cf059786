//! `Program::compile` end to end: the files it writes, and a program with an error.

use manifest_build::{Error, Program, StructOptions};
use std::path::PathBuf;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("manifest-build-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

const GOOD: &str = "entity Note {\n  property required id: string\n  property text: string = \"\"\n  property stars: int = 0\n  command create(text: string) {\n    mutate text = text\n  }\n}\nstore Note in memory\n";

#[test]
fn writes_the_ir_and_the_structs() {
    let dir = temp_dir("good");
    let src = dir.join("notes.manifest");
    std::fs::write(&src, GOOD).unwrap();
    let out = Program::new(&src)
        .out_dir(dir.join("out"))
        .entity("Note", StructOptions::table("notes"))
        .compile()
        .expect("compiles");
    assert_eq!(out.ir_path, dir.join("out/notes.ir.json"));
    let ir: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out.ir_path).unwrap()).unwrap();
    assert_eq!(ir, serde_json::to_value(&out.ir).unwrap());
    assert_eq!(ir["entities"][0]["name"], "Note");
    let code = std::fs::read_to_string(&out.entities_path).unwrap();
    assert_eq!(out.entities_path, dir.join("out/notes_entities.rs"));
    assert!(code.contains("pub struct Note {"), "{code}");
    assert!(code.contains("    pub stars: i64,"), "{code}");
    assert!(
        !code.contains("version"),
        "no version field unless asked for: {code}"
    );
    assert!(out.warnings.is_empty(), "{}", out.warnings);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn an_error_comes_back_rendered_and_nothing_is_written() {
    let dir = temp_dir("bad");
    let src = dir.join("bad.manifest");
    std::fs::write(
        &src,
        "entity A {\n  command go() {\n    mutate = 1\n  }\n}\n",
    )
    .unwrap();
    let err = Program::new(&src)
        .out_dir(dir.join("out"))
        .compile()
        .expect_err("an error");
    let Error::Compile(rendered) = &err else {
        panic!("{err}");
    };
    assert!(
        rendered.starts_with("error: Expected IDENTIFIER, got ="),
        "{rendered}"
    );
    assert!(
        rendered.contains(&format!("--> {}:3:12", src.display())),
        "{rendered}"
    );
    assert!(!dir.join("out").exists());
    // An unknown entity and an unreadable program are errors too.
    std::fs::write(&src, GOOD).unwrap();
    let unknown = Program::new(&src)
        .out_dir(dir.join("out"))
        .entity("Missing", StructOptions::default())
        .compile();
    assert!(matches!(unknown, Err(Error::UnknownEntity(e)) if e == "Missing"));
    let missing = Program::new(dir.join("none.manifest"))
        .out_dir(&dir)
        .compile();
    assert!(matches!(missing, Err(Error::Io { .. })));
    std::fs::remove_dir_all(dir).ok();
}
