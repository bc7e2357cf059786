//! [`DocumentStore`]: entities that have no Rust struct, stored as JSON documents.
//!
//! One table per entity, rows `(tenant_id, id, data)` keyed by `(tenant_id, id)`; `data` is the
//! instance's fields as a JSON object (`JSONB` on PostgreSQL, JSON text in a `STRICT` SQLite
//! table). The table name comes from the entity name at run time, so it is validated, and the
//! statements of a table are built once per [`SqlDb`](super::SqlDb) and shared by every store
//! of it (sqlx then prepares each once per connection).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Map, Value};
use sqlx::Database;

use super::db::Source;
use super::{Args, Backend, db_error, list_limit};
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::id::IdGenerator;
use crate::store::{Conditional, EntityInstance, List, Store, prepare_create};
use crate::types::Binder;

mod names;
use names::table_name;

/// The columns of a document table, in order.
pub(super) const COLUMNS: &[&str] = &["tenant_id", "id", "data"];

/// How deeply containers may nest in a document, the top-level object included: serde_json
/// refuses to read deeper JSON back, so deeper data is refused before it is written.
const MAX_NESTING: usize = 127;

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
pub(super) struct DocumentSql {
    entity: String,
    table: String,
    create_table: String,
    insert: String,
    select_by_id: String,
    select_all: String,
    select_all_unordered: String,
    select_page: String,
    update: String,
    update_if: String,
    delete: String,
    clear: String,
    /// `find_by`'s statement per field, built on first use.
    finds: Mutex<HashMap<String, Arc<str>>>,
    find_by: &'static str,
    create_index: &'static str,
    removes_keys: bool,
    finds_json: bool,
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
    fn find_by(&self, field: &str) -> Result<Arc<str>> {
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
    pub(super) fn create_index(&self, field: &str) -> Result<String> {
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

    pub(super) fn create_table(&self) -> &str {
        &self.create_table
    }

    pub(super) fn entity(&self) -> &str {
        &self.entity
    }

    pub(super) fn table(&self) -> &str {
        &self.table
    }
}

/// The statements of every document table a [`SqlDb`](super::SqlDb) has served, by entity.
#[derive(Clone, Default)]
pub(super) struct DocumentCache(Arc<Mutex<HashMap<String, Arc<DocumentSql>>>>);

impl DocumentCache {
    /// The statements for `entity` in `table` (default: the entity name in snake_case, see
    /// [`table_name`]), built on first use; a refused table name is [`Error::InvalidName`].
    pub(super) fn get<DB: Backend>(
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

/// Writes JSON as serde_json's compact form, except that a float of magnitude 1e16 or more is
/// written as its exact decimal value with `.0` (`10000000000000000.0`, not `1e16`): PostgreSQL's
/// `numeric` keeps the `.0`, so the number comes back a float, not an integer.
struct DocumentFormatter;

impl serde_json::ser::Formatter for DocumentFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        if value.abs() >= 1e16 {
            write!(writer, "{value:.1}")
        } else {
            serde_json::ser::CompactFormatter.write_f64(writer, value)
        }
    }
}

/// A patch's keys, each mapped to `null`: what `json_patch` removes.
struct KeysAsNulls<'a>(&'a Map<String, Value>);

impl Serialize for KeysAsNulls<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for key in self.0.keys() {
            map.serialize_entry(key, &())?;
        }
        map.end()
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

fn invalid(entity: &str, message: impl fmt::Display) -> Error {
    Error::InvalidData {
        entity: entity.to_owned(),
        source: serde::ser::Error::custom(message),
    }
}

/// `value` as JSON text, through [`DocumentFormatter`].
fn to_text(entity: &str, value: &impl Serialize) -> Result<String> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, DocumentFormatter);
    value
        .serialize(&mut serializer)
        .map_err(|source| Error::InvalidData {
            entity: entity.to_owned(),
            source,
        })?;
    String::from_utf8(out).map_err(|e| invalid(entity, e))
}

