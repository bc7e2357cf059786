// How the reference runtime's command cost grows with the data (memory store), for
// examples/benches/scaling.rs: the program examples/benches/scaling/customers.manifest, one
// customer, N orders in the table.
//   - visit: `mutate visits = visits + 1` on the customer, which reads no relationship, with N
//     orders of other customers in the table;
//   - countOrders: `mutate orderCount = self.orders.length` on a customer with 50 orders, among
//     N orders in all (N >= 50).
// Usage: node scaling.mjs SIZES(comma-separated) [OPS=2000] [RUNS=3]; prints µs per command
// (median of RUNS runs of OPS commands, after OPS/4 warm-up commands) and, with
// BENCH_JSON=<file>, writes them there as {"visit": {"<size>": us}, "countOrders": {...}}.
//
// With `--ir`, prints the program's IR as the reference compiles it (how
// examples/benches/scaling/customers.ir.json was made).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadReference } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const source = readFileSync(join(HERE, '../../examples/benches/scaling/customers.manifest'), 'utf8');
const { RuntimeEngine, compileToIR, version } = await loadReference();
const { ir, diagnostics } = await compileToIR(source);
if (!ir) throw new Error('compile failed: ' + JSON.stringify(diagnostics));
if (process.argv[2] === '--ir') {
  process.stdout.write(JSON.stringify(ir, null, 2) + '\n');
  process.exit(0);
}
const SIZES = (process.argv[2] ?? '0,1000,10000,50000').split(',').map(Number);
const OPS = Number(process.argv[3] ?? 2000);
const RUNS = Number(process.argv[4] ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function engineWith(orders, mine) {
  let id = 0;
  const engine = new RuntimeEngine(ir, {}, { generateId: () => `id-${++id}`, now: () => 1000000000000 });
  await engine.createInstance('Customer', { id: 'c1', name: 'One' });
  await engine.createInstance('Customer', { id: 'c2', name: 'Two' });
  for (let i = 0; i < orders; i++) {
    const customerId = i < mine ? 'c1' : 'c2';
    await engine.createInstance('Order', { id: `o-${String(i).padStart(6, '0')}`, customerId, total: i });
  }
  return engine;
}

// The reference reads every order for `self.orders`, so at 50,000 orders a command takes
// milliseconds: fewer commands there keep a round under a few seconds (µs per command is what
// is compared).
async function time(engine, command, orders) {
  const ops = command === 'countOrders' ? Math.max(100, Math.min(OPS, Math.floor(2e6 / orders))) : OPS;
  const o = { entityName: 'Customer', instanceId: 'c1' };
  for (let i = 0; i < ops / 4; i++) await engine.runCommand(command, {}, o);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) {
    const r = await engine.runCommand(command, {}, o);
    if (!r.success) throw new Error(`${command} failed: ${r.error}`);
  }
  return Number(process.hrtime.bigint() - t0) / 1e3 / ops;
}

console.log(`reference @angriff36/manifest ${version}, node ${process.version}, ops=${OPS}, runs=${RUNS}`);
const out = { version, visit: {}, countOrders: {} };
for (const size of SIZES) {
  const visit = [], count = [];
  for (let r = 0; r < RUNS; r++) {
    visit.push(await time(await engineWith(size, 0), 'visit', size));
    const engine = await engineWith(Math.max(size, 50), 50);
    count.push(await time(engine, 'countOrders', Math.max(size, 50)));
    const c1 = await engine.getInstance('Customer', 'c1');
    if (c1.orderCount !== 50) throw new Error(`countOrders gave ${c1.orderCount}, not 50`);
  }
  out.visit[size] = median(visit);
  out.countOrders[Math.max(size, 50)] = median(count);
  console.log(`orders=${size}: visit ${median(visit).toFixed(1)} us, countOrders (50 of ${Math.max(size, 50)}) ${median(count).toFixed(1)} us`);
}
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(out, null, 2) + '\n');
