//! The outbox table's statements: each backend's templates ([`OutboxDialect`]) and one
//! table's statements built from them ([`OutboxSql`]).

use crate::error::{Error, Result};
use crate::store::sql::Backend;

/// The table's columns, in the order every statement returns them.
pub(super) const COLUMNS: &[&str] = &[
    "tenant_id",
    "id",
    "seq",
    "event_name",
    "channel",
    "payload",
    "event_timestamp",
    "entity",
    "instance_id",
    "command",
    "correlation_id",
    "causation_id",
    "enqueued_at",
    "status",
    "attempts",
    "available_at",
    "lease_owner",
    "lease_until",
    "last_error",
];

/// The default table.
pub(super) const DEFAULT_TABLE: &str = "manifest_outbox";

/// One backend's statements, `{table}` standing for the quoted table name, `{columns}` for the
/// returned columns and `{index}` for the table name, unquoted, as a prefix of index names.
///
/// Parameters: `enqueue` 1 the entries as a JSON array of objects (with their position
/// `pos`); `claim` 1 worker, 2 now, 3 lease end, 4 limit; `mark_delivered` and `release` 1
/// worker, 2 the ids as a JSON array; `mark_failed` 1 worker, 2 id, 3 error, 4 retry time or
/// NULL; `dead_letters` 1 tenant, 2 limit; `requeue` 1 tenant, 2 ids, 3 now; `entries` 1
/// tenant; `purge` 1 the time before which delivered entries go.
pub(super) struct OutboxDialect {
    create: &'static [&'static str],
    columns: &'static str,
    enqueue: &'static str,
    claim: &'static str,
    mark_delivered: &'static str,
    mark_failed: &'static str,
    release: &'static str,
    dead_letters: &'static str,
    requeue: &'static str,
    entries: &'static str,
    purge: &'static str,
    /// Whether claims, failures and releases take the table's advisory lock in a transaction
    /// of their own (PostgreSQL); on SQLite each is one statement under the single writer.
    locks: bool,
}

/// The claim's rule, shared by both dialects: pending, available, unleased or lease expired,
/// and no earlier pending entry of the same subject (tenant, entity, instance) that is not
/// claimable now. `$is` is the null-safe equality (`IS` on SQLite, `IS NOT DISTINCT FROM` on
/// PostgreSQL), `$now` the parameter holding the time, `$fence` what ends the subquery.
macro_rules! claimable {
    ($is:literal, $now:literal, $fence:literal) => {
        concat!(
            r#""c"."status" = 'pending' AND "c"."available_at" <= "#,
            $now,
            r#" AND ("c"."lease_until" IS NULL OR "c"."lease_until" <= "#,
            $now,
            r#") AND NOT EXISTS (SELECT 1 FROM {table} AS "e" WHERE "e"."status" = 'pending' AND "e"."tenant_id" = "c"."tenant_id" AND "e"."instance_id" = "c"."instance_id" AND "e"."entity" "#,
            $is,
            r#" "c"."entity" AND "e"."seq" < "c"."seq" AND ("e"."available_at" > "#,
            $now,
            r#" OR "e"."lease_until" > "#,
            $now,
            ")",
            $fence,
            ")"
        )
    };
}

