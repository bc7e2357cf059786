// Compile time of the reference compiler (@angriff36/manifest 3.4.23's compileToIR, installed in
// PEER_DIR as lib.mjs says), on what manifest-compiler/examples/bench times: every fixture in
// FIXTURES (one untimed pass, then RUNS passes: per fixture the median, per pass the total), and
// each DIR/generated-<n>.manifest that the bench example wrote (one untimed compile, then RUNS).
// compileToIR caches IR by content hash; the cache is turned off ({ useCache: false }) so every
// run compiles. Prints a markdown table, and with BENCH_JSON=<file> writes the same figures.
//
// Usage: node scripts/reference-bench/bench-compile.mjs <FIXTURES> <DIR> <RUNS> <SIZES: 50,100,...>
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadReference } from './lib.mjs';

const [fixtureDir, programDir, runsArg, sizesArg] = process.argv.slice(2);
if (!fixtureDir || !programDir) {
  console.error('usage: node bench-compile.mjs <FIXTURES> <DIR> [RUNS=10] [SIZES=50,100,200,500,1000]');
  process.exit(2);
}
const runs = Number(runsArg || 10);
const sizes = (sizesArg || '50,100,200,500,1000').split(',').map(Number);
const { compileToIR, version } = await loadReference();
const options = { useCache: false };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? 0 : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const lines = (src) => src.split('\n').length - (src.endsWith('\n') ? 1 : 0);

async function timeOnce(src) {
  const start = process.hrtime.bigint();
  const { ir } = await compileToIR(src, options);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, ok: ir !== null && ir !== undefined };
}

const fixtures = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.manifest'))
  .sort()
  .map((f) => ({ name: f.replace(/\.manifest$/, ''), src: readFileSync(join(fixtureDir, f), 'utf8') }));
const each = fixtures.map(() => []);
const passes = [];
for (let r = 0; r <= runs; r++) {
  let pass = 0;
  for (const [i, f] of fixtures.entries()) {
    const { seconds } = await timeOnce(f.src);
    if (r > 0) each[i].push(seconds);
    pass += seconds;
  }
  if (r > 0) passes.push(pass);
}
const fixtureMedians = each.map(median);
const fixtureLines = fixtures.reduce((n, f) => n + lines(f.src), 0);
const out = {
  version,
  runs,
  fixtures: {
    count: fixtures.length,
    lines: fixtureLines,
    total: median(passes),
    median: median(fixtureMedians),
    each: fixtures.map((f, i) => ({ name: f.name, seconds: fixtureMedians[i] })),
  },
  generated: [],
};

console.log(`reference compileToIR (@angriff36/manifest ${version}, node ${process.version}), median of ${runs} runs\n`);
console.log('| program | lines | bytes | reference (ms) | µs / line |');
console.log('|---|---:|---:|---:|---:|');
console.log(`| ${fixtures.length} fixtures, all | ${fixtureLines} | ${fixtures.reduce((n, f) => n + Buffer.byteLength(f.src), 0)} | ${(out.fixtures.total * 1e3).toFixed(3)} | ${((out.fixtures.total * 1e6) / fixtureLines).toFixed(2)} |`);
console.log(`| fixture, median | | | ${(out.fixtures.median * 1e3).toFixed(3)} | |`);
for (const n of sizes) {
  const src = readFileSync(join(programDir, `generated-${n}.manifest`), 'utf8');
  const warm = await timeOnce(src);
  if (!warm.ok) {
    console.error(`the generated program of ${n} entities does not compile with the reference`);
    process.exit(1);
  }
  const times = [];
  for (let r = 0; r < runs; r++) times.push((await timeOnce(src)).seconds);
  const t = median(times);
  const l = lines(src);
  console.log(`| ${n} entities | ${l} | ${Buffer.byteLength(src)} | ${(t * 1e3).toFixed(3)} | ${((t * 1e6) / l).toFixed(2)} |`);
  out.generated.push({ entities: n, lines: l, bytes: Buffer.byteLength(src), seconds: t });
}
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(out));
