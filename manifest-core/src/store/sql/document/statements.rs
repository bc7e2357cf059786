//! The statements of the document tables: each backend's templates ([`DocumentDialect`]), one
//! entity's statements built from them once ([`DocumentSql`]) and the cache of those per
//! [`SqlDb`](super::super::SqlDb) ([`DocumentCache`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use super::Backend;
use super::names::table_name;
use crate::error::{Error, Result};

/// One backend's document statements, `{table}` standing for the quoted table name.
/// Parameters: `1` tenant, `2` id, `3` the data or patch as JSON text, and for a dialect that
/// `removes_keys`, `4` the patch's keys mapped to `null`; `update_if` binds the expected data
/// as JSON text after them (`4` on PostgreSQL, `5` on SQLite).
#[doc(hidden)]
#[derive(Debug)]
pub struct DocumentDialect {
    create_table: &'static str,
    insert: &'static str,
    select_by_id: &'static str,
    select_all: &'static str,
    select_all_unordered: &'static str,
    select_page: &'static str,
    update: &'static str,
    update_if: &'static str,
    delete: &'static str,
    clear: &'static str,
    /// `{field}` stands for the field name (checked by [`check_field_name`]).
    find_by: &'static str,
    /// `{index}` stands for the quoted index name, `{field}` for the field name. The index is
    /// `(tenant_id, <field>, id)`: tenant first, and the matching rows come out of it in id
    /// order, so the planner picks it over the primary key for `find_by`'s `ORDER BY "id"`
    /// (without the trailing `id`, SQLite's planner scans the tenant's rows by primary key).
    create_index: &'static str,
    removes_keys: bool,
    /// Whether `find_by` binds the value as JSON (PostgreSQL, JSONB equality) rather than as
    /// the SQL value `json_extract` gives (SQLite).
    finds_json: bool,
}

/// SQLite. `json_patch` cannot do the update alone: it deletes the keys whose patch value is
/// null and merges nested objects key by key. Here it only removes the patched keys (a patch of
/// nulls), and the patch's own text is spliced in after them, so every value, the patch's and
/// the untouched ones, is copied as JSON text: no number goes through a SQL REAL (which
/// SQLite's JSON functions print with 15 digits).
///
/// `update_if` is the same statement with one more condition: the stored text is the expected
/// text, or else (the merge appends patched keys, so stored keys need not be in the sorted
/// order serde_json writes) both objects have the same number of keys and every expected key
/// is stored with the same JSON type and value. Nested objects and arrays compare as JSON text
/// (this crate writes their keys sorted); strings, integers and booleans compare exactly;
/// floats compare as the doubles SQLite reads, which are the same for the same text.
#[cfg(feature = "sqlite")]
pub(crate) const SQLITE: DocumentDialect = DocumentDialect {
    create_table: r#"CREATE TABLE IF NOT EXISTS {table} ("tenant_id" TEXT NOT NULL, "id" TEXT NOT NULL, "data" TEXT NOT NULL CHECK (json_type("data") = 'object'), PRIMARY KEY ("tenant_id", "id")) STRICT"#,
    insert: r#"INSERT INTO {table} ("tenant_id", "id", "data") VALUES (?1, ?2, ?3) RETURNING "id", "data""#,
    select_by_id: r#"SELECT "id", "data" FROM {table} WHERE "tenant_id" = ?1 AND "id" = ?2"#,
    select_all: r#"SELECT "id", "data" FROM {table} WHERE "tenant_id" = ?1 ORDER BY "id""#,
    select_all_unordered: r#"SELECT "id", "data" FROM {table} WHERE "tenant_id" = ?1"#,
    select_page: r#"SELECT "id", "data" FROM {table} WHERE "tenant_id" = ?1 AND "id" > ?2 ORDER BY "id" LIMIT ?3"#,
    update: r#"UPDATE {table} SET "data" = (SELECT CASE "rest" WHEN '{}' THEN ?3 ELSE substr("rest", 1, length("rest") - 1) || ',' || substr(?3, 2) END FROM (SELECT json_patch("data", ?4) AS "rest")) WHERE "tenant_id" = ?1 AND "id" = ?2 RETURNING "id", "data""#,
    update_if: r#"UPDATE {table} SET "data" = (SELECT CASE "rest" WHEN '{}' THEN ?3 ELSE substr("rest", 1, length("rest") - 1) || ',' || substr(?3, 2) END FROM (SELECT json_patch("data", ?4) AS "rest")) WHERE "tenant_id" = ?1 AND "id" = ?2 AND ({table}."data" = ?5 OR ((SELECT count(*) FROM json_each({table}."data")) = (SELECT count(*) FROM json_each(?5)) AND NOT EXISTS (SELECT 1 FROM json_each(?5) AS "e" WHERE NOT EXISTS (SELECT 1 FROM json_each({table}."data") AS "d" WHERE "d"."key" = "e"."key" AND "d"."type" = "e"."type" AND "d"."value" IS "e"."value")))) RETURNING "id", "data""#,
    delete: r#"DELETE FROM {table} WHERE "tenant_id" = ?1 AND "id" = ?2"#,
    clear: r#"DELETE FROM {table} WHERE "tenant_id" = ?1"#,
    find_by: r#"SELECT "id", "data" FROM {table} WHERE "tenant_id" = ?1 AND json_extract("data", '$."{field}"') = ?2 ORDER BY "id""#,
    create_index: r#"CREATE INDEX IF NOT EXISTS {index} ON {table} ("tenant_id", json_extract("data", '$."{field}"'), "id")"#,
    removes_keys: true,
    finds_json: false,
};