/// SQLite, in a `STRICT` table. `seq` is one more than the highest stored for each entry in
/// order: an `INSERT` takes the database's write lock before it reads, so no two enqueues
/// read the same highest `seq` (the unique index on `seq` makes sure). Each claim is one
/// `UPDATE`, which holds the write lock from its first read to its last write, so claims
/// (and failures and releases, one statement each) are serialised by SQLite itself.
#[cfg(feature = "sqlite")]
pub(super) const SQLITE: OutboxDialect = OutboxDialect {
    create: &[
        r#"CREATE TABLE IF NOT EXISTS {table} ("tenant_id" TEXT NOT NULL, "id" TEXT NOT NULL, "seq" INTEGER NOT NULL, "event_name" TEXT NOT NULL, "channel" TEXT NOT NULL, "payload" TEXT NOT NULL CHECK (json_type("payload") = 'object'), "event_timestamp" TEXT, "entity" TEXT, "instance_id" TEXT, "command" TEXT NOT NULL, "correlation_id" TEXT, "causation_id" TEXT, "enqueued_at" INTEGER NOT NULL, "status" TEXT NOT NULL CHECK ("status" IN ('pending', 'delivered', 'dead')), "attempts" INTEGER NOT NULL CHECK ("attempts" >= 0), "available_at" INTEGER NOT NULL, "lease_owner" TEXT, "lease_until" INTEGER, "last_error" TEXT, PRIMARY KEY ("tenant_id", "id")){suffix}"#,
        r#"CREATE UNIQUE INDEX IF NOT EXISTS "{index}__seq" ON {table} ("seq")"#,
        r#"CREATE INDEX IF NOT EXISTS "{index}__pending" ON {table} ("seq") WHERE "status" = 'pending'"#,
        r#"CREATE INDEX IF NOT EXISTS "{index}__subject" ON {table} ("tenant_id", "instance_id", "seq") WHERE "status" = 'pending' AND "instance_id" IS NOT NULL"#,
        r#"CREATE INDEX IF NOT EXISTS "{index}__lease" ON {table} ("lease_owner", "id") WHERE "lease_owner" IS NOT NULL"#,
        r#"CREATE INDEX IF NOT EXISTS "{index}__dead" ON {table} ("tenant_id", "seq") WHERE "status" = 'dead'"#,
    ],
    columns: r#""tenant_id", "id", "seq", "event_name", "channel", "payload", "event_timestamp", "entity", "instance_id", "command", "correlation_id", "causation_id", "enqueued_at", "status", "attempts", "available_at", "lease_owner", "lease_until", "last_error""#,
    enqueue: r#"INSERT INTO {table} ("tenant_id", "id", "seq", "event_name", "channel", "payload", "event_timestamp", "entity", "instance_id", "command", "correlation_id", "causation_id", "enqueued_at", "status", "attempts", "available_at") SELECT "value" ->> '$.tenant_id', "value" ->> '$.id', (SELECT COALESCE(MAX("seq"), 0) FROM {table}) + "key" + 1, "value" ->> '$.event_name', "value" ->> '$.channel', "value" -> '$.payload', "value" -> '$.event_timestamp', "value" ->> '$.entity', "value" ->> '$.instance_id', "value" ->> '$.command', "value" ->> '$.correlation_id', "value" ->> '$.causation_id', "value" ->> '$.enqueued_at', 'pending', 0, "value" ->> '$.available_at' FROM json_each(?1) ORDER BY "key""#,
    claim: concat!(
        r#"UPDATE {table} SET "lease_owner" = ?1, "lease_until" = ?3, "attempts" = "attempts" + 1 WHERE ("tenant_id", "id") IN (SELECT "c"."tenant_id", "c"."id" FROM {table} AS "c" WHERE "#,
        claimable!("IS", "?2", ""),
        r#" ORDER BY "c"."seq" LIMIT ?4) RETURNING {columns}"#
    ),
    mark_delivered: r#"UPDATE {table} SET "status" = 'delivered', "lease_owner" = NULL, "lease_until" = NULL WHERE "lease_owner" = ?1 AND "status" = 'pending' AND "id" IN (SELECT "value" FROM json_each(?2))"#,
    mark_failed: r#"UPDATE {table} SET "last_error" = ?3, "lease_owner" = NULL, "lease_until" = NULL, "available_at" = COALESCE(?4, "available_at"), "status" = CASE WHEN ?4 IS NULL THEN 'dead' ELSE 'pending' END WHERE "lease_owner" = ?1 AND "id" = ?2 AND "status" = 'pending'"#,
    release: r#"UPDATE {table} SET "lease_owner" = NULL, "lease_until" = NULL, "attempts" = CASE WHEN "attempts" > 0 THEN "attempts" - 1 ELSE 0 END WHERE "lease_owner" = ?1 AND "status" = 'pending' AND "id" IN (SELECT "value" FROM json_each(?2))"#,
    dead_letters: r#"SELECT {columns} FROM {table} WHERE "tenant_id" = ?1 AND "status" = 'dead' ORDER BY "seq" LIMIT ?2"#,
    requeue: r#"UPDATE {table} SET "status" = 'pending', "attempts" = 0, "available_at" = ?3, "lease_owner" = NULL, "lease_until" = NULL WHERE "tenant_id" = ?1 AND "status" = 'dead' AND "id" IN (SELECT "value" FROM json_each(?2))"#,
    entries: r#"SELECT {columns} FROM {table} WHERE "tenant_id" = ?1 ORDER BY "seq""#,
    purge: r#"DELETE FROM {table} WHERE "status" = 'delivered' AND "enqueued_at" < ?1"#,
    locks: false,
};

