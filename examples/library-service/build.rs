//! Compiles library.manifest: its IR goes to `$OUT_DIR/library.ir.json` (embedded by main.rs),
//! and the `Book` and `Loan` structs of the typed store to `$OUT_DIR/library_entities.rs`
//! (included by store.rs). An error in the program fails the build with its diagnostics.

use manifest_build::{Program, StructOptions};

fn main() {
    Program::new("library.manifest")
        .entity(
            "Book",
            StructOptions::table("library_book").with_version("version"),
        )
        .entity(
            "Loan",
            StructOptions::table("library_loan").with_version("version"),
        )
        .build();
}
