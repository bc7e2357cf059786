# shellcheck shell=bash
# Start and stop a throwaway PostgreSQL server from the machine's own binaries: a data folder
# under a temporary directory, a free loopback port, trust auth. Sourced by scripts/test.sh and
# scripts/bench.sh. After `pg_start`, MANIFEST_PG_URL points at it; `pg_stop` removes it all.
#
# PG_BIN overrides where the binaries are (default: pg_config --bindir, else the newest
# /usr/lib/postgresql/*/bin).

pg_find_bin() {
    if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/pg_ctl" ]; then return 0; fi
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir=$(pg_config --bindir 2>/dev/null || true)
        if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then PG_BIN=$dir; return 0; fi
    fi
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then PG_BIN=$dir; return 0; fi
    return 1
}

# Run a PostgreSQL binary as the `postgres` OS user when we are root (initdb refuses root).
pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$(( 20000 + RANDOM % 30000 ))
        if ! (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# pg_start [extra server settings...]: e.g. pg_start -c fsync=off
pg_start() {
    pg_find_bin || return 1
    PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/manifest-pg.XXXXXX")
    if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_TMP"; fi
    PG_PORT=$(pg_free_port) || return 1
    pg_as_owner "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres -A trust -E UTF8 \
        --locale=C --no-sync >"$PG_TMP/initdb.log" 2>&1 || { cat "$PG_TMP/initdb.log" >&2; return 1; }
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
        -o "-p $PG_PORT -k $PG_TMP -c listen_addresses=127.0.0.1 -c max_connections=200 $*" \
        start >/dev/null || { cat "$PG_TMP/server.log" >&2; return 1; }
    export MANIFEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    echo "scripts/pg.sh: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT" >&2
}

pg_stop() {
    if [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP" ]; then
        pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_TMP"
    fi
}

# pg_pin: unless BENCH_PIN=0 (or without taskset), pin the server and its helper processes to
# CPU 0; backends forked later inherit it. For the benchmarks.
pg_pin() {
    if [ "${BENCH_PIN:-1}" != 0 ] && command -v taskset >/dev/null 2>&1; then
        local postmaster pid
        postmaster=$(head -n 1 "$PG_TMP/data/postmaster.pid")
        for pid in "$postmaster" $(pgrep -P "$postmaster"); do
            taskset -a -p -c 0 "$pid" >/dev/null
        done
    fi
}
