#!/usr/bin/env bash
# CSV import benchmark for Roster: release build, loopback, the HTTP API, generated people
# (bench/import_csv.py: email, names, department, title, employee id, groups, manager, ...).
#
# Per backend, on a fresh database and a fresh server each:
#   preview+commit  POST /api/v1/imports?dry_run=true with an N-row file (--rows, 100,000), wait
#                   until it is `previewed`, POST .../commit, wait until `completed`; records the
#                   two durations and their sum, and checks that N users exist afterwards.
#   memory          POST /api/v1/imports with the N-row file and, on another fresh server, with
#                   the M-row file (--big, 1,000,000): the server's peak RSS (VmHWM) of each, to
#                   show that memory does not grow with the file. Skipped with --big 0.
#   floor           after preview+commit: the database's own cost of storing what that commit
#                   stored. The rows of the tables a committed import writes (users, e-mail rows,
#                   memberships, invitations, outbox, import rows and errors) are loaded into an
#                   empty copy of the same database (same schema and indexes) in one transaction,
#                   with the fastest bulk path each backend has: COPY on PostgreSQL, INSERT ...
#                   SELECT from the attached file on SQLite (the server's WAL, synchronous=NORMAL
#                   and bulk page cache). No parsing, no round trips, no application work: a lower
#                   bound for any implementation of the commit alone on this machine. Reports wall
#                   time per table and the machine's busy CPU seconds during the load.
# The durations are wall time from the first byte of the upload to the status change seen by
# polling GET /api/v1/imports/{id} every 100 ms. The load average before each run is recorded,
# since the machine may be shared. Prints a markdown table and writes it to
# bench/results/import-<backend>-<date>.md.
#
# Usage:
#   bench/import.sh                                   # SQLite
#   bench/import.sh --postgres postgres://u:p@127.0.0.1:5432/postgres   # SQLite, then PostgreSQL
#   bench/import.sh --backend postgres --postgres URL --big 0
# Options: --rows N (100000) --big M (1000000; 0 skips) --backend sqlite|postgres|all
#          --runs preview,memory,floor (the default is preview,memory; `floor` needs `preview`)
#          --postgres URL (a role that may CREATE DATABASE) [ROSTER_BENCH_PG_URL]
#          --no-build / --bin PATH   --results DIR (bench/results)   --keep (keep the work dir)
# Needs: cargo, python3, curl, jq; psql for PostgreSQL (and pg_dump for `floor`).

set -Eeuo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$BENCH")"
ROWS=100000
BIG=1000000
BACKEND=""
PG_URL="${ROSTER_BENCH_PG_URL:-}"
BUILD=1
BIN=""
RESULTS="$BENCH/results"
KEEP=0
RUNS="preview,memory"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) ROWS="$2"; shift 2 ;;
    --big) BIG="$2"; shift 2 ;;
    --backend) BACKEND="$2"; shift 2 ;;
    --postgres) PG_URL="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --bin) BIN="$2"; BUILD=0; shift 2 ;;
    --results) RESULTS="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --runs) RUNS="$2"; shift 2 ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n "$BACKEND" ]] || BACKEND=$([[ -n "$PG_URL" ]] && echo all || echo sqlite)
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
if [[ -z "$BIN" ]]; then
  BIN="$TARGET/release/roster"
  if [[ $BUILD == 1 ]]; then (cd "$REPO" && cargo build --release -q); fi
fi
[[ -x "$BIN" ]] || { echo "no roster binary at $BIN" >&2; exit 1; }

WORK="$(mktemp -d /tmp/roster-import-bench.XXXXXX)"
SERVER_PID=""
PG_DB=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ -n "$PG_DB" ]]; then drop_database "$PG_DB" 2>/dev/null || true; fi
  if [[ $KEEP == 0 ]]; then rm -rf "$WORK"; else echo "work dir kept: $WORK" >&2; fi
}
trap cleanup EXIT

# Drops a PostgreSQL database. Right after a large import an autovacuum worker may be on it,
# which FORCE may not end for a role without pg_signal_backend: wait for it instead.
drop_database() {
  local tries
  for tries in $(seq 1 30); do
    psql "$PG_URL" -qAtc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1 && return 0
    sleep 1
  done
  psql "$PG_URL" -qAtc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
}

SECRET="import-bench-secret-0123456789abcdef"
export ROSTER_JWT_SECRET="$SECRET"

gen() { # rows file
  [[ -s "$2" ]] || python3 "$BENCH/import_csv.py" --rows "$1" --out "$2"
}

