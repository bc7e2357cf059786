//! Row-level security on a real PostgreSQL server (`MANIFEST_PG_URL`, a superuser; skipped
//! without it unless `CI=true`).
//!
//! In a fresh schema, as the superuser: a typed table, a document table, an outbox table, an
//! idempotency table and an audit table, each given row-level security, and a role
//! `manifest_app_<random>` with LOGIN, no BYPASSRLS, and only `SELECT, INSERT, UPDATE, DELETE`
//! on them. Then, connected as that role, what its statements see and may change with no
//! tenant setting and inside `begin_for(tenant)` transactions.

use std::str::FromStr;

use manifest_core::audit::{AuditOutcome, AuditRecord, AuditSink, SqlAudit};
use manifest_core::idempotency::{IdempotencyRecord, IdempotencyStore, SqlIdempotency};
use manifest_core::outbox::{OutboxEntry, OutboxEvent, OutboxStore, SqlOutbox};
use manifest_core::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use manifest_core::{EntityInstance, ManifestEntity, PgDb, Store};
use serde_json::{Map, json};

/// A typed entity whose tenant column is not `tenant_id`.
#[derive(Debug, Clone, PartialEq, ManifestEntity)]
#[manifest(table = "rls_item")]
struct RlsItem {
    id: String,
    #[manifest(tenant)]
    owner: String,
    name: String,
}

/// The document entity; its table is `rls_note`.
const NOTE: &str = "RlsNote";

/// Each table and its tenant column.
const TABLES: [(&str, &str); 5] = [
    ("rls_item", "owner"),
    ("rls_note", "tenant_id"),
    ("manifest_outbox", "tenant_id"),
    ("manifest_idempotency", "tenant_id"),
    ("manifest_audit", "tenant_id"),
];

/// How many rows each tenant writes in every table.
fn rows_of(tenant: &str) -> i64 {
    if tenant == "a" { 2 } else { 1 }
}

/// How many rows the superuser sees in `table`: each tenant's, and in `rls_note` one of the
/// empty tenant.
fn total(table: &str) -> i64 {
    rows_of("a") + rows_of("b") + i64::from(table == "rls_note")
}

/// A pool on `options` whose unqualified names resolve in `schema`.
async fn pool(options: PgConnectOptions, schema: &str, connections: u32) -> PgDb {
    let options = options.options([("search_path", schema)]);
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .connect_with(options)
        .await
        .expect("connect");
    PgDb::from_pool(pool)
}

async fn count(conn: &mut manifest_core::sqlx::PgConnection, table: &str) -> i64 {
    let (n,): (i64,) = manifest_core::sqlx::query_as(&format!("SELECT count(*) FROM \"{table}\""))
        .fetch_one(conn)
        .await
        .unwrap();
    n
}

/// `UPDATE .. SET <tenant> = <tenant>` of `tenant`'s rows (every row when `None`): how many it
/// changed.
async fn touch(
    conn: &mut manifest_core::sqlx::PgConnection,
    (table, column): (&str, &str),
    tenant: Option<&str>,
) -> u64 {
    let filter = tenant.map_or(String::new(), |t| format!(" WHERE \"{column}\" = '{t}'"));
    manifest_core::sqlx::query(&format!(
        "UPDATE \"{table}\" SET \"{column}\" = \"{column}\"{filter}"
    ))
    .execute(conn)
    .await
    .unwrap()
    .rows_affected()
}