/// PostgreSQL. `seq` is an identity column, given in the order of the entries' positions;
/// JSON columns are `JSONB`, ids sort bytewise (`COLLATE "C"`). A claim runs in a
/// transaction that first takes the table's advisory lock (`pg_advisory_xact_lock`, sent with
/// the `BEGIN`), so that no two claims decide on one subject from snapshots that miss each
/// other's leases; its `FOR UPDATE SKIP LOCKED` keeps it off rows being marked delivered
/// meanwhile. A failure and a release take the lock too, so that a claim sees a subject's
/// head either before they changed it or after, never half-way. The subject check ends with
/// `OFFSET 0`, which keeps it a subquery run for each candidate on the subject index (the
/// planner would otherwise be free to turn it into an anti-join that reads every pending
/// entry, which with stale statistics over a growing backlog it does). The id lists are
/// `= ANY(ARRAY(..))`, one array built once, not a join.
#[cfg(feature = "postgres")]
pub(super) const POSTGRES: OutboxDialect = OutboxDialect {
    create: &[
        r#"CREATE TABLE IF NOT EXISTS {table} ("tenant_id" TEXT NOT NULL, "id" TEXT COLLATE "C" NOT NULL, "seq" BIGINT GENERATED ALWAYS AS IDENTITY, "event_name" TEXT NOT NULL, "channel" TEXT NOT NULL, "payload" JSONB NOT NULL CHECK (jsonb_typeof("payload") = 'object'), "event_timestamp" JSONB, "entity" TEXT, "instance_id" TEXT, "command" TEXT NOT NULL, "correlation_id" TEXT, "causation_id" TEXT, "enqueued_at" BIGINT NOT NULL, "status" TEXT NOT NULL CHECK ("status" IN ('pending', 'delivered', 'dead')), "attempts" INTEGER NOT NULL CHECK ("attempts" >= 0), "available_at" BIGINT NOT NULL, "lease_owner" TEXT, "lease_until" BIGINT, "last_error" TEXT, PRIMARY KEY ("tenant_id", "id")){suffix}"#,
        r#"CREATE INDEX IF NOT EXISTS "{index}__pending" ON {table} ("seq") WHERE "status" = 'pending'"#,
        r#"CREATE INDEX IF NOT EXISTS "{index}__subject" ON {table} ("tenant_id", "instance_id", "seq") WHERE "status" = 'pending' AND "instance_id" IS NOT NULL"#,
        r#"CREATE INDEX IF NOT EXISTS "{index}__lease" ON {table} ("lease_owner", "id") WHERE "lease_owner" IS NOT NULL"#,
        r#"CREATE INDEX IF NOT EXISTS "{index}__dead" ON {table} ("tenant_id", "seq") WHERE "status" = 'dead'"#,
    ],
    columns: r#""tenant_id", "id", "seq", "event_name", "channel", "payload"::text, "event_timestamp"::text, "entity", "instance_id", "command", "correlation_id", "causation_id", "enqueued_at", "status", "attempts", "available_at", "lease_owner", "lease_until", "last_error""#,
    enqueue: r#"INSERT INTO {table} ("tenant_id", "id", "event_name", "channel", "payload", "event_timestamp", "entity", "instance_id", "command", "correlation_id", "causation_id", "enqueued_at", "status", "attempts", "available_at") SELECT "r"."tenant_id", "r"."id", "r"."event_name", "r"."channel", "r"."payload", "r"."event_timestamp", "r"."entity", "r"."instance_id", "r"."command", "r"."correlation_id", "r"."causation_id", "r"."enqueued_at", 'pending', 0, "r"."available_at" FROM jsonb_to_recordset($1::jsonb) AS "r"("pos" BIGINT, "tenant_id" TEXT, "id" TEXT, "event_name" TEXT, "channel" TEXT, "payload" JSONB, "event_timestamp" JSONB, "entity" TEXT, "instance_id" TEXT, "command" TEXT, "correlation_id" TEXT, "causation_id" TEXT, "enqueued_at" BIGINT, "available_at" BIGINT) ORDER BY "r"."pos""#,
    claim: concat!(
        r#"WITH "picked" AS MATERIALIZED (SELECT "c"."tenant_id", "c"."id" FROM {table} AS "c" WHERE "#,
        claimable!("IS NOT DISTINCT FROM", "$2", " OFFSET 0"),
        r#" ORDER BY "c"."seq" LIMIT $4 FOR UPDATE OF "c" SKIP LOCKED) UPDATE {table} SET "lease_owner" = $1, "lease_until" = $3, "attempts" = {table}."attempts" + 1 FROM "picked" WHERE {table}."tenant_id" = "picked"."tenant_id" AND {table}."id" = "picked"."id" RETURNING {returning}"#
    ),
    mark_delivered: r#"UPDATE {table} SET "status" = 'delivered', "lease_owner" = NULL, "lease_until" = NULL WHERE "lease_owner" = $1 AND "status" = 'pending' AND "id" = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))"#,
    mark_failed: r#"UPDATE {table} SET "last_error" = $3, "lease_owner" = NULL, "lease_until" = NULL, "available_at" = COALESCE($4, "available_at"), "status" = CASE WHEN $4 IS NULL THEN 'dead' ELSE 'pending' END WHERE "lease_owner" = $1 AND "id" = $2 AND "status" = 'pending'"#,
    release: r#"UPDATE {table} SET "lease_owner" = NULL, "lease_until" = NULL, "attempts" = CASE WHEN "attempts" > 0 THEN "attempts" - 1 ELSE 0 END WHERE "lease_owner" = $1 AND "status" = 'pending' AND "id" = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))"#,
    dead_letters: r#"SELECT {columns} FROM {table} WHERE "tenant_id" = $1 AND "status" = 'dead' ORDER BY "seq" LIMIT $2"#,
    requeue: r#"UPDATE {table} SET "status" = 'pending', "attempts" = 0, "available_at" = $3, "lease_owner" = NULL, "lease_until" = NULL WHERE "tenant_id" = $1 AND "status" = 'dead' AND "id" = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))"#,
    entries: r#"SELECT {columns} FROM {table} WHERE "tenant_id" = $1 ORDER BY "seq""#,
    purge: r#"DELETE FROM {table} WHERE "status" = 'delivered' AND "enqueued_at" < $1"#,
    locks: true,
};

