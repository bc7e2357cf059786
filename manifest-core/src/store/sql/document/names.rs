//! Document table names, by `manifest_naming`'s rules (the derive's): the default is the entity
//! name in snake_case, given only to a PascalCase name so that no two entities share a table,
//! and every table name is a plain SQL name.

use manifest_naming::NameKind;

use crate::error::Error;

/// The table of `entity`: `table`, checked to be a SQL name, or by default the entity name in
/// snake_case, never pluralised (`PrepTask` to `prep_task`, `HttpRequest` to `http_request`,
/// `RecipeV2` to `recipe_v2`). Only a PascalCase name (ASCII letters and digits, each word
/// capitalised, acronyms as words) has a default table, so the mapping is one-to-one:
/// `order_item`, `Order_Item` and `ORDERItem` would otherwise share `OrderItem`'s
/// `order_item`, and the Kelvin sign of `\u{212A}elvin` would fold into `kelvin`. Any other name
/// names its table explicitly. A refused name is [`Error::InvalidName`], naming the entity and
/// the table name (the default one: the name in snake_case).
pub(super) fn table_name(entity: &str, table: Option<&str>) -> Result<String, Error> {
    let invalid = |name: &str, reason: &dyn std::fmt::Display| Error::InvalidName {
        entity: entity.to_owned(),
        name: name.to_owned(),
        reason: reason.to_string(),
    };
    match table {
        Some(table) => match manifest_naming::check_sql_name(NameKind::Table, table) {
            Ok(()) => Ok(table.to_owned()),
            Err(e) => Err(invalid(table, &e)),
        },
        None => manifest_naming::default_table_name(entity)
            .map_err(|e| invalid(&manifest_naming::to_snake_case(entity), &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(entity: &str, table: Option<&str>) -> (String, String) {
        match table_name(entity, table) {
            Err(Error::InvalidName {
                entity: e,
                name,
                reason,
            }) => {
                assert_eq!(e, entity);
                assert!(!reason.is_empty());
                (name, reason)
            }
            other => panic!("{entity:?}: {other:?}"),
        }
    }

    #[test]
    fn default_tables() {
        for (entity, table) in [
            ("PrepTask", "prep_task"),
            ("HttpRequest", "http_request"),
            ("RecipeV2", "recipe_v2"),
            ("OrderItem", "order_item"),
        ] {
            assert_eq!(table_name(entity, None).unwrap(), table, "{entity}");
        }
    }

    #[test]
    fn no_two_entities_share_a_default_table() {
        let (name, reason) = refused("order_item", None);
        assert_eq!(name, "order_item");
        assert!(reason.ends_with("this table is `OrderItem`'s"), "{reason}");
        assert_eq!(refused("HTTPRequest", None).0, "http_request");
        // Not folded into `kelvin`.
        assert_eq!(refused("\u{212A}elvin", None).0, "\u{212A}elvin");
        // Named explicitly, any entity may have any valid table.
        assert_eq!(
            table_name("order_item", Some("order_items")).unwrap(),
            "order_items"
        );
    }

    #[test]
    fn explicit_tables_are_sql_names() {
        assert_eq!(table_name("E", Some("my_table")).unwrap(), "my_table");
        for bad in [
            "",
            "a-b",
            "x;DROP TABLE y",
            "sqlite_x",
            &"a".repeat(64),
            "tâche",
        ] {
            assert_eq!(refused("E", Some(bad)).0, bad);
        }
    }
}
