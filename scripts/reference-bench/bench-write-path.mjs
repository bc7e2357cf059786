// Throughput of the reference runtime (published @angriff36/manifest) with its whole PostgreSQL
// write path around `runCommand`: its PostgresStore (dist/manifest/stores.node.js) for both
// entities, its PostgresTransactionProvider (transactions/postgres.js), PostgresOutboxStore
// (outbox/stores/postgres.js), PostgresIdempotencyStore (idempotency/stores/postgres.js) and
// PostgresAuditSink (audit/sinks/postgres.js), all given to `RuntimeEngine` through its options
// (storeProvider, transactionProvider, outboxStore, idempotencyStore, auditSink). Single process,
// sequential awaits. The peer of our write-path benchmark on the same program; see
// /work/shared/reference/write-path.md for what the reference does around runCommand.
//
// Usage: MANIFEST_PG_URL=postgres://... node bench-write-path.mjs [N=2000] [RUNS=5] [WARMUP=100]
//
// Program: tests/write-path/bank.ir.json (compiled by the reference's compiler 3.4.23):
// `Account.deposit(amount)` = guard amount > 0, two mutates, emit Deposited; the reaction
// `on Deposited run Ledger.record` (resolve payload._subject.id, amount: payload.amount) =
// guard amount < 1000, two mutates, emit Recorded. One Account {id: "a1"} and one Ledger
// {id: "a1"} are created before each run; then WARMUP calls, then N timed calls of
// runCommand('deposit', {amount: 1}, {entityName: 'Account', instanceId: 'a1'}).
//
// Workloads (one engine and fresh tables per run):
//   - bare: PostgresStore only (no transaction provider, outbox, idempotency or audit);
//   - tx: + PostgresTransactionProvider on the Account store's pool;
//   - full: + PostgresTransactionProvider + PostgresOutboxStore + PostgresIdempotencyStore (a
//     fresh key per call, `k-<run>-<i>`) + PostgresAuditSink, all on the Account store's pool;
//   - fullNoIdem: `full` without the idempotency store. Not a write path anyone would choose;
//     it is here because, with an idempotency store, the reference runs every reaction without
//     a key, and the reaction fails before doing anything (see below): this row shows what the
//     same path costs when the reaction does run.
// The outbox, idempotency and audit tables are created from the package's own companion schemas
// (src/manifest/{outbox,idempotency}/stores/postgres.sql, src/manifest/audit/sinks/postgres.sql),
// with the table and index names made per run.
//
// Checks after every run: every top-level command succeeded; the Account's balance and deposits
// grew by WARMUP+N; the Ledger's entries (= reactions that succeeded), the outbox rows by event
// name, and the audit records by (command, outcome) are read back and reported. A top-level
// failure or a wrong balance aborts; what the reference does with reactions is reported, not
// enforced, and every difference from the expected (WARMUP+N reactions; for the outbox
// 2*(WARMUP+N) entries, Deposited + Recorded) is printed as a finding.
//
// After the timed runs, one extra untimed run per workload counts the statements each command
// sends (a wrapper around pg's Client#query, as in bench-pg.mjs; BEGIN/COMMIT count), in total
// and by kind. Reports ops/s per run, the median of RUNS runs and us/op; with BENCH_JSON=<file>,
// also writes it all there as JSON. Every table is dropped after its run.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { loadReference, PEER_DIR } from './lib.mjs';

const N = Number(process.argv[2] ?? 2000);
const RUNS = Number(process.argv[3] ?? 5);
const WARMUP = Number(process.argv[4] ?? 100);
const COUNT_N = 100;
const URL = process.env.MANIFEST_PG_URL;
if (!URL) {
  console.error('bench-write-path.mjs: MANIFEST_PG_URL is not set (scripts/pg.sh pg_start sets it)');
  process.exit(2);
}

