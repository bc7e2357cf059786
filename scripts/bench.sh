#!/usr/bin/env bash
# The store benchmark (examples/benches/stores.rs) on SQLite and on a throwaway PostgreSQL
# server with the settings of shared/PERFORMANCE.md (synchronous_commit=off). Env: BENCH_N,
# BENCH_ROUNDS, BENCH_ALL_N, BENCH_MEMORY_GETS.
#
# The benchmark process is pinned to CPU 0 (BENCH_PIN=0 to turn that off): unpinned, the hand-off
# between the async task and sqlx's SQLite worker thread is bimodal on a 2-core machine (the same
# loop runs at ~15k or ~140k point reads per second depending on where the scheduler puts the
# threads), which swamps any comparison. Pinned, both sides are CPU-bound: the strictest test.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
trap pg_stop EXIT
pg_start -c synchronous_commit=off
cargo bench -p manifest-examples --bench stores --no-run
if [ "${BENCH_PIN:-1}" != 0 ] && command -v taskset >/dev/null 2>&1; then
    taskset -c 0 cargo bench -p manifest-examples --bench stores "$@"
else
    cargo bench -p manifest-examples --bench stores "$@"
fi
