// The PEER of examples/library-service in a load benchmark: the same HTTP routes, served with the
// published reference runtime of Manifest (@angriff36/manifest, MIT, Copyright (c) 2026 Angriff36)
// loaded from PEER_DIR (see lib.mjs), on PostgreSQL through the reference's own `PostgresStore`
// (dist/manifest/stores.node.js, over `pg`), one store per entity, created as bench-pg.mjs does.
//
// Usage:
//   MANIFEST_PG_URL=postgres://... PEER_PORT=8081 PEER_SECRET=<secret> \
//     node scripts/reference-bench/peer-service.mjs
// Prints `ready` on stdout once it listens on 127.0.0.1:PEER_PORT. On SIGTERM/SIGINT it drops its
// tables and exits.
//
// What it does:
//   - compiles ../../examples/library-service/library.manifest (the program the Rust service runs,
//     whose IR its build compiles) with the reference's own compileToIR, or loads PEER_IR (IR JSON);
//   - creates one PostgresStore per entity, table `peer_<entity>_<random>` (fresh per run, so runs
//     never see each other's rows nor those of the Rust side);
//   - seeds branch `branch-1` like the Rust service's store::seed: Member member-1 "Alice"; Books
//     book-1 Dune / Frank Herbert, book-2 Emma / Jane Austen, book-3 Ulysses / James Joyce, each
//     through runCommand('create', ...) as librarian-1 (role librarian);
//   - routes (as examples/library-service/src/api.rs):
//       GET  /healthz, /readyz
//       GET  /api/manifest/{entity}?limit=&cursor=       -> {data, nextCursor}   (limit 1..500, 50)
//       GET  /api/manifest/{entity}/{id}                 -> {data}  | 404
//       POST /api/manifest/{entity}/commands/{command}       (body: a JSON object)
//       POST /api/manifest/{entity}/{id}/commands/{command}  (404 when no such instance, as Rust)
//     success -> 200 {data: result.result, events: result.emittedEvents, diagnostics}
//     failure -> {error, diagnostics}, status as the Rust service's ApiError::from_result: policy
//     denial (policyDenial / deniedBy) 403, rate limit 429, concurrency conflict 409,
//     "Command '...' not found" 404, MISSING_REQUIRED_PARAMETER 400, any other failure (guard,
//     blocking constraint, ...) 422. Malformed JSON / non-object body 400, unknown entity 404,
//     thrown error 500 {error: "internal error"}.
//   - auth: `Authorization: Bearer <token>`, an HS256 JWT {tenant, sub, role, exp} checked with
//     node:crypto (HMAC-SHA256, constant-time compare, alg must be HS256, exp must be in the
//     future, all four claims required, tenant non-empty); otherwise 401 {error}.
//
// Engines: ONE RuntimeEngine PER REQUEST, with context {user: {id: sub, role}} and the shared
// PostgresStore instances through `storeProvider`. The reference engine holds its context for
// its whole life (no per-call context), so a per-request engine is the faithful mapping of the
// Rust service's per-request Engine::builder(...).context(...); a per-tenant engine would need a
// per-(tenant, user, role) cache and would share mutable engine state across concurrent
// requests. Construction is cheap (maps of stores / relationships / roles).
//
// LIMITATION (tenancy): the reference PostgresStore, as shipped, has NO tenant column — one
// `(id, data JSONB)` table per entity for the whole run. The token's tenant is verified to be
// present but does not scope the data: every tenant sees the same rows. The benchmark uses one
// tenant (branch-1), so this does not change what is measured; the Rust side additionally pays
// for tenant scoping (row-level security).
// Outbox: the reference's PostgresOutboxStore (outbox/stores/postgres.js) on a per-run table
// `peer_outbox_<random>` (schema of its postgres.sql, minimal indexes), on the Book store's pool,
// as the engine's `outboxStore`: needed by `publish` (Loan.return publishes LoanClosed; without
// an outbox the reference refuses it with MISSING_OUTBOX_STORE), and, as in the Rust service,
// every emitted event of a successful command is enqueued. Nothing delivers the entries (the Rust
// service runs an outbox worker; here they just accumulate). PEER_OUTBOX=0 turns it off.
// Other differences: no Idempotency-Key / X-Request-Id handling, no content-type check (the
// body is parsed as JSON whatever its type), no transactionProvider (each store call and the
// outbox enqueue are separate autocommit statements, as in bench-pg.mjs's non-Tx workloads;
// the Rust service runs a command's writes and outbox entries in one transaction).
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { loadReference, PEER_DIR } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PG_URL = process.env.MANIFEST_PG_URL;
const PORT = Number(process.env.PEER_PORT ?? 8081);
const SECRET = process.env.PEER_SECRET;
if (!PG_URL || !SECRET) {
  console.error('peer-service.mjs: MANIFEST_PG_URL and PEER_SECRET must be set');
  process.exit(2);
}

