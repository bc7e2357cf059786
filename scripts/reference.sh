# shellcheck shell=bash
# The published reference runtime (@angriff36/manifest 3.4.23) that the benchmarks measure beside
# ours. Sourced by scripts/bench-runtime.sh, bench-write-path.sh and bench-service.sh.
#
# reference_install [pg]: export PEER_DIR (default: manifest-reference in the system temp
# folder) and install the package there when it is missing, and, with `pg`, the pg driver its
# PostgreSQL stores need. Returns 1, saying why, without node, or without npm when something
# must be installed.

REFERENCE_VERSION=3.4.23

reference_install() {
    if ! command -v node >/dev/null 2>&1; then
        echo "the reference runtime needs node (>= 20)" >&2
        return 1
    fi
    PEER_DIR=${PEER_DIR:-$(node -p 'require("os").tmpdir()')/manifest-reference}
    export PEER_DIR
    local want_pg=${1:-}
    local missing=
    [ -f "$PEER_DIR/node_modules/@angriff36/manifest/package.json" ] || missing=1
    if [ "$want_pg" = pg ] && ! (cd "$PEER_DIR" 2>/dev/null && node -e 'require.resolve("pg")') >/dev/null 2>&1; then
        missing=1
    fi
    [ -z "$missing" ] && return 0
    if ! command -v npm >/dev/null 2>&1; then
        echo "npm is not installed, so the reference runtime (@angriff36/manifest@$REFERENCE_VERSION)" \
            "cannot be installed into $PEER_DIR; install npm (with node >= 20), or install the" \
            "package there yourself" >&2
        return 1
    fi
    mkdir -p "$PEER_DIR"
    (
        cd "$PEER_DIR"
        [ -f package.json ] || npm init -y >/dev/null
        if [ ! -f node_modules/@angriff36/manifest/package.json ]; then
            echo "installing @angriff36/manifest@$REFERENCE_VERSION into $PEER_DIR" >&2
            npm install --no-audit --no-fund "@angriff36/manifest@$REFERENCE_VERSION" >&2
        fi
        if [ "$want_pg" = pg ] && ! node -e 'require.resolve("pg")' >/dev/null 2>&1; then
            echo "installing pg (the reference's PostgreSQL stores need it) into $PEER_DIR" >&2
            npm install --no-audit --no-fund pg >&2
        fi
    )
}
