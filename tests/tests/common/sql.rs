//! What only the SQL stores have: tables made from the mapping, held sessions and transactions
//! across entities and stores.

use std::sync::Arc;

use manifest_core::sqlx::Executor;
use manifest_core::{EntityInstance, Error, IdGenerator, ManifestEntity, SqlDb, Store};
use uuid::Uuid;

use super::{Backend, Label, Recipe, RecipePatch, Value, tenants};

/// A table of the application's own, written with its own SQL next to the stores'.
const AUDIT_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS contract_audit (tenant_id TEXT NOT NULL, note TEXT NOT NULL)";

/// A contract backend over one `SqlDb`.
pub struct SqlBackend<DB: manifest_core::Backend> {
    pub db: SqlDb<DB>,
    pub name: &'static str,
}

impl<DB: manifest_core::Backend> SqlBackend<DB> {
    /// Create the suite's tables (twice: creation must be safe to repeat).
    pub async fn new(db: SqlDb<DB>, name: &'static str) -> Self {
        for _ in 0..2 {
            db.create_table::<Recipe>().await.unwrap();
            db.create_table::<Label>().await.unwrap();
            db.create_table::<Value>().await.unwrap();
            db.create_document_table(super::DOCUMENTS).await.unwrap();
        }
        SqlBackend { db, name }
    }
}

impl<DB: manifest_core::Backend> Backend for SqlBackend<DB> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn recipes(&self, tenant: &str) -> Arc<dyn Store<Recipe>> {
        Arc::new(self.db.store::<Recipe>(tenant))
    }
    fn recipes_with_ids(&self, tenant: &str, ids: IdGenerator) -> Arc<dyn Store<Recipe>> {
        Arc::new(self.db.clone().with_ids(ids).store::<Recipe>(tenant))
    }
    fn labels(&self, tenant: &str) -> Arc<dyn Store<Label>> {
        Arc::new(self.db.store::<Label>(tenant))
    }
    fn values(&self, tenant: Uuid) -> Arc<dyn Store<Value>> {
        Arc::new(self.db.store::<Value>(tenant))
    }
    fn values_with_ids(&self, tenant: Uuid, ids: IdGenerator) -> Arc<dyn Store<Value>> {
        Arc::new(self.db.clone().with_ids(ids).store::<Value>(tenant))
    }
    fn documents(&self, tenant: &str) -> Arc<dyn Store<EntityInstance>> {
        Arc::new(self.db.document_store(super::DOCUMENTS, tenant).unwrap())
    }
}

/// Generates one `#[tokio::test]` per SQL-only check; `$make` is an async expression giving
/// `Option<SqlBackend<_>>`.
#[macro_export]
macro_rules! sql_suite {
    ($make:expr) => {
        $crate::sql_suite!(@tests $make;
            schema_is_tenant_first_and_filtered,
            transaction_commits_across_entities_and_stores,
            transaction_rollback_undoes_every_write,
            dropped_transaction_rolls_back,
            closed_transaction_is_an_error,
            session_runs_on_one_connection,
            own_statements_join_the_transaction,
            typed_find_by_reads_the_matching_rows,
            concurrent_transactions_each_commit_their_read_and_write,
            every_ended_transaction_lets_the_next_writer_begin,
        );
    };
    (@tests $make:expr; $($name:ident,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            if let Some(backend) = $make.await {
                common::sql::$name(&backend).await;
            }
        }
    )*};
}

