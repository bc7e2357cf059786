//! Checking a typed store's columns against an IR entity's properties, so a
//! `#[derive(ManifestEntity)]` struct bound through the store provider is known to fit the
//! entity before any command runs.

use manifest_core::{Column, ColumnRole};

use super::ir::{IrEntity, IrType};

/// Every way `columns` (a derived struct's mapping) does not fit `entity`, one line each,
/// naming the property or field. Empty when they fit.
///
/// The rules: every IR property (and the entity's version property) has a field whose Rust
/// name or column name is the property's name, of a type that holds the property's values as the runtime writes them (see
/// [`compatible`]); a nullable property needs an `Option` field; every stored field other than
/// the id and the tenant is a property of the entity.
pub fn mismatches(entity: &IrEntity, struct_name: &str, columns: &[Column]) -> Vec<String> {
    let mut out = Vec::new();
    let field = |name: &str| columns.iter().find(|c| names(c).contains(&name));
    for prop in &entity.properties {
        if prop.name == "id" {
            continue;
        }
        match field(&prop.name) {
            None => out.push(format!(
                "{}.{}: the property has no field in `{struct_name}`",
                entity.name, prop.name
            )),
            Some(column) => {
                if !compatible(&prop.ty, column) {
                    out.push(format!(
                        "{}.{}: IR type `{}` cannot be stored in field `{}` ({} column)",
                        entity.name,
                        prop.name,
                        type_text(&prop.ty),
                        column.field,
                        column.postgres_type
                    ));
                }
                if prop.ty.nullable && !column.nullable {
                    out.push(format!(
                        "{}.{}: the property is nullable but field `{}` is not an `Option`",
                        entity.name, prop.name, column.field
                    ));
                }
            }
        }
    }
    if let Some(version) = &entity.version_property {
        match field(version) {
            Some(c) if c.role == ColumnRole::Version || c.postgres_type.contains("INT") => {}
            Some(c) => out.push(format!(
                "{}.{version}: the version property needs an integer field, `{}` is {}",
                entity.name, c.field, c.postgres_type
            )),
            None => out.push(format!(
                "{}.{version}: the version property has no field in `{struct_name}`",
                entity.name
            )),
        }
    }
    for column in columns {
        let known = names(column).iter().any(|&n| {
            entity.properties.iter().any(|p| p.name == n)
                || entity.version_property.as_deref() == Some(n)
                || entity.version_at_property.as_deref() == Some(n)
                || (entity.timestamps && matches!(n, "createdAt" | "updatedAt"))
        });
        // The id, the tenant and a version the typed store checks and bumps on its own (its
        // `update_if` compares it, which keeps concurrent commands apart) are the store's.
        if !known
            && !matches!(
                column.role,
                ColumnRole::Id | ColumnRole::Tenant | ColumnRole::Version
            )
        {
            out.push(format!(
                "{}: field `{}` of `{struct_name}` is not a property of the entity",
                entity.name, column.field
            ));
        }
    }
    out
}

/// The names a property may have to match a column: its Rust field name, or its column name
/// (so `#[manifest(rename_all = "camelCase")]` with serde's matching `rename_all` maps
/// `created_at` to the property `createdAt`).
fn names(column: &Column) -> [&'static str; 2] {
    [column.field, column.name]
}

/// Whether a column can hold the values the runtime writes for a property of type `ty`.
///
/// The runtime's values are JSON: `string`, `date` and `time` are strings; `number`,
/// `duration` and `datetime` (epoch milliseconds) are numbers; `boolean` is a boolean; arrays
/// and maps are JSON. A JSON field holds anything.
pub fn compatible(ty: &IrType, column: &Column) -> bool {
    let sql = column.postgres_type;
    if sql == "JSONB" {
        return true;
    }
    match ty.name.as_str() {
        "string" | "date" | "time" => matches!(sql, "TEXT" | "UUID"),
        "number" | "duration" | "datetime" | "int" | "decimal" | "money" => matches!(
            sql,
            "SMALLINT" | "INTEGER" | "BIGINT" | "REAL" | "DOUBLE PRECISION"
        ),
        "boolean" => sql == "BOOLEAN",
        _ => false,
    }
}

fn type_text(ty: &IrType) -> String {
    match &ty.generic {
        Some(inner) => format!("{}<{}>", ty.name, type_text(inner)),
        None => ty.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Ir;
    use manifest_core::ColumnRole;

    fn entity() -> IrEntity {
        let ir = Ir::from_json(serde_json::json!({
            "version": "1.0",
            "entities": [{
                "name": "Recipe",
                "properties": [
                    {"name": "title", "type": {"name": "string"}},
                    {"name": "servings", "type": {"name": "number"}},
                    {"name": "notes", "type": {"name": "string", "nullable": true}},
                    {"name": "createdAt", "type": {"name": "datetime"}}
                ],
                "versionProperty": "version"
            }]
        }))
        .unwrap();
        ir.entities[0].clone()
    }

    fn col(
        field: &'static str,
        name: &'static str,
        pg: &'static str,
        nullable: bool,
        role: ColumnRole,
    ) -> Column {
        Column {
            name,
            field,
            role,
            sqlite_type: "",
            postgres_type: pg,
            nullable,
        }
    }

    #[test]
    fn a_fitting_struct_has_no_mismatches() {
        let columns = [
            col("id", "id", "TEXT", false, ColumnRole::Id),
            col("tenant_id", "tenant_id", "TEXT", false, ColumnRole::Tenant),
            col("title", "title", "TEXT", false, ColumnRole::Data),
            col("servings", "servings", "INTEGER", false, ColumnRole::Data),
            col("notes", "notes", "TEXT", true, ColumnRole::Data),
            col("created_at", "createdAt", "BIGINT", false, ColumnRole::Data),
            col("version", "version", "BIGINT", false, ColumnRole::Version),
        ];
        assert_eq!(
            mismatches(&entity(), "Recipe", &columns),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_mismatch_is_named() {
        let columns = [
            col("id", "id", "TEXT", false, ColumnRole::Id),
            col("tenant_id", "tenant_id", "TEXT", false, ColumnRole::Tenant),
            col("servings", "servings", "TEXT", false, ColumnRole::Data),
            col("notes", "notes", "TEXT", false, ColumnRole::Data),
            col(
                "created_at",
                "created_at",
                "TIMESTAMPTZ",
                false,
                ColumnRole::Data,
            ),
            col("calories", "calories", "INTEGER", false, ColumnRole::Data),
        ];
        let found = mismatches(&entity(), "RecipeRow", &columns);
        assert_eq!(
            found,
            [
                "Recipe.title: the property has no field in `RecipeRow`",
                "Recipe.servings: IR type `number` cannot be stored in field `servings` (TEXT column)",
                "Recipe.notes: the property is nullable but field `notes` is not an `Option`",
                "Recipe.createdAt: the property has no field in `RecipeRow`",
                "Recipe.version: the version property has no field in `RecipeRow`",
                "Recipe: field `created_at` of `RecipeRow` is not a property of the entity",
                "Recipe: field `calories` of `RecipeRow` is not a property of the entity",
            ]
        );
    }
}