const { RuntimeEngine, compileToIR, version } = await loadReference();
const PKG = join(PEER_DIR, 'node_modules/@angriff36/manifest/dist/manifest');
let PostgresStore, PostgresOutboxStore;
try {
  ({ PostgresStore } = await import(pathToFileURL(join(PKG, 'stores.node.js')).href));
  ({ PostgresOutboxStore } = await import(pathToFileURL(join(PKG, 'outbox/stores/postgres.js')).href));
} catch (e) {
  console.error(`peer-service.mjs: cannot load the reference's PostgresStore or pg from ${PEER_DIR} (${e.message});` +
    ` install pg there: cd ${PEER_DIR} && npm install pg`);
  process.exit(2);
}

async function loadIr() {
  if (process.env.PEER_IR) return JSON.parse(readFileSync(process.env.PEER_IR, 'utf8'));
  const source = readFileSync(join(HERE, '../../examples/library-service/library.manifest'), 'utf8');
  const { ir, diagnostics } = await compileToIR(source);
  if (!ir) {
    console.error(`peer-service.mjs: library.manifest does not compile: ${JSON.stringify(diagnostics)}`);
    process.exit(2);
  }
  return ir;
}
const ir = await loadIr();
const ENTITIES = new Set(ir.entities.map((e) => e.name));

// One PostgresStore (and so one pg.Pool) per entity, for the whole run; no tenant column (see above).
const suffix = randomBytes(6).toString('hex');
const stores = new Map();
for (const name of ENTITIES) {
  const tableName = `peer_${name.toLowerCase()}_${suffix}`;
  stores.set(name, { tableName, store: new PostgresStore({ connectionString: PG_URL, tableName }) });
}
const storeProvider = (name) => stores.get(name)?.store;
const OUTBOX_TABLE = `peer_outbox_${suffix}`;
const outboxPool = stores.get('Book').store.pool;
const outboxStore = process.env.PEER_OUTBOX === '0'
  ? undefined
  : new PostgresOutboxStore({ pool: outboxPool, tableName: OUTBOX_TABLE });
const engineOptions = { storeProvider, ...(outboxStore ? { outboxStore } : {}) };
const engineFor = (claims) =>
  new RuntimeEngine(ir, { user: { id: claims.sub, role: claims.role } }, engineOptions);

let closing = false;
async function dropAll() {
  try {
    await outboxPool.query(`DROP TABLE IF EXISTS "${OUTBOX_TABLE}"`);
  } catch (e) {
    console.error(`peer-service.mjs: dropping ${OUTBOX_TABLE}: ${e.message}`);
  }
  for (const { tableName, store } of stores.values()) {
    try {
      await store.pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
    } catch (e) {
      console.error(`peer-service.mjs: dropping ${tableName}: ${e.message}`);
    }
    try { await store.close(); } catch { /* already closed */ }
  }
}

// ---- setup: tables, seed ----
try {
  for (const { store } of stores.values()) await store.ensureInitialized();
  if (outboxStore) {
    await outboxPool.query(`CREATE TABLE IF NOT EXISTS "${OUTBOX_TABLE}" (
      entry_id TEXT PRIMARY KEY, enqueued_at BIGINT NOT NULL, event JSONB NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
      attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, claimed_at TIMESTAMPTZ,
      delivered_at TIMESTAMPTZ, failed_at TIMESTAMPTZ, inserted_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
      subject_entity TEXT, subject_id TEXT)`);
    await outboxPool.query(`CREATE INDEX IF NOT EXISTS "idx_${OUTBOX_TABLE}_pending" ON "${OUTBOX_TABLE}" (enqueued_at)
      WHERE status = 'pending' AND claimed_at IS NULL`);
  }
  const seeder = new RuntimeEngine(ir, { user: { id: 'librarian-1', role: 'librarian' } }, engineOptions);
  const create = async (entityName, input) => {
    const r = await seeder.runCommand('create', input, { entityName });
    if (!r.success) throw new Error(`seeding ${entityName}: ${r.error}`);
  };
  await create('Member', { id: 'member-1', name: 'Alice', email: 'alice@example.org' });
  for (const [id, title, author] of [
    ['book-1', 'Dune', 'Frank Herbert'],
    ['book-2', 'Emma', 'Jane Austen'],
    ['book-3', 'Ulysses', 'James Joyce'],
  ]) await create('Book', { id, title, author });
} catch (e) {
  console.error(`peer-service.mjs: setup failed: ${e.stack || e}`);
  await dropAll();
  process.exit(1);
}

// ---- JWT (HS256) ----
const b64urlJson = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
function verify(token) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('malformed token');
  const [h, p, s] = parts;
  const header = b64urlJson(h);
  if (header?.alg !== 'HS256') throw new Error('the token is not HS256');
  const expected = createHmac('sha256', SECRET).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Error('bad signature');
  const claims = b64urlJson(p);
  for (const k of ['tenant', 'sub', 'role']) {
    if (typeof claims?.[k] !== 'string') throw new Error(`missing claim ${k}`);
  }
  if (typeof claims.exp !== 'number') throw new Error('missing claim exp');
  if (claims.exp <= Date.now() / 1000) throw new Error('the token has expired');
  if (claims.tenant === '') throw new Error('the token names no tenant');
  return claims;
}