pub async fn schema_is_tenant_first_and_filtered<DB: manifest_core::Backend>(b: &SqlBackend<DB>) {
    let ddl = SqlDb::<DB>::create_table_sql::<Recipe>();
    assert!(
        ddl.starts_with("CREATE TABLE IF NOT EXISTS \"contract_recipe\" ("),
        "{ddl}"
    );
    assert!(ddl.contains("PRIMARY KEY (\"tenant_id\", \"id\")"), "{ddl}");
    assert!(ddl.contains("\"notes\" TEXT,"), "nullable column: {ddl}");
    assert!(ddl.contains("\"name\" TEXT NOT NULL"), "{ddl}");
    let ddl = SqlDb::<DB>::create_table_sql::<Value>();
    assert!(ddl.contains("PRIMARY KEY (\"owner\", \"key\")"), "{ddl}");
    assert!(ddl.contains("\"raw_bytes\""), "column override: {ddl}");
    assert!(ddl.contains("\"textOpt\""), "rename_all: {ddl}");
    assert!(!ddl.contains("cache"), "skipped field: {ddl}");
    for s in [
        Recipe::SQLITE,
        Recipe::POSTGRES,
        Value::SQLITE,
        Value::POSTGRES,
    ] {
        for sql in [
            s.insert,
            s.select_by_id,
            s.select_all,
            s.select_all_unordered,
            s.select_page,
            s.update,
            s.delete,
            s.clear,
        ] {
            assert!(!sql.to_uppercase().contains("TRUNCATE"), "{sql}");
            if !sql.starts_with("INSERT") {
                assert!(
                    sql.contains("WHERE \"tenant_id\" = ") || sql.contains("WHERE \"owner\" = "),
                    "every statement is filtered by tenant first: {sql}"
                );
            }
        }
    }
    // The tables exist and are empty for a fresh tenant.
    let [a] = tenants();
    assert!(b.recipes(&a).get_all().await.unwrap().is_empty());
}

pub async fn transaction_commits_across_entities_and_stores<DB: manifest_core::Backend>(
    b: &SqlBackend<DB>,
) {
    let [a, c] = tenants();
    let tx = b.db.begin().await.unwrap();
    let recipe = tx
        .store::<Recipe>(a.as_str())
        .create(Recipe::new("in tx", 1))
        .await
        .unwrap();
    let label = tx
        .store::<Label>(c.as_str())
        .create(Label {
            id: String::new(),
            tenant_id: String::new(),
            text: "l".into(),
        })
        .await
        .unwrap();
    // Inside the transaction the writes are visible; outside they are not yet.
    assert_eq!(
        tx.store::<Recipe>(a.as_str())
            .get_by_id(&recipe.id)
            .await
            .unwrap(),
        Some(recipe.clone())
    );
    assert_eq!(b.recipes(&a).get_by_id(&recipe.id).await.unwrap(), None);
    tx.commit().await.unwrap();
    assert_eq!(
        b.recipes(&a).get_by_id(&recipe.id).await.unwrap(),
        Some(recipe)
    );
    assert_eq!(b.labels(&c).get_all().await.unwrap(), vec![label]);
}

pub async fn transaction_rollback_undoes_every_write<DB: manifest_core::Backend>(
    b: &SqlBackend<DB>,
) {
    let [a] = tenants();
    let kept = b.recipes(&a).create(Recipe::new("kept", 1)).await.unwrap();
    let tx = b.db.begin().await.unwrap();
    let store = tx.store::<Recipe>(a.as_str());
    store.create(Recipe::new("new", 2)).await.unwrap();
    let patch = RecipePatch {
        name: Some("changed".into()),
        version: Some(1),
        ..Default::default()
    };
    store.update(&kept.id, patch).await.unwrap().unwrap();
    let labels = tx.store::<Label>(a.as_str());
    labels
        .create(Label {
            id: String::new(),
            tenant_id: String::new(),
            text: "gone".into(),
        })
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(b.recipes(&a).get_all().await.unwrap(), vec![kept]);
    assert!(b.labels(&a).get_all().await.unwrap().is_empty());
}

pub async fn dropped_transaction_rolls_back<DB: manifest_core::Backend>(b: &SqlBackend<DB>) {
    let [a] = tenants();
    {
        let tx = b.db.begin().await.unwrap();
        tx.store::<Recipe>(a.as_str())
            .create(Recipe::new("dropped", 1))
            .await
            .unwrap();
    }
    assert!(b.recipes(&a).get_all().await.unwrap().is_empty());
}

pub async fn closed_transaction_is_an_error<DB: manifest_core::Backend>(b: &SqlBackend<DB>) {
    let [a] = tenants();
    let tx = b.db.begin().await.unwrap();
    let store = tx.store::<Recipe>(a.as_str());
    tx.commit().await.unwrap();
    assert!(matches!(store.get_all().await, Err(Error::Closed)));
    assert!(matches!(
        store.create(Recipe::new("late", 1)).await,
        Err(Error::Closed)
    ));
    assert!(b.recipes(&a).get_all().await.unwrap().is_empty());
}