const HERE = dirname(fileURLToPath(import.meta.url));
const IR_PATH = process.env.WRITE_PATH_IR || join(HERE, '../../tests/write-path/bank.ir.json');
const ROOT = join(PEER_DIR, 'node_modules/@angriff36/manifest');
const PKG = join(ROOT, 'dist/manifest');

const { RuntimeEngine, version } = await loadReference();
let PostgresStore, PostgresTransactionProvider, PostgresOutboxStore, PostgresIdempotencyStore;
let PostgresAuditSink, pg;
const SCHEMA = {};
try {
  ({ PostgresStore } = await import(pathToFileURL(join(PKG, 'stores.node.js')).href));
  ({ PostgresTransactionProvider } = await import(pathToFileURL(join(PKG, 'transactions/postgres.js')).href));
  ({ PostgresOutboxStore } = await import(pathToFileURL(join(PKG, 'outbox/stores/postgres.js')).href));
  ({ PostgresIdempotencyStore } = await import(pathToFileURL(join(PKG, 'idempotency/stores/postgres.js')).href));
  ({ PostgresAuditSink } = await import(pathToFileURL(join(PKG, 'audit/sinks/postgres.js')).href));
  SCHEMA.outbox = readFileSync(join(ROOT, 'src/manifest/outbox/stores/postgres.sql'), 'utf8');
  SCHEMA.idempotency = readFileSync(join(ROOT, 'src/manifest/idempotency/stores/postgres.sql'), 'utf8');
  SCHEMA.audit = readFileSync(join(ROOT, 'src/manifest/audit/sinks/postgres.sql'), 'utf8');
  // The same module instance stores.node.js imports (pg's ESM entry wraps this CommonJS one).
  pg = createRequire(join(PEER_DIR, 'package.json'))('pg');
} catch (e) {
  console.error(`bench-write-path.mjs: cannot load the reference's PostgreSQL adapters, their schemas or pg` +
    ` from ${PEER_DIR} (${e.message}); install pg there: cd ${PEER_DIR} && npm install pg`);
  process.exit(2);
}
// Default table (and index-name prefix) of each companion schema, renamed per run.
const SCHEMA_NAMES = {
  outbox: ['manifest_outbox_entries', 'idx_manifest_outbox_'],
  idempotency: ['manifest_idempotency_keys', 'idx_manifest_idempotency_'],
  audit: ['manifest_audit_records', 'idx_manifest_audit_'],
};
function schemaFor(kind, table) {
  const [defTable, defIdx] = SCHEMA_NAMES[kind];
  return SCHEMA[kind].split(defIdx).join(`idx_${table}_`).split(defTable).join(table);
}

const ir = JSON.parse(readFileSync(IR_PATH, 'utf8'));

let t = 0;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => Math.round(x).toLocaleString('en-US');

// Statements sent through pg, counted only while `counting`: in total and by kind, the kind
// being the statement's verb and which of this run's tables it names.
let counting = false, statements = 0, byKind = {}, tableRoles = [];
function kindOf(text) {
  const s = String(text).trim();
  const verb = s.split(/\s+/, 1)[0].toUpperCase();
  const role = tableRoles.find(([name]) => s.includes(`"${name}"`));
  return role ? `${verb} ${role[1]}` : verb;
}
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (...args) {
  if (counting) {
    statements++;
    const text = typeof args[0] === 'string' ? args[0] : args[0]?.text;
    const k = kindOf(text);
    byKind[k] = (byKind[k] ?? 0) + 1;
  }
  return query.apply(this, args);
};

const WORKLOADS = {
  bare: { tx: false, outbox: false, idempotency: false, audit: false },
  tx: { tx: true, outbox: false, idempotency: false, audit: false },
  full: { tx: true, outbox: true, idempotency: true, audit: true },
  fullNoIdem: { tx: true, outbox: true, idempotency: false, audit: true },
};
const LABELS = {
  bare: 'bare (PostgresStore)',
  tx: 'tx (+ PostgresTransactionProvider)',
  full: 'full (+ outbox, idempotency, audit)',
  fullNoIdem: 'fullNoIdem (full without idempotency)',
};