/// PostgreSQL. `jsonb || jsonb` is exactly the update: top-level keys of the right side replace
/// the left side's, nulls included, nested values whole. Ids sort bytewise (`COLLATE "C"`), as
/// on SQLite and in memory, whatever the database's collation. `update_if` adds
/// `"data" = $4::jsonb`: JSONB equality is semantic (key order and number spelling aside).
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: DocumentDialect = DocumentDialect {
    create_table: r#"CREATE TABLE IF NOT EXISTS {table} ("tenant_id" TEXT NOT NULL, "id" TEXT COLLATE "C" NOT NULL, "data" JSONB NOT NULL CHECK (jsonb_typeof("data") = 'object'), PRIMARY KEY ("tenant_id", "id"))"#,
    insert: r#"INSERT INTO {table} ("tenant_id", "id", "data") VALUES ($1, $2, $3::jsonb) RETURNING "id", "data"::text"#,
    select_by_id: r#"SELECT "id", "data"::text FROM {table} WHERE "tenant_id" = $1 AND "id" = $2"#,
    select_all: r#"SELECT "id", "data"::text FROM {table} WHERE "tenant_id" = $1 ORDER BY "id""#,
    select_all_unordered: r#"SELECT "id", "data"::text FROM {table} WHERE "tenant_id" = $1"#,
    select_page: r#"SELECT "id", "data"::text FROM {table} WHERE "tenant_id" = $1 AND "id" > $2 ORDER BY "id" LIMIT $3"#,
    update: r#"UPDATE {table} SET "data" = "data" || $3::jsonb WHERE "tenant_id" = $1 AND "id" = $2 RETURNING "id", "data"::text"#,
    update_if: r#"UPDATE {table} SET "data" = "data" || $3::jsonb WHERE "tenant_id" = $1 AND "id" = $2 AND "data" = $4::jsonb RETURNING "id", "data"::text"#,
    delete: r#"DELETE FROM {table} WHERE "tenant_id" = $1 AND "id" = $2"#,
    clear: r#"DELETE FROM {table} WHERE "tenant_id" = $1"#,
    find_by: r#"SELECT "id", "data"::text FROM {table} WHERE "tenant_id" = $1 AND ("data" -> '{field}') = $2 ORDER BY "id""#,
    create_index: r#"CREATE INDEX IF NOT EXISTS {index} ON {table} ("tenant_id", ("data" -> '{field}'), "id")"#,
    removes_keys: false,
    finds_json: true,
};

/// One entity's table and statements, built once and shared by its stores.
#[derive(Debug)]
pub(crate) struct DocumentSql {
    pub(crate) entity: String,
    pub(crate) table: String,
    pub(crate) create_table: String,
    pub(crate) insert: String,
    pub(crate) select_by_id: String,
    pub(crate) select_all: String,
    pub(crate) select_all_unordered: String,
    pub(crate) select_page: String,
    pub(crate) update: String,
    pub(crate) update_if: String,
    pub(crate) delete: String,
    pub(crate) clear: String,
    /// `find_by`'s statement per field, built on first use.
    pub(crate) finds: Mutex<HashMap<String, Arc<str>>>,
    pub(crate) find_by: &'static str,
    pub(crate) create_index: &'static str,
    pub(crate) removes_keys: bool,
    pub(crate) finds_json: bool,
}