pub async fn session_runs_on_one_connection<DB: manifest_core::Backend>(b: &SqlBackend<DB>) {
    let [a, c] = tenants();
    let session = b.db.acquire().await.unwrap();
    let (sa, sc) = (
        session.store::<Recipe>(a.as_str()),
        session.store::<Recipe>(c.as_str()),
    );
    let r = sa.create(Recipe::new("held", 1)).await.unwrap();
    assert_eq!(sa.get_by_id(&r.id).await.unwrap(), Some(r.clone()));
    assert_eq!(sc.get_by_id(&r.id).await.unwrap(), None);
    // Written on the session, visible through the pool at once (no transaction).
    assert_eq!(b.recipes(&a).get_all().await.unwrap(), vec![r]);
}

/// The application's own statements on a transaction's connection commit or roll back with the
/// stores' writes; on a session's, they run on the held connection.
pub async fn own_statements_join_the_transaction<DB>(b: &SqlBackend<DB>)
where
    DB: manifest_core::Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    // Only this check uses the table (PostgreSQL can fail concurrent creations of one table).
    manifest_core::sqlx::raw_sql(AUDIT_TABLE)
        .execute(b.db.pool())
        .await
        .unwrap();
    let [a] = tenants();
    // The tenant is a generated name of letters, digits and dashes: safe inside a literal.
    let insert = format!("INSERT INTO contract_audit (tenant_id, note) VALUES ('{a}', 'made')");
    let audited = || async {
        let select = format!("SELECT note FROM contract_audit WHERE tenant_id = '{a}'");
        manifest_core::sqlx::raw_sql(&select)
            .fetch_all(b.db.pool())
            .await
            .unwrap()
            .len()
    };

    let tx = b.db.begin().await.unwrap();
    let store = tx.store::<Recipe>(a.as_str());
    let r = store.create(Recipe::new("rolled back", 1)).await.unwrap();
    manifest_core::sqlx::raw_sql(&insert)
        .execute(&mut *tx.connection().await.unwrap())
        .await
        .unwrap();
    // The store still works after the connection was lent.
    assert!(store.get_by_id(&r.id).await.unwrap().is_some());
    tx.rollback().await.unwrap();
    assert_eq!(
        audited().await,
        0,
        "the own INSERT rolled back with the store's"
    );
    assert!(b.recipes(&a).get_all().await.unwrap().is_empty());

    let tx = b.db.begin().await.unwrap();
    let store = tx.store::<Recipe>(a.as_str());
    let r = store.create(Recipe::new("committed", 1)).await.unwrap();
    {
        let mut conn = tx.connection().await.unwrap();
        manifest_core::sqlx::raw_sql(&insert)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    assert_eq!(audited().await, 0, "not visible before the commit");
    tx.commit().await.unwrap();
    assert_eq!(audited().await, 1);
    assert_eq!(b.recipes(&a).get_all().await.unwrap(), vec![r]);

    let session = b.db.acquire().await.unwrap();
    manifest_core::sqlx::raw_sql(&insert)
        .execute(&mut *session.connection().await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        audited().await,
        2,
        "a session writes at once (no transaction)"
    );
}

