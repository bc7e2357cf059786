#!/usr/bin/env bash
# Every test of the workspace, PostgreSQL included.
#
# Starts a throwaway PostgreSQL server from the machine's binaries (scripts/pg.sh), runs
# `cargo test --workspace --all-features` against it, and stops it. Arguments go to cargo test.
# Without PostgreSQL binaries the PostgreSQL tests say they are skipped, except under CI=true,
# where a missing PostgreSQL fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
source scripts/pg.sh

trap pg_stop EXIT
if ! pg_start -c fsync=off -c synchronous_commit=off -c full_page_writes=off; then
    if [ "${CI:-}" = true ]; then
        echo "scripts/test.sh: CI=true and PostgreSQL could not be started" >&2
        exit 1
    fi
    echo "scripts/test.sh: no PostgreSQL server binaries found; PostgreSQL tests will be skipped" >&2
fi
cargo test --workspace --all-features "$@"
