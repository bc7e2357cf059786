//! The SQL text of `ManifestEntity::SQLITE` and `ManifestEntity::POSTGRES`, worked out here
//! once so that no call at run time formats a statement.
//!
//! Every name is double-quoted (and checked in `check.rs` to need no escaping). Every
//! statement filters by the tenant first, then the id.

use proc_macro2::TokenStream;
use quote::quote;

use super::Model;
use crate::check::Kind;

/// A placeholder style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `?`
    Sqlite,
    /// `$1`, `$2`, ... in order of appearance.
    Postgres,
}

/// The nine statements of one dialect, as text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Statements {
    pub insert: String,
    pub select_by_id: String,
    pub select_all: String,
    pub select_all_unordered: String,
    pub select_page: String,
    pub update: String,
    pub select_version: String,
    pub delete: String,
    pub clear: String,
}

/// The column names the statements need.
struct Names {
    table: String,
    /// Every stored column, quoted, in field order.
    columns: Vec<String>,
    tenant: String,
    id: String,
    version: Option<String>,
    data: Vec<String>,
}

fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

impl Names {
    fn new(model: &Model) -> Self {
        let column = |kind| {
            model
                .key(kind)
                .map(|f| quoted(&f.column))
                .unwrap_or_default()
        };
        Names {
            table: quoted(&model.table),
            columns: model.stored().map(|(f, _)| quoted(&f.column)).collect(),
            tenant: column(Kind::Tenant),
            id: column(Kind::Id),
            version: model.version().map(|f| quoted(&f.column)),
            data: model.data().map(|f| quoted(&f.column)).collect(),
        }
    }
}

/// Numbers placeholders for one statement.
struct Params {
    dialect: Dialect,
    next: usize,
}

impl Params {
    fn new(dialect: Dialect) -> Self {
        Params { dialect, next: 1 }
    }

    fn next(&mut self) -> String {
        match self.dialect {
            Dialect::Sqlite => "?".to_owned(),
            Dialect::Postgres => {
                let p = format!("${}", self.next);
                self.next += 1;
                p
            }
        }
    }
}

/// The statements of `model` in `dialect`.
pub(crate) fn statements(model: &Model, dialect: Dialect) -> Statements {
    let n = Names::new(model);
    let table = &n.table;
    let cols = n.columns.join(", ");
    // `WHERE <tenant> = ? AND <id> = ?`, numbered from `p`.
    let by_key = |p: &mut Params| {
        format!(
            "WHERE {} = {} AND {} = {}",
            n.tenant,
            p.next(),
            n.id,
            p.next()
        )
    };

    let mut p = Params::new(dialect);
    let values: Vec<String> = n.columns.iter().map(|_| p.next()).collect();
    let insert = format!(
        "INSERT INTO {table} ({cols}) VALUES ({}) RETURNING {cols}",
        values.join(", ")
    );

    let select_by_id = format!(
        "SELECT {cols} FROM {table} {}",
        by_key(&mut Params::new(dialect))
    );
    let select_all_unordered = format!(
        "SELECT {cols} FROM {table} WHERE {} = {}",
        n.tenant,
        Params::new(dialect).next()
    );
    let select_all = format!("{select_all_unordered} ORDER BY {}", n.id);
    let mut p = Params::new(dialect);
    let select_page = format!(
        "SELECT {cols} FROM {table} WHERE {} = {} AND {} > {} ORDER BY {} LIMIT {}",
        n.tenant,
        p.next(),
        n.id,
        p.next(),
        n.id,
        p.next()
    );

    let mut p = Params::new(dialect);
    let mut set: Vec<String> = n
        .data
        .iter()
        .map(|c| {
            format!(
                "{c} = CASE WHEN {} THEN {} ELSE {c} END",
                p.next(),
                p.next()
            )
        })
        .collect();
    if let Some(v) = &n.version {
        set.push(format!("{v} = {v} + 1"));
    }
    if set.is_empty() {
        // SQL wants a SET item: a no-op one still finds the row and returns it.
        set.push(format!("{id} = {id}", id = n.id));
    }
    let mut update = format!("UPDATE {table} SET {} {}", set.join(", "), by_key(&mut p));
    if let Some(v) = &n.version {
        update.push_str(&format!(" AND {v} = {}", p.next()));
    }
    update.push_str(&format!(" RETURNING {cols}"));

    let select_version = match &n.version {
        Some(v) => format!(
            "SELECT CAST({v} AS BIGINT) FROM {table} {}",
            by_key(&mut Params::new(dialect))
        ),
        None => String::new(),
    };
    let delete = format!("DELETE FROM {table} {}", by_key(&mut Params::new(dialect)));
    let clear = format!(
        "DELETE FROM {table} WHERE {} = {}",
        n.tenant,
        Params::new(dialect).next()
    );

    Statements {
        insert,
        select_by_id,
        select_all,
        select_all_unordered,
        select_page,
        update,
        select_version,
        delete,
        clear,
    }
}

