#!/usr/bin/env bash
# Runs the scim2-tester compliance checker (PyPI, pinned in requirements.txt) against a live
# Roster on a fresh database, and fails on any failed check.
#
#   conformance/run.sh sqlite
#   ROSTER_TEST_DATABASE_URL=postgres://roster:roster@127.0.0.1:5432/roster conformance/run.sh postgres
#
# The binary is $ROSTER_BIN, else target/debug/roster (built if missing). For PostgreSQL a
# database is created on the server of ROSTER_TEST_DATABASE_URL and dropped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

backend=${1:-sqlite}
work=$(mktemp -d)
server_pid=""
database=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$database" ]; then psql -q "$ROSTER_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

target_dir=${CARGO_TARGET_DIR:-target}
binary=${ROSTER_BIN:-$target_dir/debug/roster}
if [ -z "${ROSTER_BIN:-}" ] && [ ! -x "$binary" ]; then cargo build --quiet; fi

venv=$target_dir/conformance-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r conformance/requirements.txt

case "$backend" in
  sqlite) export ROSTER_DATABASE_URL="$work/roster.db" ;;
  postgres)
    server=${ROSTER_TEST_DATABASE_URL:?set ROSTER_TEST_DATABASE_URL=postgres://user:pass@host:port/db}
    database="roster_conformance_$$"
    psql -q "$server" -c "CREATE DATABASE $database"
    export ROSTER_DATABASE_URL="${server%/*}/$database"
    ;;
  *) echo "usage: $0 sqlite|postgres" >&2; exit 2 ;;
esac

ROSTER_BIND=127.0.0.1:0 "$binary" serve >"$work/stdout" 2>"$work/server.log" &
server_pid=$!
base_url=""
for _ in $(seq 1 100); do
  base_url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/stdout" | head -n 1)
  [ -n "$base_url" ] && curl -sf "${base_url%/scim/v2}/healthz" >/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base_url" ] || { echo "roster did not start" >&2; cat "$work/server.log" >&2; exit 1; }

token=$("$binary" token create --tenant conformance --scope "scim:read scim:write" --sub scim2-tester 2>/dev/null)

echo "== scim2-tester on $backend against $base_url"
"$venv/bin/python" conformance/check.py "$base_url" "$token"
