//! Checks that need more than one key or more than one field, and the resolution of which
//! field is the id, the tenant and the version (serde's `internals/check.rs`).

use manifest_naming::{EntityNameError, MAX_NAME_BYTES, NameError, NameKind};
use proc_macro2::Span;
use syn::ext::IdentExt;

use crate::ast::{Container, Field};
use crate::attr::Role;
use crate::ctxt::Ctxt;

/// What a field is, once defaults are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Id,
    Tenant,
    Version,
    /// Any other stored field.
    Data,
    /// `#[manifest(skip)]`: not stored.
    Skip,
}

impl Kind {
    fn of(role: Role) -> Self {
        match role {
            Role::Id => Kind::Id,
            Role::Tenant => Kind::Tenant,
            Role::Version => Kind::Version,
        }
    }
}

/// Check `cont` and return each field's [`Kind`] (in field order). The result is only
/// meaningful when no error was recorded.
pub(crate) fn check(cx: &Ctxt, cont: &Container) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = cont.fields.iter().map(|f| field_kind(cx, f)).collect();
    one_of_each(cx, cont, &kinds);
    default_key(cx, cont, &mut kinds, Kind::Id, "id", "id");
    default_key(cx, cont, &mut kinds, Kind::Tenant, "tenant_id", "tenant");
    default_names(cx, cont, &kinds);
    distinct_columns(cx, cont, &kinds);
    kinds
}

/// A field's own keys: `skip` excludes the others, and a field has at most one role.
fn field_kind(cx: &Ctxt, field: &Field) -> Kind {
    let attrs = &field.attrs;
    if let Some((first, _)) = attrs.roles.first() {
        for (role, span) in &attrs.roles[1..] {
            cx.error_at(
                *span,
                format!(
                    "`{}` conflicts with `{}` on the same field\nhelp: a field can have only \
                     one of `id`, `tenant` and `version`",
                    role.key(),
                    first.key()
                ),
            );
        }
    }
    if let Some(skip) = attrs.skip {
        for (role, _) in &attrs.roles {
            cx.error_at(skip, format!("the {} field cannot be skipped", role.key()));
        }
        if let Some(column) = &attrs.column {
            cx.error_spanned_by(
                column,
                "a skipped field has no column\nhelp: remove `column` or `skip`",
            );
        }
        return Kind::Skip;
    }
    attrs
        .roles
        .first()
        .map_or(Kind::Data, |(role, _)| Kind::of(*role))
}

/// At most one field marked `id`, `tenant` or `version`; the error is on the second one.
fn one_of_each(cx: &Ctxt, cont: &Container, kinds: &[Kind]) {
    for (kind, key, rule) in [
        (Kind::Id, "id", "exactly one"),
        (Kind::Tenant, "tenant", "exactly one"),
        (Kind::Version, "version", "at most one"),
    ] {
        let mut marked = cont.fields.iter().zip(kinds).filter(|(_, k)| **k == kind);
        let Some((first, _)) = marked.next() else {
            continue;
        };
        for (field, _) in marked {
            cx.error_spanned_by(
                field.member,
                format!(
                    "duplicate {key} field: `{}` is already marked `#[manifest({key})]`\n\
                     help: an entity has {rule} {key} field",
                    first.name
                ),
            );
        }
    }
}

/// With no field marked `key`, the field named `name` takes the role; without one, it is an
/// error (an entity always has an id and a tenant).
fn default_key(cx: &Ctxt, cont: &Container, kinds: &mut [Kind], kind: Kind, name: &str, key: &str) {
    if kinds.contains(&kind) {
        return;
    }
    let by_name = cont.fields.iter().position(|f| f.name == name);
    match by_name.map(|i| (i, kinds[i], &cont.fields[i])) {
        Some((i, Kind::Data, _)) => kinds[i] = kind,
        Some((_, Kind::Skip, field)) => {
            let span = field.attrs.skip.unwrap_or_else(|| field.member.span());
            cx.error_at(span, format!("the {key} field cannot be skipped"));
        }
        // The field named `id` is marked as something else: there is no id.
        _ => cx.error_spanned_by(
            cont.ident,
            format!("no {key} field: name a field `{name}` or mark one with `#[manifest({key})]`"),
        ),
    }
}

/// Names worked out from the struct and field names must be valid SQL names too, and the
/// struct name must be the one spelling of its default table name (`manifest_naming`'s rule).
fn default_names(cx: &Ctxt, cont: &Container, kinds: &[Kind]) {
    if cont.attrs.table.is_none() {
        let name = cont.ident.unraw().to_string();
        if let Err(err) = manifest_naming::default_table_name(&name) {
            cx.error_spanned_by(cont.ident, default_table_message(&name, &err));
        }
    }
    for (field, kind) in cont.fields.iter().zip(kinds) {
        if *kind == Kind::Skip || field.attrs.column.is_some() {
            continue;
        }
        if let Err(msg) = sql_name("column", &field.column) {
            cx.error_spanned_by(
                field.member,
                format!("{msg}\nhelp: the column name comes from the field name; set one with `#[manifest(column = \"...\")]`"),
            );
        }
    }
}