/// The dialect of `DB` (sealed: SQLite or PostgreSQL).
#[cfg_attr(
    not(feature = "postgres"),
    expect(
        clippy::extra_unused_type_parameters,
        reason = "SQLite is the only dialect then"
    )
)]
fn dialect<DB: Backend>() -> &'static OutboxDialect {
    #[cfg(feature = "postgres")]
    if <DB as sqlx::Database>::NAME == "PostgreSQL" {
        return &POSTGRES;
    }
    #[cfg(feature = "sqlite")]
    {
        &SQLITE
    }
    #[cfg(not(feature = "sqlite"))]
    {
        &POSTGRES
    }
}

/// One outbox table's statements, built once.
#[derive(Debug)]
pub(super) struct OutboxSql {
    pub(super) table: String,
    pub(super) create: Vec<String>,
    pub(super) enqueue: String,
    pub(super) claim: String,
    pub(super) mark_delivered: String,
    pub(super) mark_failed: String,
    pub(super) release: String,
    pub(super) dead_letters: String,
    pub(super) requeue: String,
    pub(super) entries: String,
    pub(super) purge: String,
    /// With `locks`: the statement beginning a claim's, failure's or release's transaction,
    /// taking the table's advisory lock in the same round trip.
    pub(super) lock: Option<String>,
}