// One engine for workload `w`, with fresh tables.
async function setup(w) {
  const tag = randomBytes(5).toString('hex');
  const names = {
    account: `ref_wp_account_${tag}`,
    ledger: `ref_wp_ledger_${tag}`,
    outbox: `ref_wp_outbox_${tag}`,
    idempotency: `ref_wp_idem_${tag}`,
    audit: `ref_wp_audit_${tag}`,
  };
  const account = new PostgresStore({ connectionString: URL, tableName: names.account });
  const ledger = new PostgresStore({ connectionString: URL, tableName: names.ledger });
  const pool = account.pool;
  const created = [names.account, names.ledger];
  let id = 0;
  const options = {
    generateId: () => `id-${++id}`,
    now: () => 1000000000000 + (t++),
    storeProvider: (name) => (name === 'Account' ? account : name === 'Ledger' ? ledger : undefined),
  };
  for (const kind of ['outbox', 'idempotency', 'audit']) {
    if (!w[kind]) continue;
    await pool.query(schemaFor(kind, names[kind]));
    created.push(names[kind]);
  }
  if (w.tx) options.transactionProvider = new PostgresTransactionProvider({ pool });
  if (w.outbox) options.outboxStore = new PostgresOutboxStore({ pool, tableName: names.outbox });
  if (w.idempotency) options.idempotencyStore = new PostgresIdempotencyStore({ pool, tableName: names.idempotency });
  if (w.audit) options.auditSink = new PostgresAuditSink({ pool, tableName: names.audit });
  const engine = new RuntimeEngine(ir, {}, options);
  tableRoles = Object.entries(names).map(([role, name]) => [name, role]);
  const done = async () => {
    for (const table of created) await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await ledger.close();
    await account.close();
  };
  return { engine, pool, names, done };
}

// One run of workload `key` (`run` names its idempotency keys); with `count`, n untimed calls
// counted instead. Returns the rate (or statements per command) and what was read back.
async function runOnce(key, run, n, count = false) {
  const w = WORKLOADS[key];
  const { engine, pool, names, done } = await setup(w);
  try {
    await engine.createInstance('Account', { id: 'a1' });
    await engine.createInstance('Ledger', { id: 'a1' });
    const before = await engine.getInstance('Account', 'a1');
    const o = { entityName: 'Account', instanceId: 'a1' };
    let i = 0;
    const call = async () => {
      const opts = w.idempotency ? { ...o, idempotencyKey: `k-${run}-${i}` } : o;
      i++;
      const r = await engine.runCommand('deposit', { amount: 1 }, opts);
      if (!r.success) throw new Error(`${key}: deposit #${i} failed: ${r.error}`);
      return r;
    };
    let last;
    for (let k = 0; k < WARMUP; k++) last = await call();
    statements = 0;
    byKind = {};
    counting = count;
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < n; k++) last = await call();
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    counting = false;

    const total = WARMUP + n;
    const acc = await engine.getInstance('Account', 'a1');
    if (acc.balance - (before.balance ?? 0) !== total || acc.deposits - (before.deposits ?? 0) !== total) {
      throw new Error(`${key}: balance ${acc.balance}, deposits ${acc.deposits} after ${total} deposits`);
    }
    const led = await engine.getInstance('Ledger', 'a1');
    const check = {
      commands: total,
      balanceGrewBy: acc.balance - (before.balance ?? 0),
      reactionsSucceeded: led.entries ?? 0,
      ledgerTotal: led.total ?? 0,
      lastEmitted: last.emittedEvents.map((e) => e.name),
    };
    if (w.outbox) {
      const r = await pool.query(`SELECT event->>'name' AS name, count(*)::int AS n FROM "${names.outbox}" GROUP BY 1 ORDER BY 1`);
      check.outbox = Object.fromEntries(r.rows.map((x) => [x.name, x.n]));
      check.outboxEntries = r.rows.reduce((s, x) => s + x.n, 0);
    }
    if (w.idempotency) {
      check.idempotencyKeys = (await pool.query(`SELECT count(*)::int AS n FROM "${names.idempotency}"`)).rows[0].n;
    }
    if (w.audit) {
      const r = await pool.query(`SELECT command_id, outcome, diagnostics->>'error' AS error, count(*)::int AS n
        FROM "${names.audit}" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`);
      check.audit = r.rows;
    }
    return { value: count ? statements / n : n / secs, check, byKind: count ? byKind : undefined };
  } finally {
    counting = false;
    await done();
  }
}

