//! Row-level security on PostgreSQL: a database-enforced backstop to the stores' tenant
//! filters.
//!
//! See [`PgDb::enable_row_level_security`](crate::PgDb::enable_row_level_security).

use sqlx::Postgres;

use super::SqlDb;
use crate::entity::{ColumnRole, ManifestEntity};
use crate::error::{Error, Result};

/// The name errors give row-level security by when no entity is known.
const OWNER: &str = "(row-level security)";

/// The policy's name.
pub(crate) const POLICY: &str = "manifest_tenant";

/// `name`, quoted, if it is a plain SQL name of `kind`.
fn quoted(owner: &str, kind: manifest_naming::NameKind, name: &str) -> Result<String> {
    match manifest_naming::check_sql_name(kind, name) {
        Ok(()) => Ok(format!("\"{name}\"")),
        Err(e) => Err(Error::InvalidName {
            entity: owner.to_owned(),
            name: name.to_owned(),
            reason: e.to_string(),
        }),
    }
}

fn statements(owner: &str, table: &str, tenant_column: &str) -> Result<String> {
    let table = quoted(owner, manifest_naming::NameKind::Table, table)?;
    let column = quoted(owner, manifest_naming::NameKind::Column, tenant_column)?;
    // `::text`: a UUID tenant column compares as its canonical text, the form a caller passes
    // to `begin_for` (`Uuid::to_string`); on a TEXT column the cast is no cast at all, so the
    // primary key still serves the policy.
    let rule = format!("{column}::text = NULLIF(current_setting('manifest.tenant_id', true), '')");
    Ok(format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n\
         DROP POLICY IF EXISTS \"{POLICY}\" ON {table};\n\
         CREATE POLICY \"{POLICY}\" ON {table} USING ({rule}) WITH CHECK ({rule})"
    ))
}

impl SqlDb<Postgres> {
    /// The statements giving `table` row-level security by its column `tenant_column`
    /// (see [`enable_row_level_security`](Self::enable_row_level_security)), for a migration
    /// file: `ENABLE` and `FORCE ROW LEVEL SECURITY`, then `DROP POLICY IF EXISTS
    /// manifest_tenant` and `CREATE POLICY manifest_tenant .. USING (<tenant> =
    /// current_setting('manifest.tenant_id', true)) WITH CHECK (<the same>)`, separated by `;`.
    /// Running them again changes nothing. Both names must be plain SQL names
    /// (`[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes; [`Error::InvalidName`] otherwise); the table
    /// is the one its unqualified name resolves to, by the search path.
    ///
    /// ```
    /// let sql = manifest_core::PgDb::row_level_security_sql("recipe", "tenant_id")?;
    /// assert!(sql.starts_with(r#"ALTER TABLE "recipe" ENABLE ROW LEVEL SECURITY;"#));
    /// assert!(sql.contains("current_setting('manifest.tenant_id', true)"));
    /// assert!(manifest_core::PgDb::row_level_security_sql("recipe; DROP TABLE x", "tenant_id").is_err());
    /// # Ok::<(), manifest_core::Error>(())
    /// ```
    pub fn row_level_security_sql(table: &str, tenant_column: &str) -> Result<String> {
        statements(OWNER, table, tenant_column)
    }

