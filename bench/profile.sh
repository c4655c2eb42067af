#!/usr/bin/env bash
# Instruction-level profile of the load scenarios with valgrind's callgrind (for machines where
# `perf stat -e instructions true` reports "<not supported>", such as this VM).
#
# 1. starts the release server normally on a fresh SQLite file and seeds it (bench/seed.py);
# 2. restarts it under callgrind on the same file;
# 3. per scenario: zero the counters, run a short low-concurrency wrk, dump the counters
#    (callgrind_control), and write the top functions by inclusive and by self cost.
#
# Usage: bench/profile.sh [--bin PATH] [--users N] [--duration D] [--scenarios get,filter,page,post]
#                         [--out DIR] [--postgres URL] [--repo DIR] [--keep]
# Defaults: $CARGO_TARGET_DIR/release/roster (CARGO_TARGET_DIR defaults to the repo's target/),
# 10000 users, 20s per scenario (under callgrind the server runs ~50x slower, so a few hundred
# requests), out dir bench/results/profile-<backend>-<date>/ (the raw callgrind.out files are
# large: they stay in the temporary work dir, which is removed unless --keep).
# --repo names the checkout the binary was built from (for the commit in the summary).
# Output: Ir (instructions) per request for each scenario plus callgrind_annotate listings.
set -Eeuo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$BENCH")"
BIN=""
USERS=10000
DURATION=20s
SCENARIOS="get,filter,page,post"
OUT=""
PG_URL=""
KEEP=0

die() { echo "profile.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --users) USERS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --scenarios) SCENARIOS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --postgres) PG_URL="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --repo) REPO="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,/^set -E/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done
for tool in valgrind callgrind_control callgrind_annotate wrk python3 curl; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: valgrind, wrk)"
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
BIN="${BIN:-$CARGO_TARGET_DIR/release/roster}"
[ -x "$BIN" ] || die "no roster binary at $BIN (build with cargo build --release --locked)"
BACKEND=sqlite
[ -n "$PG_URL" ] && BACKEND=postgres
OUT="${OUT:-$BENCH/results/profile-$BACKEND-$(date -u +%Y-%m-%d)}"
mkdir -p "$OUT"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/roster-profile.XXXXXX")"
SERVER_PID=""
PG_DB=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
cleanup() {
  local rc=$?
  stop_server
  if [ -n "$PG_DB" ]; then
    timeout 30 psql "$PG_URL" -qAt -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ "$KEEP" = 1 ] || [ "$rc" != 0 ]; then echo "profile.sh: work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
base="http://127.0.0.1:$port"
if [ -n "$PG_URL" ]; then
  PG_DB="roster_profile_$$"
  timeout 30 psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
  db_url="$(python3 -c 'import sys,urllib.parse as p; u=p.urlsplit(sys.argv[1]); print(p.urlunsplit((u.scheme,u.netloc,"/"+sys.argv[2],u.query,"")))' "$PG_URL" "$PG_DB")"
else
  db_url="$WORK/roster.db"
fi
export ROSTER_BIND="127.0.0.1:$port" ROSTER_DATABASE_URL="$db_url" RUST_LOG="${RUST_LOG:-info}"
ROSTER_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
export ROSTER_JWT_SECRET

wait_healthy() {
  for _ in $(seq 1 "$1"); do
    curl -fsS -m 2 "$base/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}

echo "==> seeding $USERS users ($BACKEND, plain server)"
"$BIN" serve >"$WORK/seed-server.out" 2>"$WORK/seed-server.log" &
SERVER_PID=$!
wait_healthy 60 || die "server did not start"
token="$(timeout 60 "$BIN" token create --tenant bench --scope "scim:read scim:write" 2>/dev/null)"
timeout 900 python3 "$BENCH/seed.py" --base "$base" --token "$token" --count "$USERS" --out "$WORK" --deadline 600
stop_server

echo "==> restarting under callgrind"
valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out.%p" --dump-instr=no \
  "$BIN" serve >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
wait_healthy 240 || die "server under valgrind did not start (see $WORK/server.log)"
# Warm the connection pool and code paths once before measuring.
curl -fsS -m 60 -H "Authorization: Bearer $token" "$base/scim/v2/Users?count=1" >/dev/null

export ROSTER_BENCH_TOKEN="$token" BENCH_LUA_DIR="$BENCH/lua" BENCH_DATA_DIR="$WORK"
export BENCH_PAGE_MAX_START=$(( USERS > 100 ? USERS - 100 : 1 ))
summary="$OUT/summary.md"
{
  commit="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [ -n "$(git -C "$REPO" status --porcelain -- src migrations Cargo.toml Cargo.lock 2>/dev/null)" ] && commit="$commit + uncommitted changes"
  echo "# callgrind profile ($BACKEND), $(date -u +%Y-%m-%d), commit $commit"
  echo
  echo "Binary: $BIN; $USERS users seeded; each scenario: wrk -t1 -c4 -d$DURATION against the server under"
  echo "valgrind --tool=callgrind (counters zeroed before and dumped after each scenario)."
  echo
  echo "| Scenario | requests | non-2xx | Ir per request |"
  echo "|---|---:|---:|---:|"
} >"$summary"
for s in ${SCENARIOS//,/ }; do
  echo "==> $s under callgrind: wrk -t1 -c4 -d$DURATION"
  callgrind_control -z "$SERVER_PID" >/dev/null
  BENCH_RUN_TAG="prof$$" timeout 300 wrk -t1 -c4 -d"$DURATION" --timeout 30s -s "$BENCH/lua/$s.lua" "$base" \
    >"$WORK/wrk-$s.txt" 2>&1 || die "wrk failed for $s"
  sleep 2   # let in-flight requests finish before the dump
  callgrind_control -d "$s" "$SERVER_PID" >/dev/null
  sleep 1
  file="$(ls -t "$WORK"/callgrind.out.* | head -1 || true)"
  line="$(grep '^BENCH_RESULT' "$WORK/wrk-$s.txt")"
  reqs="$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")"
  non2xx="$(sed -n 's/.*non2xx=\([0-9]*\).*/\1/p' <<<"$line")"
  total="$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')"
  per="$(awk -v t="$total" -v r="$reqs" 'BEGIN { if (r > 0) printf "%.0f", t / r; else print "n/a" }')"
  echo "    $reqs requests, $non2xx non-2xx, $total Ir => $per Ir/request"
  echo "| $s | $reqs | $non2xx | $per |" >>"$summary"
  callgrind_annotate --inclusive=yes --threshold=99 "$file" 2>/dev/null | head -120 >"$OUT/$s-inclusive.txt" || true
  callgrind_annotate --threshold=95 "$file" 2>/dev/null | head -80 >"$OUT/$s-self.txt" || true
done
echo
cat "$summary"
echo "(listings in $OUT)"
