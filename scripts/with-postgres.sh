#!/usr/bin/env bash
# Runs a command beside a private, throwaway PostgreSQL server and returns the command's status.
# The server lives in a fresh temporary directory (initdb), listens only on a unix socket in
# that directory (no TCP port, so parallel runs never collide), trusts local connections, and is
# stopped and deleted when the command ends, however it ends. The command gets
#   WEFT_TEST_PG_URL   a conninfo for the database weft_test on that server
# The server skips fsync: it is for tests only, its data dies with it. Benchmarks that must
# pay for durable commits, as a real server does, set WEFT_PG_DURABLE=1.
#
# Usage: scripts/with-postgres.sh CMD [ARGS...]
# As root the server runs as the `postgres` system user (PostgreSQL refuses to run as root);
# the command itself keeps the caller's identity.
# Environment: WEFT_PG_BINDIR  the directory of initdb and pg_ctl (default: the newest
#                              /usr/lib/postgresql/*/bin, else the PATH)
set -euo pipefail

if (($# == 0)); then
    echo "usage: scripts/with-postgres.sh CMD [ARGS...]" >&2
    exit 2
fi

has_server_programs() {
    local p
    for p in initdb pg_ctl postgres pg_isready psql; do
        [[ -x $1/$p ]] || return 1
    done
}

bindir=${WEFT_PG_BINDIR:-}
if [[ -z $bindir ]]; then
    shopt -s nullglob
    candidates=(/usr/lib/postgresql/*/bin)
    shopt -u nullglob
    for d in $(printf '%s\n' "${candidates[@]}" | sort -V -r); do
        if has_server_programs "$d"; then
            bindir=$d
            break
        fi
    done
fi
if [[ -z $bindir ]] && command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    bindir=$(dirname "$(command -v initdb)")
fi
if [[ -z $bindir ]] || ! has_server_programs "$bindir"; then
    echo "with-postgres: PostgreSQL server programs (initdb, pg_ctl, postgres) not found;" \
        "install the 'postgresql' package (scripts/setup-debian.sh does) or set WEFT_PG_BINDIR" >&2
    exit 1
fi

# As root, everything the server touches belongs to `postgres`, and it lives under /tmp: the
# caller's TMPDIR may sit in a home directory that user cannot enter.
as_server=()
tmp=${TMPDIR:-/tmp}
if ((EUID == 0)); then
    if ! id postgres >/dev/null 2>&1; then
        echo "with-postgres: running as root needs the 'postgres' system user (the postgresql" \
            "package creates it); PostgreSQL refuses to run as root" >&2
        exit 1
    fi
    as_server=(setpriv --reuid=postgres --regid=postgres --init-groups)
    tmp=/tmp
fi
# A unix socket path is limited to 107 bytes: a long TMPDIR falls back to /tmp.
if ((${#tmp} > 60)); then tmp=/tmp; fi

dir=$(mktemp -d "$tmp/weft-pg.XXXXXX")
data=$dir/data
log=$dir/server.log  # written by the server's user; the setup steps log to setup.log
setup_log=$dir/setup.log
server_pid=

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local status=$?
    if [[ -n $server_pid ]]; then
        (cd "$dir" && "${as_server[@]}" "$bindir/pg_ctl" -D "$data" stop -m fast -w -t 30) \
            >/dev/null 2>&1 || echo "with-postgres: warning: the server did not stop cleanly" >&2
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if ((EUID == 0)); then chown postgres: "$dir"; fi

# The server's programs run from inside the directory: as `postgres`, the caller's working
# directory may not be readable.
server() { (cd "$dir" && "${as_server[@]}" "$@"); }

fail_with_log() {
    echo "with-postgres: $1" >&2
    local f
    for f in "$setup_log" "$log"; do
        if [[ -f $f ]]; then sed 's/^/  | /' "$f" >&2; fi
    done
    exit 1
}

server "$bindir/initdb" -D "$data" -A trust -U weft -E UTF8 --locale=C --no-sync >"$setup_log" 2>&1 ||
    fail_with_log "initdb failed"
cat >>"$data/postgresql.conf" <<EOF

# scripts/with-postgres.sh: private, unix socket only
listen_addresses = ''
unix_socket_directories = '$dir'
max_connections = 40
EOF
if [[ ${WEFT_PG_DURABLE:-0} != 1 ]]; then
    printf '%s\n' '# no durability: tests only' 'fsync = off' 'synchronous_commit = off' \
        'full_page_writes = off' >>"$data/postgresql.conf"
fi

# The server is this script's child, not a daemon started by pg_ctl: whatever kills the
# script's process tree (a test driver's timeout) takes the server with it.
(cd "$dir" && exec "${as_server[@]}" "$bindir/postgres" -D "$data") >>"$log" 2>&1 </dev/null &
server_pid=$!
for ((i = 0; i < 600; i++)); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        server_pid=
        fail_with_log "the server did not start"
    fi
    if "$bindir/pg_isready" -q -h "$dir" -d postgres -U weft; then break; fi
    sleep 0.1
done
"$bindir/pg_isready" -q -h "$dir" -d postgres -U weft || fail_with_log "the server did not start in 60 s"
server "$bindir/psql" -h "$dir" -U weft -d postgres -X -q -v ON_ERROR_STOP=1 \
    -c 'CREATE DATABASE weft_test' >>"$setup_log" 2>&1 ||
    fail_with_log "cannot create the database weft_test"

export WEFT_TEST_PG_URL="host=$dir user=weft dbname=weft_test"
set +e
"$@"
status=$?
set -e
exit "$status"
