//! The table and column naming rules of Manifest, shared by `manifest-derive` (struct names and
//! `#[manifest(...)]` values, at compile time) and `manifest-core` (document tables named at run
//! time), so that the two cannot drift apart. No dependencies.
//!
//! # SQL names
//!
//! [`check_sql_name`]: a table or column name is used as written, quoted but never escaped, so
//! it is `[A-Za-z_][A-Za-z0-9_]*`, at most [`MAX_NAME_BYTES`] bytes (PostgreSQL truncates longer
//! identifiers), and a table name does not start with SQLite's reserved `sqlite_`.
//!
//! # Default table names: one name per table
//!
//! An entity's default table is its name in snake_case, never pluralised (`RecipeStep` to
//! `recipe_step`). snake_case alone loses information: `OrderItem`, `order_item` and
//! `Order_Item` all give `order_item`, `HTTPRequest` and `HttpRequest` both give
//! `http_request`, and Unicode lowercasing folds the Kelvin sign (`\u{212A}elvin`) into
//! `kelvin`. Two entities sharing a table would read each other's rows. So a default table is
//! given only to the one spelling of it in PascalCase, its *canonical* name:
//! [`default_table_name`] accepts `name` only when it is ASCII letters and digits starting with
//! an uppercase letter, and `to_pascal_case(to_snake_case(name)) == name`. That is each word
//! capitalised and acronyms written as words (`HttpRequest`, `RecipeV2`), as Rust's API
//! guidelines spell type names. As the canonical name is a function of the table name, two
//! accepted names with the same table are the same name. Any other name must be given its
//! table explicitly.

mod rename;

use std::fmt;

pub use rename::{ParseError, RenameRule};

/// The longest table or column name: PostgreSQL truncates identifiers past 63 bytes
/// (`NAMEDATALEN - 1`).
pub const MAX_NAME_BYTES: usize = 63;

/// What a SQL name names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// A table: also may not start with `sqlite_`.
    Table,
    /// A column.
    Column,
}

impl NameKind {
    /// `"table"` or `"column"`.
    pub fn as_str(self) -> &'static str {
        match self {
            NameKind::Table => "table",
            NameKind::Column => "column",
        }
    }
}

/// Why a name cannot be a SQL table or column name; its `Display` is the reason, lowercase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name is not `[A-Za-z_][A-Za-z0-9_]*`.
    Syntax,
    /// The name is longer than [`MAX_NAME_BYTES`].
    TooLong {
        /// Its length in bytes.
        bytes: usize,
    },
    /// A table name starting with `sqlite_` (in any case), which SQLite reserves.
    SqliteReserved,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("the name is empty"),
            NameError::Syntax => f.write_str(
                "a SQL name is ASCII letters, digits and underscores \
                 (`[A-Za-z_][A-Za-z0-9_]*`), not starting with a digit",
            ),
            NameError::TooLong { bytes } => write!(
                f,
                "it is {bytes} bytes long; PostgreSQL allows at most {MAX_NAME_BYTES}"
            ),
            NameError::SqliteReserved => {
                f.write_str("SQLite reserves the names that start with `sqlite_`")
            }
        }
    }
}

/// Whether `name` can be a `kind` name as written (see the [crate docs](crate#sql-names)).
pub fn check_sql_name(kind: NameKind, name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(NameError::Empty);
    };
    if !(first.is_ascii_alphabetic() || first == '_')
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(NameError::Syntax);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong { bytes: name.len() });
    }
    if kind == NameKind::Table
        && name
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("sqlite_"))
    {
        return Err(NameError::SqliteReserved);
    }
    Ok(())
}

/// Why an entity (or struct) name gives no default table name; its `Display` is the reason,
/// lowercase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntityNameError {
    /// The name is not the canonical (PascalCase) spelling of its snake_case table name, so
    /// another name could share the table (see the [crate docs](crate#default-table-names-one-name-per-table)).
    NotCanonical {
        /// The canonical name of the same table, when there is one (`HttpRequest` for
        /// `HTTPRequest`, `OrderItem` for `order_item`); `None` when the snake_case form is
        /// not a valid table name (non-ASCII characters, say).
        canonical: Option<String>,
    },
    /// The name is canonical but its table name is not a valid one (too long, or starting
    /// with `sqlite_`).
    Table(NameError),
}

impl fmt::Display for EntityNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntityNameError::NotCanonical { canonical } => {
                f.write_str(
                    "a default table name comes only from an entity name in PascalCase (ASCII \
                     letters and digits, each word capitalised, acronyms as words: \
                     `HttpRequest`), so that no two entities share a table",
                )?;
                if let Some(canonical) = canonical {
                    write!(f, "; this table is `{canonical}`'s")?;
                }
                Ok(())
            }
            EntityNameError::Table(e) => e.fmt(f),
        }
    }
}