# Starts a server on a fresh database of backend $1; sets BASE, SERVER_PID, TOKEN.
start_server() {
  local backend="$1" url
  stop_server
  if [[ "$backend" == postgres ]]; then
    PG_DB="roster_import_bench_$$_$RANDOM"
    psql "$PG_URL" -qAtc "CREATE DATABASE $PG_DB" >/dev/null
    url="${PG_URL%/*}/$PG_DB"
  else
    rm -f "$WORK"/roster.db*
    url="$WORK/roster.db"
  fi
  ROSTER_DATABASE_URL="$url" ROSTER_BIND=127.0.0.1:0 RUST_LOG="${RUST_LOG:-info}" \
    "$BIN" serve >"$WORK/server.out" 2>"$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    BASE=$(sed -n 's#.*listening on \(http://[^ ]*\)/scim/v2.*#\1#p' "$WORK/server.out" | head -1)
    [[ -n "$BASE" ]] && curl -fs "$BASE/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  [[ -n "$BASE" ]] || { cat "$WORK/server.log" >&2; exit 1; }
  TOKEN=$(ROSTER_DATABASE_URL="$url" "$BIN" token create --tenant bench --scope "scim:read scim:write import admin" 2>/dev/null)
  while read -r group; do
    curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/scim+json' \
      -d "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"$group\"}" "$BASE/scim/v2/Groups"
  done < <(python3 "$BENCH/import_csv.py" --groups)
}

stop_server() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
  if [[ -n "$PG_DB" ]]; then drop_database "$PG_DB"; PG_DB=""; fi
}

now() { date +%s.%N; }
api() { curl -fsS -H "Authorization: Bearer $TOKEN" "$@"; }

# Polls an import until its status is no longer `running`; prints the final JSON.
wait_import() {
  local id="$1" body status
  while true; do
    body=$(api "$BASE/api/v1/imports/$id")
    status=$(jq -r .status <<<"$body")
    [[ "$status" != running ]] && { echo "$body"; return; }
    sleep 0.1
  done
}

peak_rss_mib() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$SERVER_PID/status"; }
user_count() { api "$BASE/scim/v2/Users?count=0" | jq -r .totalResults; }
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }

# The tables a committed import writes rows to, in the order a commit fills them.
FLOOR_TABLES="scim_users user_emails memberships invitations outbox import_rows import_errors"

# Busy and stolen CPU seconds of the whole machine so far, from /proc/stat.
machine_cpu() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{printf "%.2f %.2f\n", ($2+$3+$4+$7+$8)/hz, $9/hz}' /proc/stat; }

# Loads the rows the import stored into an empty copy of its database and prints the seconds
# per table, their total and the machine's CPU meanwhile. The server must be stopped.
storage_floor() {
  local backend="$1" before after times
  echo
  echo "Storage floor ($backend): the rows the commit stored, loaded into an empty copy of the database in one transaction."
  echo
  echo "| table | rows | load s |"
  echo "|---|---:|---:|"
  if [[ "$backend" == postgres ]]; then
    local source="${PG_URL%/*}/$PG_DB" copy_db="${PG_DB}_floor" target script="$WORK/floor.sql" table
    target="${PG_URL%/*}/$copy_db"
    psql "$PG_URL" -qAtc "CREATE DATABASE $copy_db" >/dev/null
    pg_dump --schema-only --no-owner "$source" | psql -q "$target" >/dev/null
    for table in $FLOOR_TABLES; do
      psql "$source" -qc "\\copy $table to '$WORK/$table.copy'" >/dev/null
    done
    { echo '\timing on'; echo 'BEGIN;'
      for table in $FLOOR_TABLES; do echo "\\copy $table from '$WORK/$table.copy'"; done
      echo 'COMMIT;'; } >"$script"
    psql "$target" -qc CHECKPOINT 2>/dev/null || true  # needs pg_checkpoint; only steadies the figure
    before=($(machine_cpu))
    # One "Time:" line per statement: BEGIN, each table, COMMIT.
    mapfile -t times < <(psql "$target" -f "$script" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
    after=($(machine_cpu))
    local i=1 total=0 seconds
    for table in $FLOOR_TABLES; do
      seconds=$(bc -l <<<"${times[$i]}/1000")
      total=$(bc -l <<<"$total+$seconds")
      printf '| %s | %s | %.2f |\n' "$table" "$(wc -l <"$WORK/$table.copy")" "$seconds"
      i=$((i + 1))
    done
    seconds=$(bc -l <<<"${times[$i]}/1000")
    printf '| (commit) | | %.2f |\n| **total** | | **%.2f** |\n' "$seconds" "$(bc -l <<<"$total+$seconds")"
    drop_database "$copy_db"
  else
    # The copy is made and emptied first (untimed); the load alone is timed, with the machine's
    # CPU read just around it.
    python3 - "$WORK/roster.db" "$WORK/floor.db" $FLOOR_TABLES <<'PY'
import os, sqlite3, sys, time

source, target, tables = sys.argv[1], sys.argv[2], sys.argv[3:]

def machine_cpu():
    fields = open("/proc/stat").readline().split()[1:]
    hz = os.sysconf("SC_CLK_TCK")
    busy = sum(int(fields[i]) for i in (0, 1, 2, 5, 6))
    return busy / hz, int(fields[7]) / hz

for suffix in ("", "-wal", "-shm"):
    if os.path.exists(target + suffix):
        os.remove(target + suffix)
db = sqlite3.connect(source)
db.execute("VACUUM INTO ?", (target,))
db.close()
db = sqlite3.connect(target, isolation_level=None)
for table in tables:
    db.execute(f"DELETE FROM {table}")
db.execute("VACUUM")
for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "cache_size = -65536"):
    db.execute(f"PRAGMA {pragma}")
db.execute("ATTACH ? AS source", (source,))
before, total = machine_cpu(), 0.0
db.execute("BEGIN")
for table in tables:
    start = time.perf_counter()
    rows = db.execute(f"INSERT INTO main.{table} SELECT * FROM source.{table}").rowcount
    seconds = time.perf_counter() - start
    total += seconds
    print(f"| {table} | {rows} | {seconds:.2f} |")
start = time.perf_counter()
db.execute("COMMIT")
seconds = time.perf_counter() - start
after = machine_cpu()
print(f"| (commit) | | {seconds:.2f} |\n| **total** | | **{total + seconds:.2f}** |")
print(f"\nMachine CPU during the load: {after[0] - before[0]:.2f} s busy, {after[1] - before[1]:.2f} s stolen by the hypervisor.")
PY
    return
  fi
  echo
  printf '\nMachine CPU during the load: %.2f s busy, %.2f s stolen by the hypervisor.\n' \
    "$(bc <<<"${after[0]}-${before[0]}")" "$(bc <<<"${after[1]}-${before[1]}")"
}

