// Throughput of the reference runtime (published @angriff36/manifest) with the
// built-in MemoryStore (`store Counter in memory`), single process, sequential awaits.
//
// Usage: node bench.mjs [N=20000] [RUNS=3] [WARMUP=2000]
//   - IR: fixture 04-command-mutate-emit (Counter.increment = `mutate value = value + 1` + `emit CounterIncremented`)
//   - runCommand: one engine per run, one pre-created instance, WARMUP calls, then N timed calls
//   - createInstance: one engine per run, WARMUP creates, then N timed creates (fresh ids)
// Reports ops/s per run and the median of RUNS runs. With BENCH_JSON=<file>, also writes them
// there as JSON (read by examples/benches/runtime.rs through BENCH_REFERENCE).
//
// Copied from the project's shared reference-runtime harness (tools/reference-runtime/bench.mjs);
// the workloads and the timing are unchanged, only the JSON output is added. See README.md here.
import { writeFileSync } from 'node:fs';
import { loadReference, readFixture } from './lib.mjs';

const N = Number(process.argv[2] ?? 20000);
const RUNS = Number(process.argv[3] ?? 3);
const WARMUP = Number(process.argv[4] ?? 2000);
const { RuntimeEngine, compileToIR, version } = await loadReference();
const { ir, diagnostics } = await compileToIR(readFixture('04-command-mutate-emit'));
if (!ir) throw new Error('compile failed: ' + JSON.stringify(diagnostics));

let t = 0;
const opts = () => { let id = 0; return { generateId: () => `id-${++id}`, now: () => 1000000000000 + (t++) }; };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => Math.round(x).toLocaleString('en-US');

async function benchRunCommand() {
  const engine = new RuntimeEngine(ir, {}, opts());
  await engine.createInstance('Counter', { id: 'c1', value: 0 });
  const o = { entityName: 'Counter', instanceId: 'c1' };
  for (let i = 0; i < WARMUP; i++) await engine.runCommand('increment', {}, o);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const r = await engine.runCommand('increment', {}, o);
    if (!r.success) throw new Error('increment failed: ' + r.error);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const inst = await engine.getInstance('Counter', 'c1');
  if (inst.value !== WARMUP + N) throw new Error(`bad final value ${inst.value}`);
  return N / secs;
}

async function benchCreate() {
  const engine = new RuntimeEngine(ir, {}, opts());
  for (let i = 0; i < WARMUP; i++) await engine.createInstance('Counter', { id: `w-${i}`, value: i });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const r = await engine.createInstance('Counter', { id: `c-${i}`, value: i });
    if (!r) throw new Error('create failed');
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return N / secs;
}

// Extra: a command that goes through a global execute policy + mutate + emit (fixture 06, admin user).
const ir06 = (await compileToIR(readFixture('06-policy-denial'))).ir;
async function benchPolicyCommand() {
  const engine = new RuntimeEngine(ir06, { user: { id: 'admin-1', role: 'admin' } }, opts());
  await engine.createInstance('Document', { id: 'd1', title: 'T' });
  const o = { entityName: 'Document', instanceId: 'd1' };
  for (let i = 0; i < WARMUP; i++) await engine.runCommand('makePublic', {}, o);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const r = await engine.runCommand('makePublic', {}, o);
    if (!r.success) throw new Error('makePublic failed: ' + r.error);
  }
  return N / (Number(process.hrtime.bigint() - t0) / 1e9);
}

console.log(`reference @angriff36/manifest ${version}, node ${process.version}, N=${N}, runs=${RUNS}, warmup=${WARMUP}`);
const rc = [], cr = [];
for (let r = 0; r < RUNS; r++) { rc.push(await benchRunCommand()); }
for (let r = 0; r < RUNS; r++) { cr.push(await benchCreate()); }
const pc = [];
for (let r = 0; r < RUNS; r++) { pc.push(await benchPolicyCommand()); }
console.log(`runCommand(increment)  ops/s per run: ${rc.map(fmt).join(', ')}  median: ${fmt(median(rc))}  (~${(1e6 / median(rc)).toFixed(1)} us/op)`);
console.log(`createInstance         ops/s per run: ${cr.map(fmt).join(', ')}  median: ${fmt(median(cr))}  (~${(1e6 / median(cr)).toFixed(1)} us/op)`);
console.log(`runCommand(makePublic, policy+mutate+emit) ops/s per run: ${pc.map(fmt).join(', ')}  median: ${fmt(median(pc))}  (~${(1e6 / median(pc)).toFixed(1)} us/op)`);
if (process.env.BENCH_JSON) {
  const entry = (xs) => ({ runs: xs, median: median(xs) });
  writeFileSync(process.env.BENCH_JSON, JSON.stringify({
    version, node: process.version, n: N, runs: RUNS, warmup: WARMUP,
    increment: entry(rc), createInstance: entry(cr), makePublic: entry(pc),
  }, null, 2) + '\n');
}