/// Refuse fields that nest deeper than serde_json reads back ([`MAX_NESTING`]).
fn check_nesting(entity: &str, fields: &Map<String, Value>) -> Result<()> {
    fn too_deep(value: &Value, budget: usize) -> bool {
        match value {
            Value::Array(items) => budget == 0 || items.iter().any(|v| too_deep(v, budget - 1)),
            Value::Object(map) => budget == 0 || map.values().any(|v| too_deep(v, budget - 1)),
            _ => false,
        }
    }
    match fields.iter().find(|(_, v)| too_deep(v, MAX_NESTING - 1)) {
        None => Ok(()),
        Some((key, _)) => Err(invalid(
            entity,
            format_args!(
                "field `{key}` nests more than {MAX_NESTING} levels of arrays and objects, \
                 which could not be read back"
            ),
        )),
    }
}

/// A `(id, data)` row as an instance.
fn decode<DB: Backend>(entity: &str, row: &DB::Row) -> Result<EntityInstance> {
    let column = |index, name: &str| {
        DB::decode_value::<String>(row, index).map_err(|e| Error::Decode {
            entity: entity.to_owned(),
            column: name.to_owned(),
            source: match e {
                sqlx::Error::ColumnDecode { source, .. } => source,
                other => Box::new(other),
            },
        })
    };
    let id = column(0, "id")?;
    let data = column(1, "data")?;
    let fields = serde_json::from_str(&data).map_err(|e| Error::Decode {
        entity: entity.to_owned(),
        column: "data".to_owned(),
        source: Box::new(e),
    })?;
    Ok(EntityInstance { id, fields })
}

/// A store of [`EntityInstance`]s for an entity that has no Rust struct: its fields are one JSON
/// object per row. Made by [`SqlDb::document_store`](super::SqlDb::document_store),
/// [`SqlSession::document_store`](super::SqlSession::document_store) or
/// [`SqlTransaction::document_store`](super::SqlTransaction::document_store), for a table
/// made by [`SqlDb::create_document_table`](super::SqlDb::create_document_table).
///
/// Same contract and tenant rules as every [`Store`]: rows are keyed by `(tenant_id, id)`, every
/// statement is filtered by the tenant first, `clear` is a tenant-filtered `DELETE`. An empty id
/// is generated by the database's [`IdGenerator`]. An update merges the patch's top-level keys
/// into the stored object in one statement (a `null` is stored as `null`; a nested object or
/// array replaces the stored one whole), so two concurrent updates of different keys both land;
/// an `id` key in a patch must equal the row's id ([`Error::ImmutableField`] otherwise, and
/// nothing is written).
///
/// [`update_if`](Store::update_if) is the same one statement with the expected data as one
/// more condition of its `WHERE` (`"data" = $4::jsonb` on PostgreSQL, a key-by-key comparison
/// on SQLite; see the dialects), so the check and the write are one atomic step even between
/// processes; only when no row matched does a second statement tell
/// [`Conditional::Changed`] from [`Conditional::Missing`]. A row read back and passed as
/// `expected` always compares equal, floats included (they are written in the shortest form
/// that reads back exactly, and read back exactly). Data written by other means compares by
/// value on PostgreSQL, but on SQLite nested objects whose keys are not in sorted order compare
/// unequal to what serde_json writes, so such a row is `Changed` until rewritten through a store.
///
/// # What comes back
///
/// Every JSON value written comes back equal as a [`serde_json::Value`]: strings (any Unicode,
/// quotes, backslashes, text that looks like JSON or SQL), nested objects and arrays, `null`,
/// booleans, every `i64` and `u64`, and every finite `f64` (this crate turns on serde_json's
/// `float_roundtrip`, without which serde_json itself misreads some floats). On SQLite the
/// stored text is the text written. On PostgreSQL `data` is `JSONB`, which does not keep the
/// spelling: keys are reordered (a JSON object has no order), `1e-7` is stored as `0.0000001`
/// (the same number), and `-0.0` as `0.0` (equal as a `Value`; the sign of zero is lost); a
/// float of magnitude 1e16 or more is written in full with `.0` so that it stays a float rather
/// than turning into an integer. PostgreSQL cannot store the character U+0000 in `JSONB`
/// strings: a string value containing one fails with [`Error::Database`]. An object key
/// containing one, at any depth, is [`Error::NulInKey`] on every store alike (SQLite's JSON
/// functions would cut it short and merge it into another key), refused before anything is
/// written. Data nested more than 127 arrays and objects deep (the top-level object included)
/// is [`Error::InvalidData`], since serde_json would refuse to read it back.
pub struct DocumentStore<DB: Backend> {
    source: Source<DB>,
    sql: Arc<DocumentSql>,
    tenant: String,
    ids: IdGenerator,
}