impl OutboxSql {
    /// The statements of `table` on `DB` ([`Error::InvalidName`] if it cannot be the name).
    pub(super) fn new<DB: Backend>(table: &str) -> Result<Self> {
        check_table_name(table)?;
        Ok(Self::build::<DB>(table))
    }

    /// The statements of `table`, a name [`check_table_name`] accepts.
    pub(super) fn build<DB: Backend>(table: &str) -> Self {
        let dialect = dialect::<DB>();
        let quoted = format!("\"{table}\"");
        let returning = dialect
            .columns
            .split(", ")
            .map(|c| format!("{quoted}.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = |template: &str| {
            template
                .replace("{table}", &quoted)
                .replace("{index}", table)
                .replace("{columns}", dialect.columns)
                .replace("{returning}", &returning)
                .replace("{suffix}", DB::TABLE_SUFFIX)
        };
        OutboxSql {
            table: table.to_owned(),
            create: dialect.create.iter().map(|s| sql(s)).collect(),
            enqueue: sql(dialect.enqueue),
            claim: sql(dialect.claim),
            mark_delivered: sql(dialect.mark_delivered),
            mark_failed: sql(dialect.mark_failed),
            release: sql(dialect.release),
            dead_letters: sql(dialect.dead_letters),
            requeue: sql(dialect.requeue),
            entries: sql(dialect.entries),
            purge: sql(dialect.purge),
            lock: dialect.locks.then(|| {
                format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({})",
                    advisory_key(table)
                )
            }),
        }
    }
}

/// The advisory lock key of `table`: a hash of its name (FNV-1a, 64 bits), so that each
/// outbox table has its own and other applications' keys are unlikely to meet it.
fn advisory_key(table: &str) -> i64 {
    let hash = "manifest-rs outbox "
        .bytes()
        .chain(table.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// An outbox table name: `[A-Za-z_][A-Za-z0-9_]*`, at most 48 bytes (its index names add up
/// to 9 to it, within PostgreSQL's 63), not SQLite's reserved `sqlite_` prefix.
fn check_table_name(table: &str) -> Result<()> {
    let mut chars = table.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && table.len() <= 48
        && !table.to_ascii_lowercase().starts_with("sqlite_");
    if ok {
        return Ok(());
    }
    Err(Error::InvalidName {
        entity: "outbox".to_owned(),
        name: table.to_owned(),
        reason: "an outbox table name is an ASCII identifier of at most 48 bytes, not starting \
                 with `sqlite_`"
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert!(check_table_name("manifest_outbox").is_ok());
        assert!(check_table_name(&"a".repeat(48)).is_ok());
        for bad in [
            "",
            "1abc",
            "a-b",
            "a\"b",
            "sqlite_x",
            "SQLite_x",
            &"a".repeat(49),
        ] {
            assert!(
                matches!(check_table_name(bad), Err(Error::InvalidName { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn advisory_keys_differ_by_table() {
        assert_ne!(advisory_key("a"), advisory_key("b"));
        assert_eq!(advisory_key("a"), advisory_key("a"));
    }
}
