#!/usr/bin/env bash
# What adding one member costs for an empty group and for a group of 100,000 members.
#
# Starts the release binary on a fresh database, creates two groups and 40 users over HTTP,
# writes 100,000 users and their memberships of the second group straight into the database,
# then times 20 one-member adds (PATCH /Groups/{id}?excludedAttributes=members) into each group
# and prints the medians. Loopback, one client, curl's time_total.
#
#   bench/group-add.sh sqlite
#   bench/group-add.sh postgres postgres://roster:roster@127.0.0.1:5432/roster
set -euo pipefail
cd "$(dirname "$0")/.."

backend=${1:?usage: $0 sqlite|postgres [SERVER_URL]}
work=$(mktemp -d)
server_pid=""
database=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$database" ]; then psql -q "$2" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true; fi
  rm -rf "$work"
}
trap 'cleanup "$@"' EXIT

[ -x target/release/roster ] || cargo build --release --quiet
case "$backend" in
  sqlite) export ROSTER_DATABASE_URL="$work/roster.db" ;;
  postgres)
    database="roster_group_add_$$"
    psql -q "${2:?postgres needs a server URL}" -c "CREATE DATABASE $database"
    export ROSTER_DATABASE_URL="${2%/*}/$database"
    ;;
  *) echo "usage: $0 sqlite|postgres [SERVER_URL]" >&2; exit 2 ;;
esac

ROSTER_BIND=127.0.0.1:0 target/release/roster serve >"$work/stdout" 2>"$work/server.log" &
server_pid=$!
base=""
for _ in $(seq 1 100); do
  base=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/stdout" | head -n 1)
  [ -n "$base" ] && curl -sf "${base%/scim/v2}/healthz" >/dev/null && break
  sleep 0.1
done
token=$(target/release/roster token create --tenant bench 2>/dev/null)
auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/scim+json")
id_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }
group() { curl -sf "${auth[@]}" -X POST "$base/Groups" -d "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"$1\"}" | id_of; }
user() { curl -sf "${auth[@]}" -X POST "$base/Users" -d "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"$1\"}" | id_of; }

empty=$(group empty)
big=$(group big)
for i in $(seq 1 40); do user "newcomer$i"; done >"$work/ids"

stamp="2000-01-01T00:00:00.000000Z"
columns="INSERT INTO scim_users (id, tenant_id, user_name, user_name_lower, active, data, version, created, last_modified)"
members="INSERT INTO memberships (tenant_id, group_id, member_id, member_type, source, created)"
if [ "$backend" = sqlite ]; then
  python3 - "$work/roster.db" "$big" "$columns" "$members" "$stamp" <<'PY'
import sqlite3, sys
db, group, columns, members, stamp = sys.argv[1:]
series = "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100000) "
with sqlite3.connect(db) as conn:
    conn.execute(series + columns + " SELECT 'seed-' || i, 'bench', 'seed' || i, 'seed' || i, 1, "
                 "'{\"userName\":\"seed' || i || '\"}', 1, ?, ? FROM s", (stamp, stamp))
    conn.execute(series + members + " SELECT 'bench', ?, 'seed-' || i, 'User', 'scim', ? FROM s", (group, stamp))
PY
else
  psql -q "$ROSTER_DATABASE_URL" <<SQL
$columns SELECT 'seed-' || i, 'bench', 'seed' || i, 'seed' || i, 1, ('{"userName":"seed' || i || '"}')::jsonb, 1, '$stamp', '$stamp' FROM generate_series(1, 100000) AS s(i);
$members SELECT 'bench', '$big', 'seed-' || i, 'User', 'scim', '$stamp' FROM generate_series(1, 100000) AS s(i);
SQL
fi

add() {
  curl -s -o /dev/null -w "%{time_total} %{http_code}\n" "${auth[@]}" -X PATCH "$base/Groups/$1?excludedAttributes=members" \
    -d "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$2\"}]}]}"
}
n=0
while read -r id; do
  n=$((n + 1))
  if [ "$n" -le 20 ]; then add "$empty" "$id" >>"$work/empty"; else add "$big" "$id" >>"$work/big"; fi
done <"$work/ids"
if grep -qv " 200$" "$work/empty" "$work/big"; then echo "a PATCH failed" >&2; exit 1; fi
median_ms() { cut -d' ' -f1 "$1" | sort -n | sed -n 10p | awk '{ printf "%.1f ms", $1 * 1000 }'; }
echo "$backend: add one member to an empty group $(median_ms "$work/empty"), to a 100,000-member group $(median_ms "$work/big") (median of 20)"