impl<DB: Backend> DocumentStore<DB> {
    pub(super) fn new(
        source: Source<DB>,
        sql: Arc<DocumentSql>,
        tenant: String,
        ids: IdGenerator,
    ) -> Self {
        DocumentStore {
            source,
            sql,
            tenant,
            ids,
        }
    }

    /// The SQL table.
    pub fn table(&self) -> &str {
        &self.sql.table
    }

    fn entity_name(&self) -> &str {
        &self.sql.entity
    }

    fn error(&self, e: sqlx::Error) -> Error {
        db_error(self.entity_name(), None, e)
    }

    /// Arguments `(tenant, id)`.
    fn key_args<'q>(&'q self, id: &'q str) -> Args<'q, DB> {
        let mut args = Args::<DB>::new();
        args.bind(&self.tenant);
        args.bind_key::<String>(id);
        args
    }

    /// Run a statement returning at most one `(id, data)` row; `id` names the row a unique
    /// violation is about.
    async fn fetch_one<'a>(
        &'a self,
        conn: &'a mut DB::Connection,
        sql: &'a str,
        args: Args<'a, DB>,
        id: Option<&'a String>,
    ) -> Result<Option<EntityInstance>> {
        let args = args.finish(self.entity_name())?;
        let row = DB::fetch_optional(conn, sql, args)
            .await
            .map_err(|e| db_error(self.entity_name(), id.map(|id| id as _), e))?;
        row.map(|row| decode::<DB>(self.entity_name(), &row))
            .transpose()
    }
}

impl<DB: Backend> Clone for DocumentStore<DB> {
    fn clone(&self) -> Self {
        DocumentStore::new(
            self.source.clone(),
            self.sql.clone(),
            self.tenant.clone(),
            self.ids.clone(),
        )
    }
}

