#!/usr/bin/env bash
# The store benchmark (examples/benches/stores.rs) on SQLite and on a throwaway PostgreSQL
# server with the settings of shared/PERFORMANCE.md (synchronous_commit=off). Env: BENCH_N,
# BENCH_ROUNDS, BENCH_ALL_N, BENCH_MEMORY_GETS.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
trap pg_stop EXIT
pg_start -c synchronous_commit=off
cargo bench -p manifest-examples --bench stores "$@"