run_backend() {
  local backend="$1" file="$WORK/people-$ROWS.csv" big="$WORK/people-$BIG.csv" t0 t1 t2 id body
  gen "$ROWS" "$file"
  local out="$RESULTS/import-$backend-$(date -u +%F).md"
  mkdir -p "$RESULTS"
  {
    echo "# CSV import, $backend, $(date -u '+%F %H:%M UTC'), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -r). Release build, loopback."
    echo
    echo "| run | rows | preview s | commit s | total s | users after | peak RSS MiB | load avg before |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
  } >"$out"

  local load
  if [[ ",$RUNS," == *,preview,* ]]; then
  start_server "$backend"
  load=$(load_avg)
  t0=$(now)
  body=$(api -H 'Content-Type: text/csv' --data-binary "@$file" "$BASE/api/v1/imports?dry_run=true")
  id=$(jq -r .id <<<"$body")
  body=$(wait_import "$id")
  t1=$(now)
  [[ $(jq -r .status <<<"$body") == previewed ]] || { echo "preview ended $(jq -c '{status,failed,error_count,errors:.errors[:3]}' <<<"$body")" >&2; exit 1; }
  api -X POST -H 'Content-Type: application/json' -d '{}' "$BASE/api/v1/imports/$id/commit" >/dev/null
  body=$(wait_import "$id")
  t2=$(now)
  [[ $(jq -r .status <<<"$body") == completed ]] || { echo "commit ended $(jq -c '{status,failed,errors:.errors[:3]}' <<<"$body")" >&2; exit 1; }
  printf '| preview + commit | %d | %.2f | %.2f | %.2f | %s | %s | %s |\n' "$ROWS" "$(bc <<<"$t1-$t0")" \
    "$(bc <<<"$t2-$t1")" "$(bc <<<"$t2-$t0")" "$(user_count)" "$(peak_rss_mib)" "$load" | tee -a "$out"
    if [[ ",$RUNS," == *,floor,* ]]; then
      kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
      storage_floor "$backend" | tee -a "$out"
    fi
  fi

  if [[ "$BIG" != 0 && ",$RUNS," == *,memory,* ]]; then
    gen "$BIG" "$big"
    for size in "$ROWS" "$BIG"; do
      start_server "$backend"
      load=$(load_avg)
      t0=$(now)
      body=$(api -H 'Content-Type: text/csv' --data-binary "@$WORK/people-$size.csv" "$BASE/api/v1/imports")
      body=$(wait_import "$(jq -r .id <<<"$body")")
      t1=$(now)
      [[ $(jq -r .status <<<"$body") == completed ]] || { echo "import ended $(jq -c '{status,failed,errors:.errors[:3]}' <<<"$body")" >&2; exit 1; }
      printf '| import (no preview) | %d | | %.2f | %.2f | %s | %s | %s |\n' "$size" "$(bc <<<"$t1-$t0")" \
        "$(bc <<<"$t1-$t0")" "$(user_count)" "$(peak_rss_mib)" "$load" | tee -a "$out"
    done
  fi
  stop_server
  echo "written: $out" >&2
}

case "$BACKEND" in
  sqlite) run_backend sqlite ;;
  postgres) run_backend postgres ;;
  all) run_backend sqlite; run_backend postgres ;;
  *) echo "unknown backend $BACKEND" >&2; exit 2 ;;
esac