impl<DB: Backend> fmt::Debug for DocumentStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocumentStore")
            .field("backend", &<DB as Database>::NAME)
            .field("entity", &self.sql.entity)
            .field("table", &self.sql.table)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<DB: Backend> Store<EntityInstance> for DocumentStore<DB> {
    fn entity(&self) -> &str {
        self.entity_name()
    }

    fn tenant(&self) -> &String {
        &self.tenant
    }

    async fn get_all(&self) -> Result<Vec<EntityInstance>> {
        self.list(List::ById).await
    }

    async fn list(&self, list: List<String>) -> Result<Vec<EntityInstance>> {
        let mut guard = self.source.acquire().await?;
        let (start, limit) = (String::new(), list_limit(&list));
        let mut args = Args::<DB>::new();
        args.bind(&self.tenant);
        let sql = match &list {
            List::All => &self.sql.select_all_unordered,
            List::ById => &self.sql.select_all,
            List::Page { after, .. } => {
                args.bind(after.as_ref().unwrap_or(&start));
                args.bind(&limit);
                &self.sql.select_page
            }
        };
        let args = args.finish(self.entity_name())?;
        let entity = self.entity_name();
        DB::fetch_all(guard.conn()?, sql, args, |row| decode::<DB>(entity, row))
            .await
            .map_err(|e| self.error(e))
    }

    async fn get_by_id(&self, id: &str) -> Result<Option<EntityInstance>> {
        let mut guard = self.source.acquire().await?;
        let args = self.key_args(id);
        self.fetch_one(guard.conn()?, &self.sql.select_by_id, args, None)
            .await
    }

    async fn find_by(&self, field: &str, value: &Value) -> Result<Vec<EntityInstance>> {
        // `id` is the key column, not in `data`.
        if field == "id" {
            return Ok(match value {
                Value::String(id) => self.get_by_id(id).await?.into_iter().collect(),
                _ => Vec::new(),
            });
        }
        let sql = self.sql.find_by(field)?;
        // SQLite's `json_extract` gives text, a number or 0/1; nulls, arrays and objects are
        // compared here instead (JSON text of the same value can differ in spelling).
        let scalar = matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_));
        if !self.sql.finds_json && !scalar {
            let mut all = self.get_all().await?;
            all.retain(|row| row.fields.get(field) == Some(value));
            return Ok(all);
        }
        let number = value.as_f64().unwrap_or(f64::NAN);
        let flag = value.as_bool().map(i64::from).unwrap_or_default();
        let mut guard = self.source.acquire().await?;
        let mut args = Args::<DB>::new();
        args.bind(&self.tenant);
        match value {
            _ if self.sql.finds_json => args.bind(value),
            Value::String(text) => args.bind(text),
            Value::Number(_) => args.bind(&number),
            _ => args.bind(&flag),
        }
        let args = args.finish(self.entity_name())?;
        let entity = self.entity_name();
        DB::fetch_all(guard.conn()?, &sql, args, |row| decode::<DB>(entity, row))
            .await
            .map_err(|e| self.error(e))
    }

    async fn create(&self, mut data: EntityInstance) -> Result<EntityInstance> {
        prepare_create(self.entity_name(), &self.tenant, &self.ids, &mut data)?;
        check_nesting(self.entity_name(), &data.fields)?;
        let text = to_text(self.entity_name(), &data.fields)?;
        let mut guard = self.source.acquire().await?;
        let mut args = self.key_args(&data.id);
        args.bind(&text);
        let row = self
            .fetch_one(guard.conn()?, &self.sql.insert, args, Some(&data.id))
            .await?;
        // INSERT ... RETURNING always returns the row it inserted.
        row.ok_or_else(|| {
            Error::Database(
                format!("{} returned no row for an insert", <DB as Database>::NAME).into(),
            )
        })
    }

    async fn update(
        &self,
        id: &str,
        mut patch: Map<String, Value>,
    ) -> Result<Option<EntityInstance>> {
        EntityInstance::check_patch(&patch, self.entity_name())?;
        let moves = patch
            .remove("id")
            .is_some_and(|new| new.as_str() != Some(id));
        if moves || patch.is_empty() {
            // Nothing to write; only an existing row can be refused.
            let current = self.get_by_id(id).await?;
            return match current {
                Some(_) if moves => Err(Error::ImmutableField {
                    entity: self.entity_name().to_owned(),
                    field: "id".to_owned(),
                }),
                current => Ok(current),
            };
        }
        check_nesting(self.entity_name(), &patch)?;
        let text = to_text(self.entity_name(), &patch)?;
        let removed = if self.sql.removes_keys {
            Some(to_text(self.entity_name(), &KeysAsNulls(&patch))?)
        } else {
            None
        };
        let mut guard = self.source.acquire().await?;
        let mut args = self.key_args(id);
        args.bind(&text);
        if let Some(removed) = &removed {
            args.bind(removed);
        }
        self.fetch_one(guard.conn()?, &self.sql.update, args, None)
            .await
    }

    async fn update_if(
        &self,
        id: &str,
        expected: &EntityInstance,
        mut patch: Map<String, Value>,
    ) -> Result<Conditional<EntityInstance>> {
        EntityInstance::check_patch(&patch, self.entity_name())?;
        let moves = patch
            .remove("id")
            .is_some_and(|new| new.as_str() != Some(id));
        if moves || patch.is_empty() {
            // Nothing to write, so nothing to do atomically: the outcome is what is stored.
            return match self.get_by_id(id).await? {
                None => Ok(Conditional::Missing),
                Some(_) if moves => Err(Error::ImmutableField {
                    entity: self.entity_name().to_owned(),
                    field: "id".to_owned(),
                }),
                Some(current) if current.fields == expected.fields => {
                    Ok(Conditional::Updated(current))
                }
                Some(_) => Ok(Conditional::Changed),
            };
        }
        check_nesting(self.entity_name(), &patch)?;
        let text = to_text(self.entity_name(), &patch)?;
        let removed = if self.sql.removes_keys {
            Some(to_text(self.entity_name(), &KeysAsNulls(&patch))?)
        } else {
            None
        };
        let expected_text = to_text(self.entity_name(), &expected.fields)?;
        let mut guard = self.source.acquire().await?;
        let mut args = self.key_args(id);
        args.bind(&text);
        if let Some(removed) = &removed {
            args.bind(removed);
        }
        args.bind(&expected_text);
        let conn = guard.conn()?;
        if let Some(row) = self
            .fetch_one(conn, &self.sql.update_if, args, None)
            .await?
        {
            return Ok(Conditional::Updated(row));
        }
        // No row matched: there is none, or it is not the expected one. Only this path reads,
        // on the same connection (inside the same transaction, if there is one).
        let args = self.key_args(id);
        let current = self
            .fetch_one(guard.conn()?, &self.sql.select_by_id, args, None)
            .await?;
        Ok(match current {
            Some(_) => Conditional::Changed,
            None => Conditional::Missing,
        })
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        let mut guard = self.source.acquire().await?;
        let args = self.key_args(id).finish(self.entity_name())?;
        let n = DB::execute(guard.conn()?, &self.sql.delete, args)
            .await
            .map_err(|e| self.error(e))?;
        Ok(n > 0)
    }

    async fn clear(&self) -> Result<u64> {
        let mut guard = self.source.acquire().await?;
        let mut args = Args::<DB>::new();
        args.bind(&self.tenant);
        let args = args.finish(self.entity_name())?;
        DB::execute(guard.conn()?, &self.sql.clear, args)
            .await
            .map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_floats_are_written_in_full() {
        let text = |v: Value| to_text("E", &v).unwrap();
        assert_eq!(text(Value::from(1e16)), "10000000000000000.0");
        assert_eq!(text(Value::from(-2e17)), "-200000000000000000.0");
        assert_eq!(text(Value::from(9.5e15)), "9500000000000000.0");
        assert_eq!(text(Value::from(0.1)), "0.1");
        assert_eq!(text(Value::from(1e-7)), "1e-7");
        assert_eq!(text(Value::from(u64::MAX)), u64::MAX.to_string());
        for f in [
            1e16,
            1.5e300,
            f64::MAX,
            -f64::MAX,
            123_456_789_012_345_680_000.0,
        ] {
            let back: Value = serde_json::from_str(&text(Value::from(f))).unwrap();
            assert_eq!(back.as_f64(), Some(f));
            assert!(back.is_f64());
        }
    }

    #[test]
    fn nesting_limit_matches_serde_json() {
        let nested = |depth: usize| {
            let mut v = Value::Null;
            for _ in 0..depth {
                v = Value::Array(vec![v]);
            }
            Map::from_iter([("k".to_owned(), v)])
        };
        // The top-level object is one level.
        let ok = nested(MAX_NESTING - 1);
        check_nesting("E", &ok).unwrap();
        let text = to_text("E", &ok).unwrap();
        assert_eq!(
            serde_json::from_str::<Map<String, Value>>(&text).unwrap(),
            ok
        );
        let deep = nested(MAX_NESTING);
        assert!(matches!(
            check_nesting("E", &deep),
            Err(Error::InvalidData { .. })
        ));
        assert!(serde_json::from_str::<Map<String, Value>>(&to_text("E", &deep).unwrap()).is_err());
    }

    #[test]
    fn keys_as_nulls() {
        let patch = serde_json::json!({"a": 1, "q\"k": {"x": 2}, "": null});
        let text = to_text("E", &KeysAsNulls(patch.as_object().unwrap())).unwrap();
        assert_eq!(text, r#"{"":null,"a":null,"q\"k":null}"#);
    }
}
