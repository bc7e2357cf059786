//! Manifest IR v1: the typed program `manifest-compiler` writes and `manifest-runtime` loads.
//!
//! One set of types on both sides, so a program the compiler lowers is the program the engine
//! runs, with no JSON in between unless it is asked for.

#![forbid(unsafe_code)]

pub mod canonical;
pub mod js;