/// A typed store's `find_by` reads this tenant's rows whose column holds the value, in id
/// order, on the index `create_index` makes; through `InstanceStore` too (what a runtime's
/// relationships use). A column or value it cannot compare is `Unsupported`.
pub async fn typed_find_by_reads_the_matching_rows<DB: manifest_core::Backend>(b: &SqlBackend<DB>) {
    for _ in 0..2 {
        b.db.create_index::<Recipe>("name").await.unwrap();
        b.db.create_index::<Recipe>("servings").await.unwrap();
    }
    assert!(matches!(
        b.db.create_index::<Recipe>("nope").await,
        Err(Error::InvalidName { .. })
    ));
    let [a, c] = tenants();
    let (sa, sc) = (
        b.db.store::<Recipe>(a.as_str()),
        b.db.store::<Recipe>(c.as_str()),
    );
    for (id, name, servings) in [("r3", "Soup", 2), ("r1", "Soup", 4), ("r2", "Stew", 2)] {
        sa.create(Recipe::new(name, servings).with_id(id))
            .await
            .unwrap();
    }
    sc.create(Recipe::new("Soup", 2).with_id("r9"))
        .await
        .unwrap();
    let ids = |rows: Vec<Recipe>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let soup = serde_json::json!("Soup");
    assert_eq!(ids(sa.find_by("name", &soup).await.unwrap()), ["r1", "r3"]);
    assert_eq!(ids(sc.find_by("name", &soup).await.unwrap()), ["r9"]);
    let two = serde_json::json!(2);
    assert_eq!(
        ids(sa.find_by("servings", &two).await.unwrap()),
        ["r2", "r3"]
    );
    assert!(
        sa.find_by("name", &serde_json::json!("Pie"))
            .await
            .unwrap()
            .is_empty()
    );
    for (field, value) in [
        ("name", serde_json::json!(2)),
        ("servings", soup.clone()),
        ("nope", soup.clone()),
    ] {
        assert!(
            matches!(
                sa.find_by(field, &value).await,
                Err(Error::Unsupported { .. })
            ),
            "{field} = {value}"
        );
    }
    let instances = manifest_core::InstanceStore::new(b.db.store::<Recipe>(a.as_str()));
    let found = instances.find_by("name", &soup).await.unwrap();
    assert_eq!(
        found.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r1", "r3"]
    );
    assert_eq!(found[0].fields["servings"], serde_json::json!(4));
}

/// Many transactions at once, each reading a row and writing it back changed: every one
/// commits its change, none is lost. On SQLite they queue for the one writer in the process
/// (the database's write gate) and none meets another's lock; on PostgreSQL a writer that
/// lost the race sees a version conflict and tries again.
pub async fn concurrent_transactions_each_commit_their_read_and_write<
    DB: manifest_core::Backend,
>(
    b: &SqlBackend<DB>,
) {
    const WRITERS: i32 = 24;
    let [a] = tenants();
    let id = b
        .recipes(&a)
        .create(Recipe::new("counter", 0))
        .await
        .unwrap()
        .id;
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let (db, a, id) = (b.db.clone(), a.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            loop {
                let tx = db.begin().await.expect("begin");
                let store = tx.store::<Recipe>(a.as_str());
                let row = store.get_by_id(&id).await.unwrap().unwrap();
                let patch = RecipePatch {
                    servings: Some(row.servings + 1),
                    version: Some(row.version),
                    ..Default::default()
                };
                match store.update(&id, patch).await {
                    Ok(Some(_)) => {
                        drop(store);
                        tx.commit().await.expect("commit");
                        return conflicts;
                    }
                    Err(Error::VersionConflict { .. }) => conflicts += 1,
                    other => panic!("update: {other:?}"),
                }
            }
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    let row = b.recipes(&a).get_by_id(&id).await.unwrap().unwrap();
    assert_eq!(
        row.servings, WRITERS,
        "{}: every change committed once",
        b.name
    );
    if b.name.starts_with("sqlite") {
        assert_eq!(conflicts, 0, "SQLite writers run one after another");
    }
}

/// A transaction that commits, rolls back or is dropped lets the next writer in: on SQLite
/// each holds the database's write gate until it ends, and a gate left held would make the
/// next `begin` wait and fail.
pub async fn every_ended_transaction_lets_the_next_writer_begin<DB: manifest_core::Backend>(
    b: &SqlBackend<DB>,
) {
    let [a] = tenants();
    let write = |tx: &manifest_core::SqlTransaction<DB>, name: &str| {
        let store = tx.store::<Recipe>(a.as_str());
        let recipe = Recipe::new(name, 1);
        async move { store.create(recipe).await.unwrap() }
    };
    let tx = b.db.begin().await.unwrap();
    write(&tx, "committed").await;
    tx.commit().await.unwrap();
    let tx = b.db.begin().await.unwrap();
    write(&tx, "rolled back").await;
    tx.rollback().await.unwrap();
    {
        let tx = b.db.begin().await.unwrap();
        write(&tx, "dropped").await;
    }
    let tx = b.db.begin_for(&a).await.unwrap();
    write(&tx, "last").await;
    tx.commit().await.unwrap();
    let mut names: Vec<String> = b
        .recipes(&a)
        .get_all()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    assert_eq!(names, ["committed", "last"], "{}", b.name);
}