/// Write `tenant`'s rows through the stores, inside a transaction begun for it.
async fn write(app: &PgDb, tenant: &str) {
    let idempotency = SqlIdempotency::new(app);
    let audit = SqlAudit::new(app);
    let outbox = SqlOutbox::new(app);
    let tx = app.begin_for(tenant).await.unwrap();
    for i in 0..rows_of(tenant) {
        let id = format!("{tenant}{i}");
        tx.store::<RlsItem>(tenant)
            .create(RlsItem {
                id: id.clone(),
                owner: String::new(),
                name: format!("item {id}"),
            })
            .await
            .unwrap();
        let fields = Map::from_iter([("text".to_owned(), json!(format!("note {id}")))]);
        tx.document_store(NOTE, tenant)
            .unwrap()
            .create(EntityInstance::new(id.clone(), fields))
            .await
            .unwrap();
        let record = IdempotencyRecord::new(tenant, &id, "f", json!({"id": id}), 0, i64::MAX);
        assert!(
            idempotency
                .insert(Some(&tx.tx()), &record, 0)
                .await
                .unwrap()
        );
        let entry = AuditRecord::new(&id, i, tenant, "create", AuditOutcome::Success);
        audit.record(Some(&tx.tx()), &[entry]).await.unwrap();
        let event = OutboxEvent::new("Created", "items", Map::new(), json!(0));
        let entry = OutboxEntry::new(&id, tenant, "create", event, 0);
        outbox.enqueue(Some(&tx.tx()), &[entry]).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn scenario(owner: &PgDb, writer: &PgDb, reader: &PgDb, role: &str) {
    // The superuser makes the tables and gives each row-level security (twice: it is safe to
    // run again).
    owner.create_table::<RlsItem>().await.unwrap();
    owner.create_document_table(NOTE).await.unwrap();
    let idempotency = SqlIdempotency::new(owner);
    idempotency.create_table().await.unwrap();
    let audit = SqlAudit::new(owner);
    audit.create_table().await.unwrap();
    let outbox = SqlOutbox::new(owner);
    outbox.create_table().await.unwrap();
    for _ in 0..2 {
        owner
            .enable_row_level_security(outbox.table())
            .await
            .unwrap();
        owner
            .enable_row_level_security_for::<RlsItem>()
            .await
            .unwrap();
        owner
            .enable_document_row_level_security(NOTE)
            .await
            .unwrap();
        owner
            .enable_row_level_security(idempotency.table())
            .await
            .unwrap();
        owner
            .enable_row_level_security(audit.table())
            .await
            .unwrap();
    }
    for (table, _) in TABLES {
        let (forced, policies): (bool, i64) = manifest_core::sqlx::query_as(
            "SELECT c.relrowsecurity AND c.relforcerowsecurity, \
             (SELECT count(*) FROM pg_policies p WHERE p.schemaname = current_schema() AND p.tablename = c.relname) \
             FROM pg_class c WHERE c.oid = to_regclass($1)",
        )
        .bind(table)
        .fetch_one(owner.pool())
        .await
        .unwrap();
        assert!(forced, "{table}");
        assert_eq!(
            policies, 1,
            "{table}: one policy, however often it was enabled"
        );
        manifest_core::sqlx::query(&format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON \"{table}\" TO \"{role}\""
        ))
        .execute(owner.pool())
        .await
        .unwrap();
    }

    // The application role writes each tenant's rows through the stores.
    write(writer, "a").await;
    write(writer, "b").await;
    // The superuser bypasses row-level security: every row is there. It adds one of the
    // empty tenant, which no connection of the role may see, a connection that once had the
    // setting (and reads `''` since) included.
    manifest_core::sqlx::query(
        r#"INSERT INTO "rls_note" ("tenant_id", "id", "data") VALUES ('', 'blank', '{}')"#,
    )
    .execute(owner.pool())
    .await
    .unwrap();
    let mut conn = owner.pool().acquire().await.unwrap();
    for (table, _) in TABLES {
        assert_eq!(count(&mut conn, table).await, total(table), "{table}");
    }
    drop(conn);

    // The reader's one connection has never had the setting: NULL, no rows.
    let mut conn = reader.pool().acquire().await.unwrap();
    for (table, column) in TABLES {
        assert_eq!(
            count(&mut conn, table).await,
            0,
            "{table} without the setting"
        );
        assert_eq!(touch(&mut conn, (table, column), None).await, 0, "{table}");
    }
    drop(conn);

    for (tenant, other) in [("b", "a"), ("a", "b")] {
        let tx = reader.begin_for(tenant).await.unwrap();
        let mut conn = tx.connection().await.unwrap();
        for (table, column) in TABLES {
            assert_eq!(
                count(&mut conn, table).await,
                rows_of(tenant),
                "{table} for {tenant}"
            );
            let (others,): (i64,) = manifest_core::sqlx::query_as(&format!(
                "SELECT count(*) FROM \"{table}\" WHERE \"{column}\" <> '{tenant}'"
            ))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
            assert_eq!(others, 0, "{table}");
            assert_eq!(
                touch(&mut conn, (table, column), Some(other)).await,
                0,
                "{table}"
            );
            assert_eq!(
                touch(&mut conn, (table, column), Some(tenant)).await,
                rows_of(tenant) as u64,
                "{table}"
            );
        }
        drop(conn);
        // The stores see the same: another tenant's key is not there, even asked for by name.
        let keys = SqlIdempotency::new(reader);
        let mine = keys
            .get(Some(&tx.tx()), tenant, &format!("{tenant}0"), 0)
            .await
            .unwrap();
        assert!(mine.is_some());
        let theirs = keys
            .get(Some(&tx.tx()), other, &format!("{other}0"), 0)
            .await
            .unwrap();
        assert_eq!(theirs, None);
        assert!(
            tx.store::<RlsItem>(other)
                .get_all()
                .await
                .unwrap()
                .is_empty()
        );
        tx.commit().await.unwrap();
    }

    // The same connection, after transactions that had the setting: it reads `''` now, which
    // matches no row either.
    let mut conn = reader.pool().acquire().await.unwrap();
    let (setting,): (Option<String>,) =
        manifest_core::sqlx::query_as("SELECT current_setting('manifest.tenant_id', true)")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(setting.as_deref(), Some(""));
    for (table, column) in TABLES {
        assert_eq!(
            count(&mut conn, table).await,
            0,
            "{table} after a tenant's transaction"
        );
        assert_eq!(touch(&mut conn, (table, column), None).await, 0, "{table}");
    }
    drop(conn);
    // A store outside a transaction sees nothing.
    assert!(
        reader
            .store::<RlsItem>("a")
            .get_all()
            .await
            .unwrap()
            .is_empty()
    );

    // Inside a's transaction a row of b's cannot be written: WITH CHECK refuses it, whether
    // written raw, through a store bound to b, or by moving one of a's rows to b.
    let refused = |e: &manifest_core::Error| e.to_string().contains("row-level security");
    let tx = reader.begin_for("a").await.unwrap();
    let raw = manifest_core::sqlx::query(
        r#"INSERT INTO "rls_note" ("tenant_id", "id", "data") VALUES ('b', 'sneaky', '{}')"#,
    )
    .execute(&mut *tx.connection().await.unwrap())
    .await
    .unwrap_err();
    assert!(raw.to_string().contains("row-level security"), "{raw}");
    tx.rollback().await.unwrap();
    let tx = reader.begin_for("a").await.unwrap();
    let moved =
        manifest_core::sqlx::query(r#"UPDATE "rls_item" SET "owner" = 'b' WHERE "id" = 'a0'"#)
            .execute(&mut *tx.connection().await.unwrap())
            .await
            .unwrap_err();
    assert!(moved.to_string().contains("row-level security"), "{moved}");
    tx.rollback().await.unwrap();
    let tx = reader.begin_for("a").await.unwrap();
    let e = tx
        .store::<RlsItem>("b")
        .create(RlsItem {
            id: "sneaky".into(),
            owner: String::new(),
            name: "x".into(),
        })
        .await
        .unwrap_err();
    assert!(refused(&e), "{e}");
    tx.rollback().await.unwrap();
    let tx = reader.begin_for("a").await.unwrap();
    let record = IdempotencyRecord::new("b", "sneaky", "f", json!(null), 0, i64::MAX);
    let e = SqlIdempotency::new(reader)
        .insert(Some(&tx.tx()), &record, 0)
        .await
        .unwrap_err();
    assert!(refused(&e), "{e}");
    tx.rollback().await.unwrap();
    let tx = reader.begin_for("a").await.unwrap();
    let entry = AuditRecord::new("sneaky", 0, "b", "create", AuditOutcome::Success);
    let e = SqlAudit::new(reader)
        .record(
            Some(&tx.tx()),
            &[
                AuditRecord::new("ok", 0, "a", "c", AuditOutcome::Success),
                entry,
            ],
        )
        .await
        .unwrap_err();
    assert!(refused(&e), "{e}");
    tx.rollback().await.unwrap();
    let tx = reader.begin_for("a").await.unwrap();
    let event = OutboxEvent::new("Created", "items", Map::new(), json!(0));
    let e = SqlOutbox::new(reader)
        .enqueue(
            Some(&tx.tx()),
            &[OutboxEntry::new("sneaky", "b", "create", event, 0)],
        )
        .await
        .unwrap_err();
    assert!(refused(&e), "{e}");
    tx.rollback().await.unwrap();

    // Nothing of it landed.
    let mut conn = owner.pool().acquire().await.unwrap();
    for (table, _) in TABLES {
        assert_eq!(count(&mut conn, table).await, total(table), "{table}");
    }
    drop(conn);

    engine_under_row_level_security(reader).await;
}

/// The engine on the application role: with `row_level_security()` every operation runs in a
/// transaction for its tenant and sees that tenant's rows; without it, operations outside
/// commands see nothing and cannot write (fail closed), while commands still run.
async fn engine_under_row_level_security(app: &PgDb) {
    let ir = manifest_runtime::Ir::from_json_str(
        r#"{"version": "1.0",
            "entities": [{"name": "RlsNote", "properties": [{"name": "text", "type": {"name": "string"}}]}],
            "commands": [{"name": "touch", "entity": "RlsNote", "parameters": [], "guards": [],
                "actions": [{"kind": "mutate", "target": "text",
                    "expression": {"kind": "literal", "value": {"kind": "string", "value": "touched"}}}],
                "emits": []}]}"#,
    )
    .unwrap();
    let program = std::sync::Arc::new(manifest_runtime::Program::new(ir));
    let engine = |tenant: &str, rls: bool| {
        let builder = manifest_runtime::Engine::builder(program.clone())
            .tenant(tenant)
            .database(app.clone());
        let builder = if rls {
            builder.row_level_security()
        } else {
            builder
        };
        builder.build().unwrap()
    };
    let a = engine("a", true);
    let data = Map::from_iter([
        ("id".to_owned(), json!("e1")),
        ("text".to_owned(), json!("new")),
    ]);
    a.create_instance(NOTE, data.clone()).await.unwrap();
    assert_eq!(
        a.get_instance(NOTE, "e1").await.unwrap().unwrap()["text"],
        "new"
    );
    let touched = a
        .run_command(
            "touch",
            Map::new(),
            manifest_runtime::CommandOptions::on(NOTE, "e1"),
        )
        .await
        .unwrap();
    assert!(touched.success, "{touched:?}");
    assert_eq!(
        a.get_instance(NOTE, "e1").await.unwrap().unwrap()["text"],
        "touched"
    );
    assert_eq!(
        a.get_all_instances(NOTE).await.unwrap().len(),
        rows_of("a") as usize + 1
    );
    // Tenant b, by id or by listing, never sees a's note.
    let b = engine("b", true);
    assert_eq!(b.get_instance(NOTE, "e1").await.unwrap(), None);
    assert_eq!(
        b.get_all_instances(NOTE).await.unwrap().len(),
        rows_of("b") as usize
    );
    let patch = Map::from_iter([("text".to_owned(), json!("b was here"))]);
    assert!(matches!(
        b.update_instance(NOTE, "e1", patch).await,
        Err(manifest_runtime::RuntimeError::NotFound { .. })
    ));
    // A command of b's on the id finds no instance and changes nothing of a's.
    b.run_command(
        "touch",
        Map::new(),
        manifest_runtime::CommandOptions::on(NOTE, "e1"),
    )
    .await
    .unwrap();
    assert_eq!(
        b.get_all_instances(NOTE).await.unwrap().len(),
        rows_of("b") as usize
    );
    assert_eq!(
        a.get_instance(NOTE, "e1").await.unwrap().unwrap()["text"],
        "touched"
    );
    // Without the option the engine's reads outside commands see nothing, and its writes are
    // refused by the policies' WITH CHECK.
    let plain = engine("a", false);
    assert!(plain.get_all_instances(NOTE).await.unwrap().is_empty());
    assert_eq!(plain.get_instance(NOTE, "e1").await.unwrap(), None);
    let mut other = data;
    other.insert("id".to_owned(), json!("e2"));
    assert!(plain.create_instance(NOTE, other).await.is_err());
    assert!(
        plain
            .run_command(
                "touch",
                Map::new(),
                manifest_runtime::CommandOptions::on(NOTE, "e1")
            )
            .await
            .unwrap()
            .success,
        "a command runs in its tenant's transaction all the same"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_see_and_write_their_own_rows_only() {
    let Ok(url) = std::env::var("MANIFEST_PG_URL") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but MANIFEST_PG_URL is not set: run the tests with scripts/test.sh");
        }
        eprintln!("skipped: MANIFEST_PG_URL is not set (scripts/test.sh sets it)");
        return;
    };
    let run = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let (schema, role) = (format!("rls_{run}"), format!("manifest_app_{run}"));
    let superuser = PgConnectOptions::from_str(&url).unwrap();
    let admin = pool(superuser.clone(), "public", 1).await;
    for sql in [
        format!("CREATE SCHEMA \"{schema}\""),
        format!("CREATE ROLE \"{role}\" LOGIN NOBYPASSRLS"),
        format!("GRANT USAGE ON SCHEMA \"{schema}\" TO \"{role}\""),
    ] {
        manifest_core::sqlx::query(&sql)
            .execute(admin.pool())
            .await
            .unwrap();
    }

    let _cleanup = Cleanup {
        url: url.clone(),
        schema: schema.clone(),
        role: role.clone(),
    };
    let owner = pool(superuser.clone(), &schema, 2).await;
    let app = superuser.clone().username(&role);
    let writer = pool(app.clone(), &schema, 2).await;
    // One connection, so that every statement of the reader runs on the same one.
    let reader = pool(app, &schema, 1).await;
    scenario(&owner, &writer, &reader, &role).await;
    for db in [owner, writer, reader, admin] {
        db.pool().close().await;
    }
}

/// Drops the schema and the role, whether the test passed or panicked.
struct Cleanup {
    url: String,
    schema: String,
    role: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (url, schema, role) = (self.url.clone(), self.schema.clone(), self.role.clone());
        let statements = [
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
            ),
            format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
            format!("DROP OWNED BY \"{role}\""),
            format!("DROP ROLE \"{role}\""),
        ];
        // A runtime of its own: this may run while the test's is unwinding.
        let cleaned = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let admin = PgDb::connect(&url).await.unwrap();
                for sql in statements {
                    manifest_core::sqlx::query(&sql)
                        .execute(admin.pool())
                        .await
                        .unwrap();
                }
                admin.pool().close().await;
            });
        })
        .join();
        if cleaned.is_err() && !std::thread::panicking() {
            panic!(
                "could not drop the schema {} and the role {}",
                self.schema, self.role
            );
        }
    }
}
