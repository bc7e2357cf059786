#!/usr/bin/env bash
# Load on the example service, beside the reference peer, in one run: requests per second and
# p50/p99 latency of a read route (GET one book) and a command route (create a member) at 1, 16
# and 64 concurrent clients, and of the list route (the first page of members) with 1,000 and
# 10,000 members, from the repository's own load generator
# (examples/library-service/src/bin/load.rs), against
#   - library-service on a SQLite file,
#   - library-service on a throwaway PostgreSQL server (synchronous_commit=off),
#   - the reference runtime behind node:http with its PostgresStore on the same server
#     (scripts/reference-bench/peer-service.mjs), when node is installed.
# Env: BENCH_SECONDS (per measurement; 5), PEER_DIR (the reference package; installed there with
# npm when missing), BENCH_PIN (1, the default: the server under test and the database server
# run on CPU 0 and the load generator on CPU 1, so the load does not take the server's CPU;
# 0: nothing is pinned, all of them share the machine's cores).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${BENCH_SECONDS:-5}
cargo build --release -p library-service --bins
BIN=target/release
if [ -n "${CARGO_TARGET_DIR:-}" ]; then BIN=$CARGO_TARGET_DIR/release; fi
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/manifest-bench-service.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    pg_stop
    rm -rf "$WORK"
}
trap cleanup EXIT
pg_start -c synchronous_commit=off -c max_connections=300 >/dev/null
PIN=
if [ "${BENCH_PIN:-1}" != 0 ] && command -v taskset >/dev/null 2>&1; then PIN=1; fi
pg_pin
# server CMD... &: run the server under test in the background (on CPU 0 when pinned); `exec`,
# so that $! is the server's pid. load CMD...: run the load (on CPU 1).
server() { if [ -n "$PIN" ]; then exec taskset -c 0 "$@"; else exec "$@"; fi; }
load() { if [ -n "$PIN" ]; then taskset -c 1 "$@"; else "$@"; fi; }
export LIBRARY_SECRET=bench-secret PEER_SECRET=bench-secret
TOKEN=$("$BIN/library-service" token --tenant branch-1 --user librarian-1 --role librarian)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 1 300); do curl -sf "$1/readyz" >/dev/null 2>&1 && return 0; curl -sf "$1/api/manifest/Book" -H "Authorization: Bearer $TOKEN" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not ready: $1" >&2; return 1; }

measure() { # label base
    for route in read command; do
        for clients in 1 16 64; do
            printf '| %s ' "$1"
            load "$BIN/load" "$2" "$TOKEN" "$route" "$clients" "$SECONDS_EACH"
        done
    done
}

# measure_list label base: the first page of the members (limit 50) at 16 clients, with 1,000
# and then 10,000 members created first (and the seeded one): how a page's cost grows with the
# table. Rows go to $WORK/list.md, printed as a table of their own at the end.
measure_list() {
    local have=0 size
    for size in 1000 10000; do
        load "$BIN/load" "$2" "$TOKEN" seed 16 $((size - have)) >/dev/null
        have=$size
        printf '| %s | %s ' "$1" "$size" >>"$WORK/list.md"
        load "$BIN/load" "$2" "$TOKEN" list 16 "$SECONDS_EACH" >>"$WORK/list.md"
    done
}

echo "| server | route | clients | requests/s | p50 ms | p99 ms | errors |"
echo "|---|---|---:|---:|---:|---:|---:|"
PORT=$(free_port)
server env RUST_LOG=error "$BIN/library-service" --listen "127.0.0.1:$PORT" --database-url "sqlite://$WORK/library.db" >/dev/null &
PIDS+=($!)
wait_ready "http://127.0.0.1:$PORT"
measure_list "library-service, SQLite" "http://127.0.0.1:$PORT"
measure "library-service, SQLite" "http://127.0.0.1:$PORT"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

PORT=$(free_port)
server env RUST_LOG=error "$BIN/library-service" --listen "127.0.0.1:$PORT" --database-url "$MANIFEST_PG_URL" >/dev/null &
PIDS+=($!)
wait_ready "http://127.0.0.1:$PORT"
measure_list "library-service, PostgreSQL" "http://127.0.0.1:$PORT"
measure "library-service, PostgreSQL" "http://127.0.0.1:$PORT"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# shellcheck source=scripts/reference.sh
source scripts/reference.sh
if reference_install pg; then
    PORT=$(free_port)
    server env PEER_PORT="$PORT" node scripts/reference-bench/peer-service.mjs >"$WORK/peer.log" 2>&1 &
    PIDS+=($!)
    wait_ready "http://127.0.0.1:$PORT"
    measure_list "reference (node:http + PostgresStore)" "http://127.0.0.1:$PORT"
    measure "reference (node:http + PostgresStore)" "http://127.0.0.1:$PORT"
else
    echo "scripts/bench-service.sh: the reference peer is left out" >&2
fi

echo
echo "| server | members | route | clients | requests/s | p50 ms | p99 ms | errors |"
echo "|---|---:|---|---:|---:|---:|---:|---:|"
cat "$WORK/list.md"
