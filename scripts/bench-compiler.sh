#!/usr/bin/env bash
# Compile time, ours (manifest-compiler, release: manifest-compiler/examples/bench) beside the
# reference compiler's compileToIR (@angriff36/manifest 3.4.23, node:
# scripts/reference-bench/bench-compile.mjs) in one invocation, on the same inputs: every fixture
# in manifest-compiler/tests/fixtures, and generated programs of BENCH_COMPILE_SIZES entities
# (40 lines an entity: 500 entities are 20,000 lines), written by our bench and read by the
# reference's. Same repetitions on both sides (BENCH_COMPILE_RUNS, medians; one warm-up). Prints
# both tables, then the ratio (reference / ours) per program, the time per line of each, what 50x
# would need, and our irHash alone (SHA-256 of the canonical text of the whole IR, which any
# compiler computing upstream's provenance must write and hash).
#
# Env: BENCH_COMPILE_RUNS (10), BENCH_COMPILE_SIZES (50,100,200,500,1000), PEER_DIR (where the
# reference package is installed; installed there with npm when missing), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/reference.sh
source scripts/reference.sh

RUNS=${BENCH_COMPILE_RUNS:-10}
SIZES=${BENCH_COMPILE_SIZES:-50,100,200,500,1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p manifest-compiler --example bench
target=${CARGO_TARGET_DIR:-target}
"$target/release/examples/bench" --runs "$RUNS" --sizes "$SIZES" \
    --write-programs "$work" --json "$work/ours.json"
echo
reference_install
BENCH_JSON="$work/reference.json" node scripts/reference-bench/bench-compile.mjs \
    manifest-compiler/tests/fixtures "$work" "$RUNS" "$SIZES"
echo
node - "$work/ours.json" "$work/reference.json" <<'JS'
const fs = require('fs');
const [ours, ref] = process.argv.slice(2).map((p) => JSON.parse(fs.readFileSync(p, 'utf8')));
const ms = (s) => (s * 1e3).toFixed(3);
const row = (name, lines, o, r, hash) =>
  console.log(`| ${name} | ${lines} | ${ms(o)} | ${ms(r)} | ${(r / o).toFixed(1)}× | ${lines ? ((o * 1e6) / lines).toFixed(2) : ''} | ${lines ? ((r * 1e6) / lines).toFixed(2) : ''} | ${ms(r / 50)} | ${hash === undefined ? '' : ms(hash)} |`);
console.log(`ours vs reference compileToIR (${ref.version}), median of ${ours.runs} runs\n`);
console.log('| program | lines | ours (ms) | reference (ms) | speed-up | ours µs/line | reference µs/line | 50× needs (ms) | our irHash alone (ms) |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
row(`${ours.fixtures.count} fixtures, all`, ours.fixtures.lines, ours.fixtures.total, ref.fixtures.total, ours.fixtures.hashTotal);
row('fixture, median', '', ours.fixtures.median, ref.fixtures.median, ours.fixtures.hashMedian);
for (const g of ours.generated) {
  const r = ref.generated.find((x) => x.entities === g.entities);
  if (r) row(`${g.entities} entities`, g.lines, g.seconds, r.seconds, g.hashSeconds);
}
JS
