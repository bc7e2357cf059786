#!/usr/bin/env bash
# The write path's cost, ours beside the reference runtime's, in one invocation, on one throwaway
# PostgreSQL server (synchronous_commit=off, as the other benchmarks): first the reference
# (scripts/reference-bench/bench-write-path.mjs: its PostgresStore, PostgresTransactionProvider,
# PostgresOutboxStore, PostgresIdempotencyStore and PostgresAuditSink), then ours
# (examples/benches/write_path.rs) on a SQLite file and on the same server, the reference's
# medians beside our rows. See BENCHMARKS.md.
#
# Env: BENCH_WP_N (calls per round, both sides; 2000), BENCH_WP_ROUNDS (5), BENCH_WP_WARMUP (100),
# PEER_DIR (where the reference package is installed; installed there with npm when missing),
# BENCH_PIN=0 (no CPU pinning; by default ours and the server run on CPU 0, as in
# scripts/bench-runtime.sh, and the reference unpinned, its best case).
set -euo pipefail
cd "$(dirname "$0")/.."

export BENCH_WP_N=${BENCH_WP_N:-2000}
export BENCH_WP_ROUNDS=${BENCH_WP_ROUNDS:-5}
export BENCH_WP_WARMUP=${BENCH_WP_WARMUP:-100}

pin() {
    if [ "${BENCH_PIN:-1}" != 0 ] && command -v taskset >/dev/null 2>&1; then
        taskset -c 0 "$@"
    else
        "$@"
    fi
}

# Build first, so that nothing compiles between the measurements.
cargo bench -p manifest-examples --bench write_path --no-run

# shellcheck source=scripts/pg.sh
source scripts/pg.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/manifest-bench-wp.XXXXXX")
cleanup() {
    pg_stop
    rm -rf "$WORK"
}
trap cleanup EXIT
if pg_start -c synchronous_commit=off; then
    pg_pin
else
    echo "scripts/bench-write-path.sh: no PostgreSQL binaries found (PG_BIN): PostgreSQL left out" >&2
    unset MANIFEST_PG_URL
fi

# shellcheck source=scripts/reference.sh
source scripts/reference.sh
if [ -n "${MANIFEST_PG_URL:-}" ] && reference_install pg; then
    echo "== reference runtime (scripts/reference-bench/bench-write-path.mjs)"
    BENCH_JSON="$WORK/reference-wp.json" node scripts/reference-bench/bench-write-path.mjs \
        "$BENCH_WP_N" "$BENCH_WP_ROUNDS" "$BENCH_WP_WARMUP"
    export BENCH_REFERENCE_WP="$WORK/reference-wp.json"
    if [ -x "$PG_BIN/psql" ]; then "$PG_BIN/psql" -q "$MANIFEST_PG_URL" -c CHECKPOINT; fi
else
    echo "scripts/bench-write-path.sh: the reference needs node (>= 20), npm and PostgreSQL; running ours alone" >&2
fi

echo
echo "== manifest-rs (examples/benches/write_path.rs)"
pin cargo bench -p manifest-examples --bench write_path