// ---- HTTP ----
function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
const fail = (res, status, error, diagnostics = null) => send(res, status, { error, diagnostics });

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 1 << 20) { reject(new Error('too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function statusOf(r) {
  if (r.policyDenial || r.deniedBy !== undefined) return 403;
  if (r.rateLimitDenial) return 429;
  if (r.concurrencyConflict) return 409;
  const e = typeof r.error === 'string' ? r.error : '';
  if (e.startsWith("Command '") && e.endsWith("' not found")) return 404;
  if (e.startsWith('MISSING_REQUIRED_PARAMETER')) return 400;
  return 422; // guardFailure, blocking constraint, anything else
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://peer');
  let segs;
  try {
    segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return fail(res, 400, 'bad path');
  }
  if (req.method === 'GET' && (url.pathname === '/healthz' || url.pathname === '/readyz')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    return res.end(url.pathname === '/healthz' ? 'ok' : 'ready');
  }
  if (segs[0] !== 'api' || segs[1] !== 'manifest' || segs.length < 3) return fail(res, 404, 'not found');
  const [, , entity, ...rest] = segs;
  let route;
  if (req.method === 'GET' && rest.length === 0) route = 'list';
  else if (req.method === 'GET' && rest.length === 1) route = 'one';
  else if (req.method === 'POST' && rest.length === 2 && rest[0] === 'commands') route = 'new';
  else if (req.method === 'POST' && rest.length === 3 && rest[1] === 'commands') route = 'on';
  else return fail(res, rest.length <= 3 ? 405 : 404, 'no such route');

  // Auth first (the Rust extractor rejects before the handler runs).
  const auth = req.headers.authorization;
  if (!auth) return fail(res, 401, 'a bearer token is required');
  if (!auth.startsWith('Bearer ')) return fail(res, 401, 'the Authorization header must be `Bearer <token>`');
  let claims;
  try {
    claims = verify(auth.slice(7));
  } catch (e) {
    return fail(res, 401, `the token is not valid: ${e.message}`);
  }

  if (!ENTITIES.has(entity)) return fail(res, 404, `no entity \`${entity}\``);
  const engine = engineFor(claims);

  if (route === 'list') {
    const raw = url.searchParams.get('limit');
    let limit = 50;
    if (raw !== null) {
      if (!/^\d+$/.test(raw)) return fail(res, 400, 'limit must be a non-negative integer');
      limit = Number(raw);
    }
    limit = Math.min(500, Math.max(1, limit));
    const cursor = url.searchParams.get('cursor');
    // The store returns rows by created_at; the Rust service pages in id order.
    const all = (await engine.getAllInstances(entity))
      .filter((m) => cursor === null || (typeof m.id === 'string' && m.id > cursor))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const data = all.slice(0, limit);
    const nextCursor = data.length === limit ? data[data.length - 1]?.id ?? null : null;
    return send(res, 200, { data, nextCursor });
  }
  if (route === 'one') {
    const inst = await engine.getInstance(entity, rest[0]);
    if (!inst) return fail(res, 404, `no \`${entity}\` with id \`${rest[0]}\``);
    return send(res, 200, { data: inst });
  }

  // Commands.
  let input;
  try {
    input = JSON.parse(await readBody(req));
  } catch (e) {
    return fail(res, 400, `the body is not valid JSON: ${e.message}`);
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return fail(res, 400, 'the body must be a JSON object');
  }
  const command = route === 'new' ? rest[1] : rest[2];
  const options = { entityName: entity };
  if (route === 'on') {
    const id = rest[0];
    // As the Rust service: a command on an instance that does not exist is a 404.
    if (!(await engine.getInstance(entity, id))) return fail(res, 404, `no \`${entity}\` with id \`${id}\``);
    options.instanceId = id;
  }
  const r = await engine.runCommand(command, input, options);
  if (!r.success) {
    const { success, error, emittedEvents, result, ...diagnostics } = r;
    return fail(res, statusOf(r), error ?? 'the command failed', diagnostics);
  }
  return send(res, 200, { data: r.result ?? null, events: r.emittedEvents ?? [], diagnostics: r.constraintOutcomes ?? [] });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    console.error(`peer-service.mjs: ${req.method} ${req.url}: ${e.stack || e}`);
    if (!res.headersSent) fail(res, 500, 'internal error');
    else res.destroy();
  });
});
server.keepAliveTimeout = 65_000;

async function shutdown() {
  if (closing) return;
  closing = true;
  server.close();
  server.closeAllConnections?.();
  await dropAll();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.listen(PORT, '127.0.0.1', () => {
  console.error(`peer-service.mjs: reference @angriff36/manifest ${version}, node ${process.version}, ` +
    `tables peer_*_${suffix}${outboxStore ? ' (with outbox)' : ''}, http://127.0.0.1:${PORT}`);
  console.log('ready');
});