/// No two stored fields in one column. SQLite compares names without case, so neither may
/// two names that differ only in case. The error is on the second field.
fn distinct_columns(cx: &Ctxt, cont: &Container, kinds: &[Kind]) {
    let stored: Vec<&Field> = cont
        .fields
        .iter()
        .zip(kinds)
        .filter(|(_, k)| **k != Kind::Skip)
        .map(|(f, _)| f)
        .collect();
    for (i, field) in stored.iter().enumerate() {
        let Some(first) = stored[..i]
            .iter()
            .find(|f| f.column.eq_ignore_ascii_case(&field.column))
        else {
            continue;
        };
        let span: Span = match &field.attrs.column {
            Some(lit) => lit.span(),
            None => field.member.span(),
        };
        let already = if first.column == field.column {
            "it".to_owned()
        } else {
            format!(
                "`{}`, and SQL compares column names without case",
                first.column
            )
        };
        cx.error_at(
            span,
            format!(
                "duplicate column `{}`: field `{}` is already stored in {already}\nhelp: give one \
                 of them another name with `#[manifest(column = \"...\")]`",
                field.column, first.name
            ),
        );
    }
}

/// The table name: `table = "..."`, or the struct name in snake_case (checked by
/// `default_names`).
pub(crate) fn default_table(cont: &Container) -> String {
    match &cont.attrs.table {
        Some(lit) => lit.value(),
        None => manifest_naming::to_snake_case(&cont.ident.unraw().to_string()),
    }
}

/// The message for a struct name that gives no default table name.
fn default_table_message(name: &str, err: &EntityNameError) -> String {
    let table = manifest_naming::to_snake_case(name);
    match err {
        EntityNameError::NotCanonical {
            canonical: Some(canonical),
        } => format!(
            "the default table name `{table}` belongs to the struct name `{canonical}`, not \
             `{name}`: a default table name comes only from the PascalCase spelling (acronyms \
             as words), so that no two entities share a table\nhelp: rename the struct \
             `{canonical}`, or set the table with `#[manifest(table = \"{table}\")]`"
        ),
        EntityNameError::NotCanonical { canonical: None } => format!(
            "struct name `{name}` gives no default table name: only a name in PascalCase of \
             ASCII letters and digits does\nhelp: set the table with \
             `#[manifest(table = \"...\")]`"
        ),
        EntityNameError::Table(err) => format!(
            "{}\nhelp: the table name comes from the struct name; set one with \
             `#[manifest(table = \"...\")]`",
            sql_name_message("table", &table, err)
        ),
    }
}

/// Whether `name` can be a table or column name (`kind`) as written, without quoting rules
/// of its own (`manifest_naming::check_sql_name`). The error is the message to show.
pub(crate) fn sql_name(kind: &str, name: &str) -> Result<(), String> {
    let name_kind = if kind == "table" {
        NameKind::Table
    } else {
        NameKind::Column
    };
    manifest_naming::check_sql_name(name_kind, name)
        .map_err(|err| sql_name_message(kind, name, &err))
}

/// The message for a `kind` name that cannot be a SQL name.
fn sql_name_message(kind: &str, name: &str, err: &NameError) -> String {
    match err {
        NameError::Empty => format!(
            "the {kind} name cannot be empty\nhelp: a {kind} name is ASCII letters, digits and \
             underscores, not starting with a digit"
        ),
        NameError::Syntax => format!(
            "invalid {kind} name `{name}`\nhelp: a {kind} name is ASCII letters, digits and \
             underscores (`[A-Za-z_][A-Za-z0-9_]*`), not starting with a digit"
        ),
        NameError::TooLong { bytes } => format!(
            "{kind} name `{name}` is {bytes} bytes long\nhelp: PostgreSQL allows at most \
             {MAX_NAME_BYTES} bytes"
        ),
        NameError::SqliteReserved => format!(
            "table name `{name}` is reserved by SQLite\nhelp: SQLite reserves the names that \
             start with `sqlite_`; choose another table name"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::sql_name;

    #[test]
    fn valid_names() {
        for name in ["recipes", "_x", "A1_b2", "t", &"a".repeat(63), "sqlite"] {
            assert_eq!(sql_name("table", name), Ok(()), "{name}");
        }
        assert_eq!(sql_name("column", "sqlite_x"), Ok(()));
    }

    #[test]
    fn invalid_names() {
        let cases = [
            ("", "the table name cannot be empty"),
            ("1abc", "invalid table name `1abc`"),
            (
                "recipes; DROP TABLE x",
                "invalid table name `recipes; DROP TABLE x`",
            ),
            ("a-b", "invalid table name `a-b`"),
            ("a b", "invalid table name `a b`"),
            ("\"quoted\"", "invalid table name `\"quoted\"`"),
            ("café", "invalid table name `café`"),
            (
                "sqlite_master",
                "table name `sqlite_master` is reserved by SQLite",
            ),
            (
                "SQLite_Stat1",
                "table name `SQLite_Stat1` is reserved by SQLite",
            ),
        ];
        for (name, message) in cases {
            let err = sql_name("table", name).expect_err(name);
            assert!(err.starts_with(message), "{name}: {err}");
            assert!(err.contains("\nhelp: "), "{name}: {err}");
        }
        let long = "a".repeat(64);
        let err = sql_name("column", &long).expect_err("64 bytes");
        assert!(err.starts_with(&format!("column name `{long}` is 64 bytes long")));
    }
}
