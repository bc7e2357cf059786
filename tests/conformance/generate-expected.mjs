// Generates the IR and the expected results of the project-written fixtures (110 and up) by
// running the published reference runtime (@angriff36/manifest 3.4.23); nothing expected is
// written by hand.
//
// For each fixture named on the command line, it:
// - compiles fixtures/<name>.manifest with the reference compiler into fixtures/<name>.ir.json;
// - reads fixtures/<name>.results.json, keeps each case's inputs (name, context, setup,
//   command, computedProperty) and replaces its expectations with what the reference runtime
//   returns when run the way its conformance harness runs a case (fresh engine, deterministic
//   ids and clock, setup instances created first, warm-up runs), on the IR just written.
//
// Set-up (once): install the reference outside the project, as the shared tools' README says:
//   cd "$(node -p 'require("os").tmpdir()')" && mkdir -p manifest-reference && cd manifest-reference \
//     && npm init -y >/dev/null && npm install @angriff36/manifest@3.4.23
// Then: node tests/conformance/generate-expected.mjs 110-compute-chain 111-compute-scope
// PEER_DIR names another folder the package was installed in.
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PEER_DIR = process.env.PEER_DIR || join(tmpdir(), 'manifest-reference');
const PKG = join(PEER_DIR, 'node_modules/@angriff36/manifest');
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const VERSION = '3.4.23';

const version = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')).version;
if (version !== VERSION) {
  console.error(`expected @angriff36/manifest ${VERSION} in ${PEER_DIR}, found ${version}`);
  process.exit(2);
}
const { compileToIR } = await import(pathToFileURL(join(PKG, 'dist/manifest/ir-compiler.js')).href);
const { RuntimeEngine } = await import(pathToFileURL(join(PKG, 'dist/manifest/runtime-engine.js')).href);

// The harness's deterministic options (conformance.test.ts).
function deterministicOptions() {
  let n = 0;
  return { generateId: () => `test-id-${++n}`, now: () => 1000000000000 };
}

const primitive = (v) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
// What JSON keeps of a value (undefined-valued keys dropped, as toEqual ignores them).
const plain = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

async function seed(engine, setup) {
  if (setup?.createInstance) await engine.createInstance(setup.createInstance.entity, setup.createInstance.data);
  for (const i of setup?.createInstances ?? []) await engine.createInstance(i.entity, i.data);
}

async function expectCommand(ir, tc) {
  const engine = new RuntimeEngine(ir, tc.context || {}, deterministicOptions());
  await seed(engine, tc.setup);
  const c = tc.command;
  const opts = { entityName: c.entityName, instanceId: c.instanceId, overrideRequests: c.overrideRequests };
  for (let i = 0; i < (c.warmupCount ?? 0); i++) await engine.runCommand(c.name, c.input, opts);
  const r = await engine.runCommand(c.name, c.input, opts);
  const out = { ...tc };
  out.expectedResult = {
    success: r.success,
    // The harness compares `result` with Object.is: only a primitive can be expected.
    ...(primitive(r.result) && { result: r.result }),
    ...(r.error !== undefined && { error: r.error }),
    ...(r.deniedBy !== undefined && { deniedBy: r.deniedBy }),
    emittedEvents: r.emittedEvents.map((e) => ({
      name: e.name,
      channel: e.channel,
      payload: plain(e.payload),
      timestamp: e.timestamp,
    })),
  };
  if (r.guardFailure) {
    out.expectedGuardFailure = { index: r.guardFailure.index, expression: r.guardFailure.formatted };
  }
  if (c.entityName && c.instanceId) {
    const state = await engine.getInstance(c.entityName, c.instanceId);
    if (state) out.expectedInstanceState = plain(state);
  }
  return out;
}

async function expectComputed(ir, tc) {
  const engine = new RuntimeEngine(ir, tc.context ?? {}, deterministicOptions());
  await seed(engine, tc.setup);
  const p = tc.computedProperty;
  return { ...tc, expectedValue: await engine.evaluateComputed(p.entity, p.instanceId, p.property) };
}

const EXPECTATIONS = ['expectedResult', 'expectedInstanceState', 'expectedGuardFailure', 'expectedPolicyDenial',
  'expectedConcurrencyConflict', 'expectedValue', 'expectedInstance'];

for (const name of process.argv.slice(2)) {
  const { ir, diagnostics } = await compileToIR(readFileSync(join(FIXTURES, `${name}.manifest`), 'utf8'));
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (!ir || errors.length) {
    console.error(`${name}: does not compile:`, JSON.stringify(errors));
    process.exit(1);
  }
  writeFileSync(join(FIXTURES, `${name}.ir.json`), `${JSON.stringify(ir, null, 2)}\n`);
  const ir2 = JSON.parse(readFileSync(join(FIXTURES, `${name}.ir.json`), 'utf8')); // as a Rust runtime reads it
  const cases = JSON.parse(readFileSync(join(FIXTURES, `${name}.results.json`), 'utf8'));
  const testCases = [];
  for (const tc of cases.testCases) {
    const inputs = Object.fromEntries(Object.entries(tc).filter(([k]) => !EXPECTATIONS.includes(k)));
    if ('command' in inputs) testCases.push(await expectCommand(ir2, inputs));
    else if ('computedProperty' in inputs) testCases.push(await expectComputed(ir2, inputs));
    else throw new Error(`${name}: case ${JSON.stringify(tc.name)}: only command and computed cases are generated`);
  }
  writeFileSync(join(FIXTURES, `${name}.results.json`), `${JSON.stringify({ testCases }, null, 2)}\n`);
  console.log(`${name}: ${testCases.length} cases from @angriff36/manifest ${version}`);
}