impl DocumentSql {
    fn new(dialect: &DocumentDialect, entity: &str, table: &str) -> Self {
        let quoted = format!("\"{table}\"");
        let sql = |template: &str| template.replace("{table}", &quoted);
        DocumentSql {
            entity: entity.to_owned(),
            table: table.to_owned(),
            create_table: sql(dialect.create_table),
            insert: sql(dialect.insert),
            select_by_id: sql(dialect.select_by_id),
            select_all: sql(dialect.select_all),
            select_all_unordered: sql(dialect.select_all_unordered),
            select_page: sql(dialect.select_page),
            update: sql(dialect.update),
            update_if: sql(dialect.update_if),
            delete: sql(dialect.delete),
            clear: sql(dialect.clear),
            finds: Mutex::default(),
            find_by: dialect.find_by,
            create_index: dialect.create_index,
            removes_keys: dialect.removes_keys,
            finds_json: dialect.finds_json,
        }
    }

    /// The `find_by` statement for `field` ([`Error::InvalidName`] if it cannot be one).
    pub(crate) fn find_by(&self, field: &str) -> Result<Arc<str>> {
        let mut finds = self.finds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sql) = finds.get(field) {
            return Ok(sql.clone());
        }
        check_field_name(&self.entity, field)?;
        let sql: Arc<str> = self
            .find_by
            .replace("{table}", &format!("\"{}\"", self.table))
            .replace("{field}", field)
            .into();
        finds.insert(field.to_owned(), sql.clone());
        Ok(sql)
    }

    /// The statement creating the index `find_by` on `field` uses (tenant first).
    pub(crate) fn create_index(&self, field: &str) -> Result<String> {
        check_field_name(&self.entity, field)?;
        // Index names share one namespace per schema: the table's name, then the field's, and
        // a hash of both when that is longer than PostgreSQL's 63 bytes.
        let mut index = format!("{}__{}", self.table, field);
        if index.len() > 63 {
            let hash = index.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
            index.truncate(46);
            index.push_str(&format!("_{hash:016x}"));
        }
        Ok(self
            .create_index
            .replace("{index}", &format!("\"{index}\""))
            .replace("{table}", &format!("\"{}\"", self.table))
            .replace("{field}", field))
    }

    pub(crate) fn create_table(&self) -> &str {
        &self.create_table
    }

    pub(crate) fn entity(&self) -> &str {
        &self.entity
    }

    pub(crate) fn table(&self) -> &str {
        &self.table
    }
}

/// The statements of every document table a [`SqlDb`](super::SqlDb) has served, by entity.
#[derive(Clone, Default)]
pub(crate) struct DocumentCache(Arc<Mutex<HashMap<String, Arc<DocumentSql>>>>);

impl DocumentCache {
    /// The statements for `entity` in `table` (default: the entity name in snake_case, see
    /// [`table_name`]), built on first use; a refused table name is [`Error::InvalidName`].
    pub(crate) fn get<DB: Backend>(
        &self,
        entity: &str,
        table: Option<&str>,
    ) -> Result<Arc<DocumentSql>> {
        let table = table_name(entity, table)?;
        // Never poisoned in practice (nothing below panics), and a map of finished entries
        // stays consistent even if it were.
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sql) = cache.get(entity)
            && sql.table == table
        {
            return Ok(sql.clone());
        }
        let sql = Arc::new(DocumentSql::new(&DB::DOCUMENT, entity, &table));
        cache.insert(entity.to_owned(), sql.clone());
        Ok(sql)
    }
}

impl fmt::Debug for DocumentCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DocumentCache")
    }
}

/// A field `find_by` and `create_document_index` can name: it is spliced into the statement
/// (an index is only used for the very expression it was built on, so the field cannot be a
/// parameter), so it must be an identifier, `[A-Za-z_][A-Za-z0-9_]*`, of at most 63 bytes.
fn check_field_name(entity: &str, field: &str) -> Result<()> {
    let mut chars = field.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && field.len() <= 63;
    if ok {
        return Ok(());
    }
    Err(Error::InvalidName {
        entity: entity.to_owned(),
        name: field.to_owned(),
        reason: "a field looked up by find_by must be an ASCII identifier of at most 63 bytes"
            .to_owned(),
    })
}
