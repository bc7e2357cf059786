//! Column naming rules (`rename_all`).
//!
//! The rule names are serde's (`serde_derive/src/internals/case.rs`), minus the kebab forms:
//! a column named `created-at` would need quoting in every hand-written query.

use std::fmt;

/// How field names become column names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenameRule {
    /// Keep the field name.
    None,
    /// `lowercase`
    LowerCase,
    /// `UPPERCASE`
    UpperCase,
    /// `PascalCase`
    PascalCase,
    /// `camelCase`
    CamelCase,
    /// `snake_case`
    SnakeCase,
    /// `SCREAMING_SNAKE_CASE`
    ScreamingSnakeCase,
}

/// The accepted spellings, in the order the error message lists them.
const RULES: &[(&str, RenameRule)] = &[
    ("lowercase", RenameRule::LowerCase),
    ("UPPERCASE", RenameRule::UpperCase),
    ("PascalCase", RenameRule::PascalCase),
    ("camelCase", RenameRule::CamelCase),
    ("snake_case", RenameRule::SnakeCase),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnakeCase),
];

/// serde's kebab spellings, rejected with their own message.
const KEBAB: &[&str] = &["kebab-case", "SCREAMING-KEBAB-CASE"];

/// Why a `rename_all` value was rejected; its `Display` is the error message.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError<'a> {
    /// One of serde's kebab rules.
    Kebab(&'a str),
    /// Anything else.
    Unknown(&'a str),
}

impl fmt::Display for ParseError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Kebab(rule) => write!(
                f,
                "`rename_all = \"{rule}\"` is not supported: its column names contain `-` \
                 and would need quoting in SQL\nhelp: use \"snake_case\" or \"SCREAMING_SNAKE_CASE\""
            ),
            ParseError::Unknown(rule) => {
                write!(
                    f,
                    "unknown rename rule `rename_all = \"{rule}\"`, expected one of "
                )?;
                for (i, (name, _)) in RULES.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "\"{name}\"")?;
                }
                Ok(())
            }
        }
    }
}

impl RenameRule {
    /// Parse a `rename_all` value.
    pub fn parse(rule: &str) -> Result<Self, ParseError<'_>> {
        if let Some((_, r)) = RULES.iter().find(|(name, _)| *name == rule) {
            Ok(*r)
        } else if KEBAB.contains(&rule) {
            Err(ParseError::Kebab(rule))
        } else {
            Err(ParseError::Unknown(rule))
        }
    }

    /// The column name of a field (a snake_case Rust name, without `r#`).
    pub fn apply_to_field(self, field: &str) -> String {
        match self {
            RenameRule::None | RenameRule::SnakeCase => field.to_owned(),
            RenameRule::LowerCase => field.to_ascii_lowercase(),
            RenameRule::UpperCase | RenameRule::ScreamingSnakeCase => field.to_ascii_uppercase(),
            RenameRule::PascalCase => pascal(field, true),
            RenameRule::CamelCase => pascal(field, false),
        }
    }
}

/// `foo_bar` to `FooBar` (or `fooBar` when `upper_first` is false).
fn pascal(field: &str, upper_first: bool) -> String {
    let mut out = String::with_capacity(field.len());
    let mut capitalize = upper_first;
    for ch in field.chars() {
        if ch == '_' {
            capitalize = !out.is_empty() || upper_first;
        } else if capitalize {
            out.push(ch.to_ascii_uppercase());
            capitalize = false;
        } else if out.is_empty() {
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_serde_names() {
        for (name, rule) in RULES {
            assert_eq!(RenameRule::parse(name), Ok(*rule));
        }
        assert_eq!(
            RenameRule::parse("kebab-case"),
            Err(ParseError::Kebab("kebab-case"))
        );
        assert_eq!(
            RenameRule::parse("SCREAMING-KEBAB-CASE"),
            Err(ParseError::Kebab("SCREAMING-KEBAB-CASE"))
        );
        assert_eq!(
            RenameRule::parse("Snake_Case"),
            Err(ParseError::Unknown("Snake_Case"))
        );
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            ParseError::Unknown("abc").to_string(),
            "unknown rename rule `rename_all = \"abc\"`, expected one of \"lowercase\", \
             \"UPPERCASE\", \"PascalCase\", \"camelCase\", \"snake_case\", \"SCREAMING_SNAKE_CASE\""
        );
        assert!(
            ParseError::Kebab("kebab-case")
                .to_string()
                .contains("would need quoting in SQL")
        );
    }

    #[test]
    fn applies_to_fields() {
        let cases: &[(RenameRule, &str, &str)] = &[
            (RenameRule::None, "created_at", "created_at"),
            (RenameRule::SnakeCase, "created_at", "created_at"),
            (RenameRule::LowerCase, "created_at", "created_at"),
            (RenameRule::UpperCase, "created_at", "CREATED_AT"),
            (RenameRule::ScreamingSnakeCase, "created_at", "CREATED_AT"),
            (RenameRule::PascalCase, "created_at", "CreatedAt"),
            (RenameRule::CamelCase, "created_at", "createdAt"),
            (RenameRule::PascalCase, "id", "Id"),
            (RenameRule::CamelCase, "id", "id"),
            (RenameRule::CamelCase, "type", "type"),
            (RenameRule::PascalCase, "a_b_c", "ABC"),
            (RenameRule::CamelCase, "user_id2", "userId2"),
            (RenameRule::PascalCase, "_private", "Private"),
            (RenameRule::CamelCase, "_private", "private"),
        ];
        for (rule, field, column) in cases {
            assert_eq!(rule.apply_to_field(field), *column, "{rule:?} {field}");
        }
        // Never panics, even on names that rename to nothing.
        assert_eq!(RenameRule::CamelCase.apply_to_field("__"), "");
    }
}
