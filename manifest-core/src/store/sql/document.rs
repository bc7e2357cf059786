//! [`DocumentStore`]: entities that have no Rust struct, stored as JSON documents.
//!
//! One table per entity, rows `(tenant_id, id, data)` keyed by `(tenant_id, id)`; `data` is the
//! instance's fields as a JSON object (`JSONB` on PostgreSQL, JSON text in a `STRICT` SQLite
//! table). The table name comes from the entity name at run time, so it is validated, and the
//! statements of a table are built once per [`SqlDb`](super::SqlDb) and shared by every store
//! of it (sqlx then prepares each once per connection).

use std::fmt;
use std::io;
use std::sync::Arc;

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
mod statements;
pub use statements::DocumentDialect;
#[cfg(feature = "postgres")]
pub(crate) use statements::POSTGRES;
#[cfg(feature = "sqlite")]
pub(crate) use statements::SQLITE;
pub(crate) use statements::{DocumentCache, DocumentSql};

/// The columns of a document table, in order.
pub(super) const COLUMNS: &[&str] = &["tenant_id", "id", "data"];

/// How deeply containers may nest in a document, the top-level object included: serde_json
/// refuses to read deeper JSON back, so deeper data is refused before it is written.
const MAX_NESTING: usize = 127;

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

fn invalid(entity: &str, message: impl fmt::Display) -> Error {
    Error::InvalidData {
        entity: entity.to_owned(),
        source: serde::ser::Error::custom(message),
    }
}

/// `value` as JSON text, through [`DocumentFormatter`].
pub(crate) fn to_text(entity: &str, value: &impl Serialize) -> Result<String> {
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

    fn in_transaction(&self, tx: &crate::Tx) -> Option<std::sync::Arc<dyn Store<EntityInstance>>> {
        Some(std::sync::Arc::new(DocumentStore {
            source: self.source.in_transaction(tx)?,
            sql: self.sql.clone(),
            tenant: self.tenant.clone(),
            ids: self.ids.clone(),
        }))
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