/// The default table name of the entity (or struct) called `entity`: its name in snake_case,
/// never pluralised (`PrepTask` to `prep_task`, `HttpRequest` to `http_request`, `RecipeV2` to
/// `recipe_v2`). Only the canonical PascalCase spelling of a table name has one, so no two
/// names share a default table (see the [crate docs](crate#default-table-names-one-name-per-table)).
pub fn default_table_name(entity: &str) -> Result<String, EntityNameError> {
    let table = to_snake_case(entity);
    let mut chars = entity.chars();
    let pascal = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric());
    if !pascal {
        return Err(EntityNameError::NotCanonical {
            canonical: canonical_name(&table),
        });
    }
    // A PascalCase name's snake_case form is a valid name but for its length and prefix, which
    // every spelling of it shares: report those before the spelling.
    check_sql_name(NameKind::Table, &table).map_err(EntityNameError::Table)?;
    if to_pascal_case(&table) != entity {
        return Err(EntityNameError::NotCanonical {
            canonical: canonical_name(&table),
        });
    }
    Ok(table)
}

/// The canonical name whose default table is `table`, if there is one.
fn canonical_name(table: &str) -> Option<String> {
    check_sql_name(NameKind::Table, table).ok()?;
    let canonical = to_pascal_case(table);
    let mut chars = canonical.chars();
    let pascal = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric());
    (pascal && to_snake_case(&canonical) == table).then_some(canonical)
}

