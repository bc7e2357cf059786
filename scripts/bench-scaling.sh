#!/usr/bin/env bash
# How a command's cost grows with the data, ours beside the reference runtime's, in one
# invocation: the reference (scripts/reference-bench/scaling.mjs, node, memory store), then ours
# (examples/benches/scaling.rs) on the memory store and on SQLite document tables (held
# connection and pool), with the reference's figures in the same tables. See BENCHMARKS.md.
#
# Env: BENCH_SCALING_SIZES (orders in the table; 0,1000,10000,50000), BENCH_SCALING_OPS
# (commands per round on memory, both sides; 20000), BENCH_SCALING_SQL_OPS (on SQLite; 1000),
# BENCH_SCALING_ROUNDS (3), BENCH_SCALING_BUILDS (engines built for the build-cost table;
# 20000), PEER_DIR (where the reference package is installed; scripts/bench-runtime.sh
# installs it there when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

export BENCH_SCALING_SIZES=${BENCH_SCALING_SIZES:-0,1000,10000,50000}
export BENCH_SCALING_OPS=${BENCH_SCALING_OPS:-20000}
export BENCH_SCALING_ROUNDS=${BENCH_SCALING_ROUNDS:-3}

cargo bench -p manifest-examples --bench scaling --no-run
WORK=$(mktemp -d "${TMPDIR:-/tmp}/manifest-bench-scaling.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

PEER_DIR=${PEER_DIR:-$(node -p 'require("os").tmpdir()' 2>/dev/null || echo /tmp)/manifest-reference}
export PEER_DIR
if command -v node >/dev/null 2>&1 && [ -f "$PEER_DIR/node_modules/@angriff36/manifest/package.json" ]; then
    echo "== reference runtime (scripts/reference-bench/scaling.mjs, memory store)"
    BENCH_JSON="$WORK/reference.json" node scripts/reference-bench/scaling.mjs \
        "$BENCH_SCALING_SIZES" "$BENCH_SCALING_OPS" "$BENCH_SCALING_ROUNDS"
    export BENCH_SCALING_REFERENCE="$WORK/reference.json"
else
    echo "scripts/bench-scaling.sh: the reference runtime is not installed in $PEER_DIR" \
        "(scripts/bench-runtime.sh installs it); running ours alone" >&2
fi
echo
echo "== manifest-rs (examples/benches/scaling.rs)"
cargo bench -p manifest-examples --bench scaling
