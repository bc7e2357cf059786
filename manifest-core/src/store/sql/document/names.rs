//! Document table names: the default (the entity name in snake_case) and the rule every table
//! name must keep, the derive's.

/// The longest table name: PostgreSQL truncates identifiers past 63 bytes.
const MAX_NAME_BYTES: usize = 63;

/// The default table name: the entity name in snake_case, never pluralised, by the derive's
/// rule (`PrepTask` to `prep_task`, `HTTPRequest` to `http_request`, `RecipeV2` to `recipe_v2`).
pub(super) fn to_snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &ch) in chars.iter().enumerate() {
        if ch.is_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                // The last capital of an acronym starts the next word: `HTTPRequest`.
                Some(p) if p.is_uppercase() => next.is_some_and(char::is_lowercase),
                Some(_) => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// Whether `name` can be a table name as written (the derive's rule): `[A-Za-z_][A-Za-z0-9_]*`,
/// at most 63 bytes, not SQLite's reserved `sqlite_` prefix. The error is the reason.
pub(super) fn check_table_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err("a table name cannot be empty".to_owned());
    };
    if !(first.is_ascii_alphabetic() || first == '_')
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err("a table name is ASCII letters, digits and underscores \
                    (`[A-Za-z_][A-Za-z0-9_]*`), not starting with a digit"
            .to_owned());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "it is {} bytes long; PostgreSQL allows at most {MAX_NAME_BYTES}",
            name.len()
        ));
    }
    if name
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("sqlite_"))
    {
        return Err("SQLite reserves the names that start with `sqlite_`".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_table_names() {
        let cases = [
            ("PrepTask", "prep_task"),
            ("Recipe", "recipe"),
            ("RecipeStep", "recipe_step"),
            ("HTTPRequest", "http_request"),
            ("RecipeV2", "recipe_v2"),
            ("Recipe2Step", "recipe2_step"),
            ("ABC", "abc"),
            ("already_snake", "already_snake"),
            ("My_Type", "my_type"),
        ];
        for (name, table) in cases {
            assert_eq!(to_snake_case(name), table, "{name}");
        }
    }

    #[test]
    fn table_names() {
        for ok in [
            "prep_task",
            "_x",
            "A1",
            &"a".repeat(63),
            "sqlitex",
            "my_sqlite_t",
        ] {
            assert_eq!(check_table_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "a-b",
            "a b",
            "a\"b",
            "tâche",
            "x;DROP TABLE y",
            &"a".repeat(64),
            "sqlite_master",
            "SQLite_x",
        ] {
            assert!(check_table_name(bad).is_err(), "{bad}");
        }
    }
}