/// `name` in snake_case: an ASCII uppercase letter starts a word (after a lowercase letter or
/// a digit, or, as the last capital of an acronym, before a lowercase letter: `HTTPRequest` to
/// `http_request`) and is lowercased; every other character is kept as it is. ASCII only, so
/// that no other character folds into an ASCII one (the Kelvin sign into `k`).
pub fn to_snake_case(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, ch) in name.char_indices() {
        if ch.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| bytes[j]);
            let next = bytes.get(i + 1).copied();
            let boundary = match prev {
                None | Some(b'_') => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                // The last capital of an acronym starts the next word: `HTTPRequest`.
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                Some(_) => false,
            };
            if boundary {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// `table` in PascalCase: the words between underscores, each with its first character
/// uppercased (ASCII), joined (`http_request` to `HttpRequest`, `recipe_v2` to `RecipeV2`).
pub fn to_pascal_case(table: &str) -> String {
    let mut out = String::with_capacity(table.len());
    for word in table.split('_') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case() {
        let cases = [
            ("PrepTask", "prep_task"),
            ("Recipe", "recipe"),
            ("RecipeStep", "recipe_step"),
            ("FooBarBaz", "foo_bar_baz"),
            ("HTTPRequest", "http_request"),
            ("HttpRequest", "http_request"),
            ("RecipeV2", "recipe_v2"),
            ("Recipe2Step", "recipe2_step"),
            ("ABC", "abc"),
            ("already_snake", "already_snake"),
            ("My_Type", "my_type"),
            // ASCII only: the Kelvin sign and other non-ASCII letters are kept as they are.
            ("\u{212A}elvin", "\u{212A}elvin"),
            ("Tâche", "tâche"),
            ("ÉtéX", "Étéx"),
        ];
        for (name, table) in cases {
            assert_eq!(to_snake_case(name), table, "{name}");
        }
    }

    #[test]
    fn pascal_case() {
        let cases = [
            ("prep_task", "PrepTask"),
            ("http_request", "HttpRequest"),
            ("recipe_v2", "RecipeV2"),
            ("recipe2_step", "Recipe2Step"),
            ("abc", "Abc"),
            ("a__b_", "AB"),
            ("", ""),
        ];
        for (table, name) in cases {
            assert_eq!(to_pascal_case(table), name, "{table}");
        }
    }

    #[test]
    fn default_tables_of_canonical_names() {
        let cases = [
            ("PrepTask", "prep_task"),
            ("Recipe", "recipe"),
            ("HttpRequest", "http_request"),
            ("RecipeV2", "recipe_v2"),
            ("Recipe2Step", "recipe2_step"),
            ("Recipe2step", "recipe2step"),
            ("ABc", "a_bc"),
            ("V2", "v2"),
            ("Sqlite", "sqlite"),
        ];
        for (name, table) in cases {
            assert_eq!(default_table_name(name), Ok(table.to_owned()), "{name}");
        }
        let max = format!("E{}", "x".repeat(MAX_NAME_BYTES - 1));
        assert_eq!(default_table_name(&max), Ok(max.to_ascii_lowercase()));
    }

    #[test]
    fn names_that_would_share_a_table_are_refused() {
        let not = |canonical: &str| {
            Err(EntityNameError::NotCanonical {
                canonical: Some(canonical.to_owned()),
            })
        };
        assert_eq!(default_table_name("OrderItem"), Ok("order_item".to_owned()));
        assert_eq!(default_table_name("order_item"), not("OrderItem"));
        assert_eq!(default_table_name("Order_Item"), not("OrderItem"));
        assert_eq!(default_table_name("orderItem"), not("OrderItem"));
        assert_eq!(default_table_name("HTTPRequest"), not("HttpRequest"));
        assert_eq!(default_table_name("ABC"), not("Abc"));
        assert_eq!(default_table_name("note"), not("Note"));
        // The Kelvin sign is not folded into `k`: refused, with no canonical name.
        for name in [
            "\u{212A}elvin",
            "Tâche",
            "Prep-Task",
            "Prep Task",
            "",
            "1Task",
            "_X",
        ] {
            assert_eq!(
                default_table_name(name),
                Err(EntityNameError::NotCanonical { canonical: None }),
                "{name:?}"
            );
        }
        assert_eq!(
            default_table_name("SqliteMaster"),
            Err(EntityNameError::Table(NameError::SqliteReserved))
        );
        let long = format!("E{}", "x".repeat(MAX_NAME_BYTES));
        assert_eq!(
            default_table_name(&long),
            Err(EntityNameError::Table(NameError::TooLong { bytes: 64 }))
        );
    }

    /// Every name over a small alphabet, up to `len` characters.
    fn names(alphabet: &[char], len: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..len {
            last = last
                .iter()
                .flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}")))
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    #[test]
    fn default_tables_are_injective() {
        let mut tables = std::collections::HashMap::new();
        for name in names(&['A', 'B', 'a', 'b', '1', '_', '\u{212A}', 'k'], 5) {
            match default_table_name(&name) {
                Ok(table) => {
                    if let Some(other) = tables.insert(table.clone(), name.clone()) {
                        panic!("`{other}` and `{name}` share `{table}`");
                    }
                }
                // A suggested name is accepted, with the refused name's table.
                Err(EntityNameError::NotCanonical {
                    canonical: Some(canonical),
                }) => {
                    assert_eq!(
                        default_table_name(&canonical),
                        Ok(to_snake_case(&name)),
                        "{name} -> {canonical}"
                    );
                }
                Err(_) => {}
            }
        }
        assert!(tables.len() > 1000, "{}", tables.len());
    }

    #[test]
    fn sql_names() {
        for ok in [
            "prep_task",
            "_x",
            "A1",
            &"a".repeat(63),
            "sqlitex",
            "sqlite",
            "my_sqlite_t",
        ] {
            assert_eq!(check_sql_name(NameKind::Table, ok), Ok(()), "{ok}");
        }
        let bad = [
            ("", NameError::Empty),
            ("1abc", NameError::Syntax),
            ("a-b", NameError::Syntax),
            ("a b", NameError::Syntax),
            ("a\"b", NameError::Syntax),
            ("tâche", NameError::Syntax),
            ("\u{212A}elvin", NameError::Syntax),
            ("x;DROP TABLE y", NameError::Syntax),
            (&"a".repeat(64), NameError::TooLong { bytes: 64 }),
            ("sqlite_master", NameError::SqliteReserved),
            ("SQLite_x", NameError::SqliteReserved),
        ];
        for (name, err) in bad {
            assert_eq!(check_sql_name(NameKind::Table, name), Err(err), "{name}");
        }
        assert_eq!(check_sql_name(NameKind::Column, "sqlite_x"), Ok(()));
    }

    #[test]
    fn reasons_are_lowercase() {
        let reasons = [
            NameError::Syntax.to_string(),
            NameError::TooLong { bytes: 64 }.to_string(),
            EntityNameError::NotCanonical {
                canonical: Some("OrderItem".into()),
            }
            .to_string(),
        ];
        for reason in reasons {
            assert!(reason.starts_with(|c: char| c.is_lowercase()), "{reason}");
            assert!(!reason.ends_with('.'), "{reason}");
        }
        assert!(
            EntityNameError::NotCanonical {
                canonical: Some("OrderItem".into())
            }
            .to_string()
            .ends_with("; this table is `OrderItem`'s")
        );
    }
}
