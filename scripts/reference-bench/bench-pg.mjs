// Throughput of the reference runtime (published @angriff36/manifest) on PostgreSQL, with its own
// `PostgresStore` (dist/manifest/stores.node.js, over `pg`, installed with the package) given to
// `RuntimeEngine` through the `storeProvider` option; single process, sequential awaits. The
// peer of the SQL rows of examples/benches/runtime.rs, run against the same throwaway server
// (MANIFEST_PG_URL, from scripts/pg.sh) by scripts/bench-runtime.sh.
//
// Usage: MANIFEST_PG_URL=postgres://... node bench-pg.mjs [N=5000] [RUNS=5] [WARMUP=200]
// The workloads of bench.mjs, on PostgreSQL:
//   - increment: IR of fixture 04 (Counter.increment = `mutate value = value + 1` + `emit
//     CounterIncremented`), one engine per run, one pre-created instance {id: "c1", value: 0},
//     WARMUP calls, then N timed calls; the final value is checked;
//   - makePublic: IR of fixture 06 (global execute policy + mutate + emit), context
//     {user: {id: "admin-1", role: "admin"}}, instance {id: "d1", title: "T"};
//   - createInstance: IR of fixture 04, WARMUP creates then N timed creates {id: "c-<i>", value: i};
//   - incrementTx, makePublicTx: the two commands again with the reference's
//     `PostgresTransactionProvider` (transactions/postgres.js) on the store's pool as the
//     engine's `transactionProvider`: each command's writes in one BEGIN ... COMMIT.
// Every run gets a table of its own (`ref_<workload>_<random>`, created by the store; dropped
// after the run), so runs never see each other's rows, nor those of our side.
//
// What the reference's PostgresStore is, as shipped: one table `(id TEXT PRIMARY KEY, data JSONB,
// created_at, updated_at)` plus a GIN index on `data`, with NO tenant column; `update` is a
// SELECT then an UPDATE (two round trips, no version check); `create` is an INSERT ... ON
// CONFLICT (id) DO UPDATE; every call takes a client from its `pg.Pool` and gives it back. After
// the timed runs, one extra untimed run of each workload counts the statements each operation
// sends (a wrapper around pg's Client#query), printed and written to the JSON.
//
// Reports ops/s per run and the median of RUNS runs. With BENCH_JSON=<file>, also writes them
// there as JSON (read by examples/benches/runtime.rs through BENCH_REFERENCE_PG).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { loadReference, readFixture, PEER_DIR } from './lib.mjs';

const N = Number(process.argv[2] ?? 5000);
const RUNS = Number(process.argv[3] ?? 5);
const WARMUP = Number(process.argv[4] ?? 200);
const URL = process.env.MANIFEST_PG_URL;
if (!URL) {
  console.error('bench-pg.mjs: MANIFEST_PG_URL is not set (scripts/pg.sh pg_start sets it)');
  process.exit(2);
}

const { RuntimeEngine, compileToIR, version } = await loadReference();
const PKG = join(PEER_DIR, 'node_modules/@angriff36/manifest/dist/manifest');
let PostgresStore, PostgresTransactionProvider, pg;
try {
  ({ PostgresStore } = await import(pathToFileURL(join(PKG, 'stores.node.js')).href));
  ({ PostgresTransactionProvider } = await import(pathToFileURL(join(PKG, 'transactions/postgres.js')).href));
  // The same module instance stores.node.js imports (pg's ESM entry wraps this CommonJS one).
  pg = createRequire(join(PEER_DIR, 'package.json'))('pg');
} catch (e) {
  console.error(`bench-pg.mjs: cannot load the reference's PostgresStore or pg from ${PEER_DIR} (${e.message});` +
    ` install pg there: cd ${PEER_DIR} && npm install pg`);
  process.exit(2);
}

async function compile(name) {
  const { ir, diagnostics } = await compileToIR(readFixture(name));
  if (!ir) throw new Error(`compile ${name} failed: ` + JSON.stringify(diagnostics));
  return ir;
}
const ir04 = await compile('04-command-mutate-emit');
const ir06 = await compile('06-policy-denial');

let t = 0;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => Math.round(x).toLocaleString('en-US');

// Statements sent through pg, counted only while `counting` (the untimed counting runs).
let counting = false, statements = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (...args) {
  if (counting) statements++;
  return query.apply(this, args);
};