/// `_manifest::__private::Statements { ... }` for `dialect`.
pub(crate) fn generate(model: &Model, dialect: Dialect) -> TokenStream {
    let Statements {
        insert,
        select_by_id,
        select_all,
        select_all_unordered,
        select_page,
        update,
        select_version,
        delete,
        clear,
    } = statements(model, dialect);
    quote! {
        _manifest::__private::Statements {
            insert: #insert,
            select_by_id: #select_by_id,
            select_all: #select_all,
            select_all_unordered: #select_all_unordered,
            select_page: #select_page,
            update: #update,
            select_version: #select_version,
            delete: #delete,
            clear: #clear,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Dialect, statements};
    use crate::ast::Container;
    use crate::check;
    use crate::ctxt::Ctxt;
    use crate::expand::Model;
    use syn::DeriveInput;

    /// The statements of `input` in both dialects.
    fn sql(input: DeriveInput) -> (super::Statements, super::Statements) {
        let cx = Ctxt::new();
        let cont = Container::from_ast(&cx, &input);
        let kinds = cont.as_ref().map(|c| check::check(&cx, c));
        if let Err(err) = cx.check() {
            panic!("unexpected error: {err}");
        }
        let (Some(cont), Some(kinds)) = (cont, kinds) else {
            panic!("no container");
        };
        let model = Model::new(&cont, kinds);
        (
            statements(&model, Dialect::Sqlite),
            statements(&model, Dialect::Postgres),
        )
    }

    const COLS: &str = r#""id", "tenant_id", "name", "notes", "version""#;

    #[test]
    fn versioned_recipe() {
        let (lite, pg) = sql(syn::parse_quote! {
            #[manifest(table = "recipes")]
            pub struct Recipe {
                pub id: String,
                pub tenant_id: String,
                pub name: String,
                pub notes: Option<String>,
                #[manifest(version)]
                pub version: i64,
                #[manifest(skip)]
                pub cache: Vec<u8>,
            }
        });
        assert_eq!(
            lite.insert,
            format!(r#"INSERT INTO "recipes" ({COLS}) VALUES (?, ?, ?, ?, ?) RETURNING {COLS}"#)
        );
        assert_eq!(
            lite.select_by_id,
            format!(r#"SELECT {COLS} FROM "recipes" WHERE "tenant_id" = ? AND "id" = ?"#)
        );
        assert_eq!(
            lite.select_all,
            format!(r#"SELECT {COLS} FROM "recipes" WHERE "tenant_id" = ? ORDER BY "id""#)
        );
        assert_eq!(
            lite.select_all_unordered,
            format!(r#"SELECT {COLS} FROM "recipes" WHERE "tenant_id" = ?"#)
        );
        assert_eq!(
            lite.select_page,
            format!(
                r#"SELECT {COLS} FROM "recipes" WHERE "tenant_id" = ? AND "id" > ? ORDER BY "id" LIMIT ?"#
            )
        );
        assert_eq!(
            lite.update,
            format!(
                r#"UPDATE "recipes" SET "name" = CASE WHEN ? THEN ? ELSE "name" END, "notes" = CASE WHEN ? THEN ? ELSE "notes" END, "version" = "version" + 1 WHERE "tenant_id" = ? AND "id" = ? AND "version" = ? RETURNING {COLS}"#
            )
        );
        assert_eq!(
            lite.select_version,
            r#"SELECT CAST("version" AS BIGINT) FROM "recipes" WHERE "tenant_id" = ? AND "id" = ?"#
        );
        assert_eq!(
            lite.delete,
            r#"DELETE FROM "recipes" WHERE "tenant_id" = ? AND "id" = ?"#
        );
        assert_eq!(lite.clear, r#"DELETE FROM "recipes" WHERE "tenant_id" = ?"#);

        assert_eq!(
            pg.insert,
            format!(
                r#"INSERT INTO "recipes" ({COLS}) VALUES ($1, $2, $3, $4, $5) RETURNING {COLS}"#
            )
        );
        assert_eq!(
            pg.select_by_id,
            format!(r#"SELECT {COLS} FROM "recipes" WHERE "tenant_id" = $1 AND "id" = $2"#)
        );
        assert_eq!(
            pg.select_all,
            format!(r#"SELECT {COLS} FROM "recipes" WHERE "tenant_id" = $1 ORDER BY "id""#)
        );
        assert_eq!(
            pg.select_all_unordered,
            format!(r#"SELECT {COLS} FROM "recipes" WHERE "tenant_id" = $1"#)
        );
        assert_eq!(
            pg.select_page,
            format!(
                r#"SELECT {COLS} FROM "recipes" WHERE "tenant_id" = $1 AND "id" > $2 ORDER BY "id" LIMIT $3"#
            )
        );
        assert_eq!(
            pg.update,
            format!(
                r#"UPDATE "recipes" SET "name" = CASE WHEN $1 THEN $2 ELSE "name" END, "notes" = CASE WHEN $3 THEN $4 ELSE "notes" END, "version" = "version" + 1 WHERE "tenant_id" = $5 AND "id" = $6 AND "version" = $7 RETURNING {COLS}"#
            )
        );
        assert_eq!(
            pg.select_version,
            r#"SELECT CAST("version" AS BIGINT) FROM "recipes" WHERE "tenant_id" = $1 AND "id" = $2"#
        );
        assert_eq!(
            pg.delete,
            r#"DELETE FROM "recipes" WHERE "tenant_id" = $1 AND "id" = $2"#
        );
        assert_eq!(pg.clear, r#"DELETE FROM "recipes" WHERE "tenant_id" = $1"#);
    }

    #[test]
    fn unversioned_with_renames() {
        let (lite, pg) = sql(syn::parse_quote! {
            #[manifest(rename_all = "camelCase")]
            struct RecipeStep {
                #[manifest(id)]
                step_id: uuid::Uuid,
                #[manifest(tenant, column = "org")]
                org_id: uuid::Uuid,
                r#type: String,
                sort_order: i32,
            }
        });
        let cols = r#""stepId", "org", "type", "sortOrder""#;
        assert_eq!(
            lite.update,
            format!(
                r#"UPDATE "recipe_step" SET "type" = CASE WHEN ? THEN ? ELSE "type" END, "sortOrder" = CASE WHEN ? THEN ? ELSE "sortOrder" END WHERE "org" = ? AND "stepId" = ? RETURNING {cols}"#
            )
        );
        assert_eq!(
            pg.update,
            format!(
                r#"UPDATE "recipe_step" SET "type" = CASE WHEN $1 THEN $2 ELSE "type" END, "sortOrder" = CASE WHEN $3 THEN $4 ELSE "sortOrder" END WHERE "org" = $5 AND "stepId" = $6 RETURNING {cols}"#
            )
        );
        assert_eq!(
            pg.select_all,
            format!(r#"SELECT {cols} FROM "recipe_step" WHERE "org" = $1 ORDER BY "stepId""#)
        );
        assert_eq!(lite.select_version, "");
        assert_eq!(pg.select_version, "");
    }

    #[test]
    fn keys_only() {
        let (lite, pg) = sql(syn::parse_quote! {
            struct Tag {
                id: String,
                tenant_id: String,
            }
        });
        assert_eq!(
            lite.update,
            r#"UPDATE "tag" SET "id" = "id" WHERE "tenant_id" = ? AND "id" = ? RETURNING "id", "tenant_id""#
        );
        assert_eq!(
            pg.update,
            r#"UPDATE "tag" SET "id" = "id" WHERE "tenant_id" = $1 AND "id" = $2 RETURNING "id", "tenant_id""#
        );
        assert_eq!(
            pg.insert,
            r#"INSERT INTO "tag" ("id", "tenant_id") VALUES ($1, $2) RETURNING "id", "tenant_id""#
        );
    }

    #[test]
    fn keys_and_version_only() {
        let (lite, _) = sql(syn::parse_quote! {
            struct Counter {
                id: String,
                tenant_id: String,
                #[manifest(version)]
                rev: i32,
            }
        });
        assert_eq!(
            lite.update,
            r#"UPDATE "counter" SET "rev" = "rev" + 1 WHERE "tenant_id" = ? AND "id" = ? AND "rev" = ? RETURNING "id", "tenant_id", "rev""#
        );
    }
}