// What differs from a write path that runs every reaction and keeps every event.
function findings(key, check) {
  const out = [];
  const w = WORKLOADS[key];
  if (check.reactionsSucceeded !== check.commands) {
    out.push(`${check.reactionsSucceeded} of ${check.commands} reactions (Ledger.record) succeeded`);
  }
  if (w.outbox && check.outboxEntries !== 2 * check.commands) {
    out.push(`outbox holds ${check.outboxEntries} entries (${JSON.stringify(check.outbox)}), not ${2 * check.commands}`);
  }
  if (w.audit) {
    for (const a of check.audit) {
      if (a.outcome !== 'success') out.push(`audit: ${a.n} x ${a.command_id} ${a.outcome}: ${a.error}`);
    }
  }
  return out;
}

const server = await (async () => {
  const pool = new pg.Pool({ connectionString: URL, max: 1 });
  try {
    return (await pool.query('SHOW server_version')).rows[0].server_version;
  } finally {
    await pool.end();
  }
})();
const pgVersion = createRequire(join(PEER_DIR, 'package.json'))('pg/package.json').version;
console.log(`reference @angriff36/manifest ${version} write path on PostgreSQL, pg ${pgVersion}, ` +
  `node ${process.version}, PostgreSQL ${server}, N=${N}, runs=${RUNS}, warmup=${WARMUP}`);

const out = {
  version, pg: pgVersion, node: process.version, postgres: server, n: N, runs: RUNS, warmup: WARMUP,
  program: 'tests/write-path/bank.ir.json: Account.deposit(amount: 1) + reaction on Deposited run Ledger.record',
  auditSink: 'PostgresAuditSink (audit/sinks/postgres.js), on the Account store pool, outside the transaction',
};
const rows = [];
for (const key of Object.keys(WORKLOADS)) {
  const xs = [];
  let check;
  for (let r = 0; r < RUNS; r++) {
    const res = await runOnce(key, r, N);
    xs.push(res.value);
    check = res.check;
  }
  const counted = await runOnce(key, RUNS, COUNT_N, true);
  const f = findings(key, check);
  const m = median(xs);
  out[key] = {
    runs: xs, median: m, usPerOp: 1e6 / m, statementsPerCommand: counted.value,
    statementsByKind: Object.fromEntries(Object.entries(counted.byKind).map(([k, v]) => [k, v / COUNT_N])),
    check, findings: f,
  };
  rows.push([LABELS[key], m, counted.value]);
  console.log(`${LABELS[key].padEnd(40)} ops/s per run: ${xs.map(fmt).join(', ')}  median: ${fmt(m)}`);
  console.log(`  statements/command ${counted.value}: ` +
    Object.entries(out[key].statementsByKind).map(([k, v]) => `${k} ${v}`).join(', '));
  for (const line of f) console.log(`  finding: ${line}`);
}
pg.Client.prototype.query = query;

console.log();
console.log(`${'workload'.padEnd(40)} ${'ops/s'.padStart(8)} ${'us/op'.padStart(8)} ${'stmts/cmd'.padStart(10)}`);
for (const [label, m, s] of rows) {
  console.log(`${label.padEnd(40)} ${fmt(m).padStart(8)} ${(1e6 / m).toFixed(1).padStart(8)} ${String(s).padStart(10)}`);
}
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(out, null, 2) + '\n');