// One engine with bench.mjs's options and a fresh PostgresStore for `entity`.
function setup(ir, entity, context, tx) {
  const table = `ref_${entity.toLowerCase()}_${randomBytes(6).toString('hex')}`;
  const store = new PostgresStore({ connectionString: URL, tableName: table });
  let id = 0;
  const options = {
    generateId: () => `id-${++id}`,
    now: () => 1000000000000 + (t++),
    storeProvider: (name) => (name === entity ? store : undefined),
  };
  if (tx) options.transactionProvider = new PostgresTransactionProvider({ pool: store.pool });
  const engine = new RuntimeEngine(ir, context, options);
  const done = async () => {
    await store.pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await store.close();
  };
  return { engine, done };
}

const WORKLOADS = {
  increment: { ir: ir04, entity: 'Counter', context: {}, instance: { id: 'c1', value: 0 }, command: 'increment' },
  makePublic: {
    ir: ir06, entity: 'Document', context: { user: { id: 'admin-1', role: 'admin' } },
    instance: { id: 'd1', title: 'T' }, command: 'makePublic',
  },
};

// One run of a command workload; with `count`, n untimed calls counted instead.
async function commandRun(key, tx, n, count = false) {
  const w = WORKLOADS[key];
  const { engine, done } = setup(w.ir, w.entity, w.context, tx);
  try {
    await engine.createInstance(w.entity, { ...w.instance });
    const o = { entityName: w.entity, instanceId: w.instance.id };
    for (let i = 0; i < WARMUP; i++) {
      const r = await engine.runCommand(w.command, {}, o);
      if (!r.success) throw new Error(`${w.command} failed: ${r.error}`);
    }
    statements = 0;
    counting = count;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const r = await engine.runCommand(w.command, {}, o);
      if (!r.success) throw new Error(`${w.command} failed: ${r.error}`);
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    counting = false;
    const inst = await engine.getInstance(w.entity, w.instance.id);
    if (key === 'increment' && inst.value !== WARMUP + n) throw new Error(`bad final value ${inst.value}`);
    if (key === 'makePublic' && inst.isPublic !== true) throw new Error('makePublic did not write');
    return count ? statements / n : n / secs;
  } finally {
    counting = false;
    await done();
  }
}

async function createRun(n, count = false) {
  const { engine, done } = setup(ir04, 'Counter', {}, false);
  try {
    for (let i = 0; i < WARMUP; i++) await engine.createInstance('Counter', { id: `w-${i}`, value: i });
    statements = 0;
    counting = count;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const r = await engine.createInstance('Counter', { id: `c-${i}`, value: i });
      if (!r) throw new Error('create failed');
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    counting = false;
    return count ? statements / n : n / secs;
  } finally {
    counting = false;
    await done();
  }
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
console.log(`reference @angriff36/manifest ${version} PostgresStore, pg ${pgVersion}, ` +
  `node ${process.version}, PostgreSQL ${server}, N=${N}, runs=${RUNS}, warmup=${WARMUP}`);

const runs = {
  increment: () => commandRun('increment', false, N),
  makePublic: () => commandRun('makePublic', false, N),
  createInstance: () => createRun(N),
  incrementTx: () => commandRun('increment', true, N),
  makePublicTx: () => commandRun('makePublic', true, N),
};
const counts = {
  increment: () => commandRun('increment', false, 100, true),
  makePublic: () => commandRun('makePublic', false, 100, true),
  createInstance: () => createRun(100, true),
  incrementTx: () => commandRun('increment', true, 100, true),
  makePublicTx: () => commandRun('makePublic', true, 100, true),
};
const labels = {
  increment: 'runCommand(increment)',
  makePublic: 'runCommand(makePublic, policy+mutate+emit)',
  createInstance: 'createInstance',
  incrementTx: 'runCommand(increment), PostgresTransactionProvider',
  makePublicTx: 'runCommand(makePublic), PostgresTransactionProvider',
};
const out = {
  version, pg: pgVersion, node: process.version, postgres: server, n: N, runs: RUNS, warmup: WARMUP,
  store: 'PostgresStore (one (id, data JSONB) table per run, GIN index on data, no tenant column; update = SELECT then UPDATE)',
};
for (const [key, run] of Object.entries(runs)) {
  const xs = [];
  for (let r = 0; r < RUNS; r++) xs.push(await run());
  const perOp = await counts[key]();
  out[key] = { runs: xs, median: median(xs), statementsPerOp: perOp };
  console.log(`${labels[key].padEnd(52)} ops/s per run: ${xs.map(fmt).join(', ')}  median: ${fmt(median(xs))}` +
    `  (~${(1e6 / median(xs)).toFixed(1)} us/op, ${perOp} statements/op)`);
}
pg.Client.prototype.query = query;
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(out, null, 2) + '\n');