    /// Give `table`, whose tenant column is `tenant_id` (the document, idempotency, audit and
    /// outbox tables'), row-level security: a database-enforced backstop to the stores' own
    /// tenant filters, which also holds for the application's own statements, a bug in a
    /// query, or a connection that forgot its tenant. The policy `manifest_tenant` lets a
    /// statement see, and write, only the rows whose tenant equals the transaction's setting
    /// `manifest.tenant_id`, which [`begin_for`](Self::begin_for) sets for the transaction
    /// (`set_config(.., true)`, sent with the `BEGIN`). Safe to run again; the statements
    /// ([`row_level_security_sql`](Self::row_level_security_sql)) run in one implicit
    /// transaction, so the table has the old policy or the new one, never none.
    ///
    /// What it takes:
    ///
    /// - The application connects as a role that does not own the tables and has no
    ///   `BYPASSRLS` (grant it `SELECT, INSERT, UPDATE, DELETE` on them). The policy is also
    ///   `FORCE`d, so that even the tables' owner is subject to it; only a superuser or a
    ///   `BYPASSRLS` role is not.
    /// - Every unit of work runs in a transaction of [`begin_for`](Self::begin_for) its
    ///   tenant. A statement outside one (a store made from [`store`](Self::store), which
    ///   takes a pooled connection per operation) sees no rows and can write none: without the
    ///   setting, `current_setting('manifest.tenant_id', true)` is NULL, and on a connection
    ///   that had it in an earlier transaction it reads `''`, which the policy takes as NULL
    ///   too. So under row-level security the empty tenant matches no row.
    /// - A worker that serves every tenant (the outbox worker, the idempotency purge) connects
    ///   as a role with `BYPASSRLS`.
    ///
    /// Run it where the schema is made (a migration), as the table's owner: it takes an
    /// `ACCESS EXCLUSIVE` lock on the table while it runs.
    pub async fn enable_row_level_security(&self, table: &str) -> Result<()> {
        self.enable_row_level_security_on(table, "tenant_id").await
    }

    /// [`enable_row_level_security`](Self::enable_row_level_security) for a table whose
    /// tenant column is `tenant_column`.
    pub async fn enable_row_level_security_on(
        &self,
        table: &str,
        tenant_column: &str,
    ) -> Result<()> {
        let sql = Self::row_level_security_sql(table, tenant_column)?;
        self.run(&sql).await
    }

    /// [`enable_row_level_security`](Self::enable_row_level_security) for `T`'s table
    /// (`T::TABLE`) by its tenant column. An entity without a tenant column is
    /// [`Error::InvalidName`].
    pub async fn enable_row_level_security_for<T: ManifestEntity>(&self) -> Result<()> {
        let Some(tenant) = T::column(ColumnRole::Tenant) else {
            return Err(Error::InvalidName {
                entity: T::ENTITY.to_owned(),
                name: T::TABLE.to_owned(),
                reason: "row-level security needs the table's tenant column".to_owned(),
            });
        };
        let sql = statements(T::ENTITY, T::TABLE, tenant.name)?;
        self.run(&sql).await
    }

    /// [`enable_row_level_security`](Self::enable_row_level_security) for the document table
    /// of the entity called `entity`, the one
    /// [`create_document_table`](Self::create_document_table) makes (an entity name without a
    /// default table is [`Error::InvalidName`]).
    pub async fn enable_document_row_level_security(&self, entity: &str) -> Result<()> {
        let table = self.document_table(entity, None)?;
        let sql = statements(entity, &table, "tenant_id")?;
        self.run(&sql).await
    }

    /// Run several statements in one simple query (one implicit transaction).
    async fn run(&self, sql: &str) -> Result<()> {
        sqlx::raw_sql(sql)
            .execute(self.pool())
            .await
            .map_err(Error::database)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_quote_and_validate_names() {
        let sql = statements(OWNER, "manifest_audit", "tenant_id").unwrap();
        let lines: Vec<&str> = sql.lines().collect();
        assert_eq!(
            lines[..3],
            [
                r#"ALTER TABLE "manifest_audit" ENABLE ROW LEVEL SECURITY;"#,
                r#"ALTER TABLE "manifest_audit" FORCE ROW LEVEL SECURITY;"#,
                r#"DROP POLICY IF EXISTS "manifest_tenant" ON "manifest_audit";"#,
            ]
        );
        let rule = r#""tenant_id"::text = NULLIF(current_setting('manifest.tenant_id', true), '')"#;
        assert_eq!(
            lines[3],
            format!(
                r#"CREATE POLICY "manifest_tenant" ON "manifest_audit" USING ({rule}) WITH CHECK ({rule})"#
            )
        );
        for (table, column) in [
            ("a\"b", "tenant_id"),
            ("t", "x; DROP TABLE t"),
            ("", "tenant_id"),
            ("t", ""),
        ] {
            assert!(
                matches!(
                    statements(OWNER, table, column),
                    Err(Error::InvalidName { .. })
                ),
                "{table:?} {column:?}"
            );
        }
    }
}
