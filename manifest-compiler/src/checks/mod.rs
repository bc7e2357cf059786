//! Semantic checks that are not part of lowering one declaration.

pub(crate) mod compose;
pub(crate) mod domain;
pub(crate) mod reactions;
pub(crate) mod regex;
pub(crate) mod schedule;
pub(crate) mod semantic;
