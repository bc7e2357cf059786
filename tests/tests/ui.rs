//! Compile-time behaviour of `#[derive(ManifestEntity)]`: every error the macro or a type
//! assertion reports (`ui/`), and odd but valid inputs (`ui-pass/`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
    t.pass("ui-pass/*.rs");
}
