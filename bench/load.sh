#!/usr/bin/env bash
# Load benchmark for Roster: release build, loopback only, wrk -t2 -c32, 10,000 seeded users.
#
# Scenarios (each: warm-up, then a measured wrk run):
#   get     GET  /scim/v2/Users/{id}                 random ids of the seeded set
#   filter  GET  /scim/v2/Users?filter=userName eq   random seeded userNames
#   page    GET  /scim/v2/Users?startIndex=R&count=100  R random in 1..9900
#   post    POST /scim/v2/Users                      unique userName per request
# (post runs last, so the read scenarios see exactly the seeded 10,000 users.)
#
# Per scenario it records req/s (median of --repeat runs, and their range), p50/p99 latency,
# non-2xx responses and socket errors, the CPU of the server, of PostgreSQL, of wrk and of
# everything else on the machine (a disturbance indicator), and the server's peak RSS (VmHWM
# from /proc/PID/status, reset before each scenario through clear_refs); it prints a markdown
# table and writes it to bench/results/<backend>-<date>.md.
#
# Usage:
#   bench/load.sh                                  # SQLite
#   bench/load.sh --postgres postgres://u:p@127.0.0.1:5432/postgres   # SQLite, then PostgreSQL
#   bench/load.sh --backend postgres --postgres URL                   # PostgreSQL only
#   ROSTER_BENCH_PG_URL=URL bench/load.sh          # same as --postgres URL
#
# Options (environment in brackets):
#   --duration D      measured wrk run per scenario, wrk syntax (15s)          [BENCH_DURATION]
#   --warmup D        warm-up run per scenario, 0 to skip (3s)                 [BENCH_WARMUP]
#   --users N         users to seed (10000)                                    [BENCH_USERS]
#   --threads N / --connections N   wrk -t / -c (2 / 32)       [BENCH_THREADS / BENCH_CONNECTIONS]
#   --scenarios LIST  comma-separated subset of get,filter,page,post           [BENCH_SCENARIOS]
#                     (+ page1: startIndex=1&count=100, a diagnostic that leaves out the OFFSET scan)
#   --backend B       sqlite | postgres | all (sqlite; all when a PostgreSQL URL is given)
#   --postgres URL    PostgreSQL server URL whose role may CREATE DATABASE; a fresh database
#                     roster_bench_<pid> is created on it and dropped at the end [ROSTER_BENCH_PG_URL]
#   --no-build        use the existing $CARGO_TARGET_DIR/release/roster
#   --bin PATH        use this roster binary (implies --no-build)              [ROSTER_BENCH_BIN]
#   --workers N       ROSTER_WORKERS for the server (default: roster's own, one per core)
#   --results DIR     where result files go (bench/results)                    [BENCH_RESULTS_DIR]
#   --repeat N        measured runs per scenario; the table shows the median run and the range (1)
#                                                                              [BENCH_REPEAT]
#   --keep            keep the temporary work dir (server log, wrk output, data files)
#   --repo DIR        build and record the commit of this checkout instead of the one holding
#                     this script (e.g. a clean clone of a commit)               [ROSTER_BENCH_REPO]
# Build: CARGO_TARGET_DIR (default: target/ of the repository being built). Server log level: RUST_LOG
# (default info, i.e. the production default with one access-log line per request, written to a
# file in the work dir).
#
# Needs: cargo, wrk (Debian: apt-get install -y --no-upgrade wrk), python3 (stdlib only), curl;
# psql for PostgreSQL. Every step is bounded in time; the server is stopped on exit.

set -Eeuo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="${ROSTER_BENCH_REPO:-$(dirname "$BENCH")}"

DURATION="${BENCH_DURATION:-15s}"
WARMUP="${BENCH_WARMUP:-3s}"
USERS="${BENCH_USERS:-10000}"
THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
SCENARIOS="${BENCH_SCENARIOS:-get,filter,page,post}"
PG_URL="${ROSTER_BENCH_PG_URL:-}"
BACKEND=""
BUILD=1
BIN="${ROSTER_BENCH_BIN:-}"
WORKERS=""
RESULTS_DIR="${BENCH_RESULTS_DIR:-$BENCH/results}"
KEEP=0
REPEAT="${BENCH_REPEAT:-1}"

die() { echo "load.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --users) USERS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --scenarios) SCENARIOS="$2"; shift 2 ;;
    --backend) BACKEND="$2"; shift 2 ;;
    --postgres) PG_URL="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --bin) BIN="$2"; BUILD=0; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --results) RESULTS_DIR="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --repo) REPO="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -n "$BIN" ] && BUILD=0
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
if [ -z "$BACKEND" ]; then
  if [ -n "$PG_URL" ]; then BACKEND=all; else BACKEND=sqlite; fi
fi
case "$BACKEND" in
  sqlite) BACKENDS=(sqlite) ;;
  postgres) BACKENDS=(postgres) ;;
  all) BACKENDS=(sqlite postgres) ;;
  *) die "--backend must be sqlite, postgres or all" ;;
esac
if [[ " ${BACKENDS[*]} " == *" postgres "* ]] && [ -z "$PG_URL" ]; then
  die "PostgreSQL needs --postgres URL or ROSTER_BENCH_PG_URL"
fi
for s in ${SCENARIOS//,/ }; do
  case "$s" in get|filter|page|page1|post) ;; *) die "unknown scenario $s" ;; esac
done
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "--repeat must be a positive number"
[[ "$USERS" =~ ^[0-9]+$ ]] && [ "$USERS" -ge 100 ] || die "--users must be a number >= 100"

pg_host_is_loopback() {
  python3 - "$1" <<'PY'
import sys, urllib.parse
h = urllib.parse.urlsplit(sys.argv[1]).hostname
sys.exit(0 if h in (None, "", "localhost", "127.0.0.1", "::1") or (h or "").startswith("/") else 1)
PY
}

# wrk durations ("15s", "2m", "30") to seconds, for timeouts.
to_seconds() {
  local d="$1"
  case "$d" in
    *ms) echo 1 ;;
    *s) echo "${d%s}" ;;
    *m) echo $(( ${d%m} * 60 )) ;;
    *h) echo $(( ${d%h} * 3600 )) ;;
    *) echo "$d" ;;
  esac
}
DURATION_S="$(to_seconds "$DURATION")"
WARMUP_S="$(to_seconds "$WARMUP")"

for tool in wrk python3 curl; do
  command -v "$tool" >/dev/null || die "$tool not found (wrk: apt-get install -y --no-upgrade wrk)"
done
if [[ " ${BACKENDS[*]} " == *" postgres "* ]]; then
  command -v psql >/dev/null || die "psql not found (PostgreSQL client)"
  pg_host_is_loopback "$PG_URL" || die "the PostgreSQL URL must point at a loopback host"
fi

# ---------------------------------------------------------------------------------------------
# Build.
if [ "$BUILD" = 1 ]; then
  echo "==> cargo build --release --locked (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$REPO" && timeout 3600 cargo build --release --locked)
fi
BIN="${BIN:-$CARGO_TARGET_DIR/release/roster}"
[ -x "$BIN" ] || die "no roster binary at $BIN"

# ---------------------------------------------------------------------------------------------
# State cleaned up by the trap.
WORK=""
SERVER_PID=""
PG_ADMIN_URL=""
PG_DB=""

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

drop_pg_db() {
  if [ -n "$PG_DB" ]; then
    timeout 30 psql "$PG_ADMIN_URL" -qAt -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || \
      echo "load.sh: could not drop database $PG_DB" >&2
  fi
  PG_DB=""
}

cleanup() {
  local rc=$?
  stop_server
  drop_pg_db
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$KEEP" = 1 ] || [ "$rc" != 0 ]; then
      echo "load.sh: work dir kept: $WORK" >&2
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# postgres://u:p@h:port/anything?x -> same URL with database $2.
pg_url_with_db() {
  python3 - "$1" "$2" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + sys.argv[2], u.query, u.fragment)))
PY
}

proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# utime + stime of a process, in clock ticks.
proc_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
CLK_TCK="$(getconf CLK_TCK)"
# utime + stime of every process named postgres (server and backends), in clock ticks: the
# database's share of the two cores in PostgreSQL runs (includes any other database activity).
pg_ticks() {
  local total=0 f t
  for f in /proc/[0-9]*/stat; do
    t="$(awk '$2 == "(postgres)" { sub(/^.*\) /, ""); print $12 + $13 }' "$f" 2>/dev/null)" || continue
    [ -n "$t" ] && total=$(( total + t ))
  done
  echo "$total"
}

# Non-idle CPU ticks of the whole machine (all cores), from /proc/stat.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# CPU seconds (user+sys) of this shell's waited-for children so far (wrk, through timeout).
# `times` must run in this shell, not in a $(...) subshell, hence the file.
children_cpu_to() {
  times >"$1"
  awk 'END { for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }; printf "%.3f", t }' "$1" >"$1.s"
}

field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

# ---------------------------------------------------------------------------------------------
DATE="$(date -u +%Y-%m-%d)"
COMMIT="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git -C "$REPO" status --porcelain -- src migrations Cargo.toml Cargo.lock 2>/dev/null)" ]; then
  DIFF_ID="$( (git -C "$REPO" diff HEAD -- src migrations Cargo.toml Cargo.lock; \
    git -C "$REPO" ls-files --others --exclude-standard -z -- src migrations | xargs -0r cat) | sha256sum | cut -c1-12)"
  COMMIT="$COMMIT + uncommitted changes (working-tree diff sha256 $DIFF_ID)"
fi
if [ "$BUILD" = 0 ] && [ -n "$BIN" ]; then
  COMMIT="$COMMIT (script checkout; binary $BIN, built from a commit the caller names)"
fi
CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
MEM_GB="$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
MACHINE="$(nproc) CPU ($CPU_MODEL), ${MEM_GB} GiB RAM, $(uname -sr)"
WRK_VERSION="$( (wrk -v 2>&1 || true) | head -1 | awk '{ print $1, $2 }')"
COMMAND="bench/load.sh --repeat $REPEAT --duration $DURATION --warmup $WARMUP --users $USERS --threads $THREADS --connections $CONNECTIONS --scenarios $SCENARIOS"

declare -A TARGET=([get]=15000 [filter]=12000 [post]=3000 [page]=1000 [page1]=1000)
declare -A LABEL=(
  [get]='GET /Users/{id}'
  [filter]='GET /Users?filter=userName eq'
  [page]='GET /Users?startIndex=R&count=100'
  [page1]='GET /Users?startIndex=1&count=100'
  [post]='POST /Users'
)

# One measured wrk run of scenario $2; sets MEASURED to
# "rps p50 p99 non2xx socket_errors server_cpu% requests db_cpu wrk_cpu% other_cpu%".
measure_once() {
  local backend="$1" s="$2" r="$3" base="$4"
  local t0 t1 b0 b1 c0 c1 d0=0 d1=0 out
  t0="$(proc_ticks "$SERVER_PID")"
  b0="$(busy_ticks)"; children_cpu_to "$WORK/times"; c0="$(cat "$WORK/times.s")"
  [ "$backend" = postgres ] && d0="$(pg_ticks)"
  echo "==> [$backend] $s (run $r/$REPEAT): wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
  BENCH_RUN_TAG="$$-$(date +%s)-m$r" timeout $(( DURATION_S + 60 )) wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
    --timeout 5s -s "$BENCH/lua/$s.lua" "$base" >"$WORK/wrk-$s-$r.txt" 2>&1 \
    || die "wrk failed for $s: $(tail -5 "$WORK/wrk-$s-$r.txt")"
  t1="$(proc_ticks "$SERVER_PID")"
  b1="$(busy_ticks)"; children_cpu_to "$WORK/times"; c1="$(cat "$WORK/times.s")"
  [ "$backend" = postgres ] && d1="$(pg_ticks)"
  out="$(grep '^BENCH_RESULT' "$WORK/wrk-$s-$r.txt")" || die "no result line from wrk for $s"
  local dur cpu wrkcpu other dbcpu="-" errs
  dur="$(field duration_s "$out")"
  cpu="$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v d="$dur" 'BEGIN { printf "%.0f", (b - a) / hz / d * 100 }')"
  wrkcpu="$(awk -v a="$c0" -v b="$c1" -v d="$dur" 'BEGIN { printf "%.0f", (b - a) / d * 100 }')"
  other="$(awk -v b0="$b0" -v b1="$b1" -v s="$(( t1 - t0 ))" -v p="$(( d1 - d0 ))" -v hz="$CLK_TCK" -v d="$dur" \
    -v a="$c0" -v b="$c1" 'BEGIN { o = ((b1 - b0 - s - p) / hz - (b - a)) / d * 100; if (o < 0) o = 0; printf "%.0f", o }')"
  [ "$backend" = postgres ] && dbcpu="$(awk -v a="$d0" -v b="$d1" -v hz="$CLK_TCK" -v d="$dur" 'BEGIN { printf "%.0f%%", (b - a) / hz / d * 100 }')"
  errs=$(( $(field connect_err "$out") + $(field read_err "$out") + $(field write_err "$out") + $(field timeouts "$out") ))
  MEASURED="$(field rps "$out") $(field p50_ms "$out") $(field p99_ms "$out") $(field non2xx "$out") $errs $cpu $(field requests "$out") $dbcpu $wrkcpu $other"
  echo "    $(field rps "$out") req/s, p50 $(field p50_ms "$out") ms, p99 $(field p99_ms "$out") ms, non-2xx $(field non2xx "$out"), socket errors $errs, server CPU ${cpu}%, PostgreSQL CPU $dbcpu, wrk CPU ${wrkcpu}%, other CPU ${other}%, VmHWM $(( $(proc_kb "$SERVER_PID" VmHWM) / 1024 )) MB"
}

run_backend() {
  local backend="$1"
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/roster-bench.XXXXXX")"
  local db_url
  if [ "$backend" = sqlite ]; then
    db_url="$WORK/roster.db"
  else
    PG_ADMIN_URL="$PG_URL"
    PG_DB="roster_bench_$$_$(date +%s)"
    timeout 30 psql "$PG_ADMIN_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
    db_url="$(pg_url_with_db "$PG_URL" "$PG_DB")"
  fi

  local port secret base token
  port="$(free_port)"
  secret="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
  base="http://127.0.0.1:$port"

  export ROSTER_BIND="127.0.0.1:$port"
  export ROSTER_DATABASE_URL="$db_url"
  export ROSTER_JWT_SECRET="$secret"
  export RUST_LOG="${RUST_LOG:-info}"
  if [ -n "$WORKERS" ]; then export ROSTER_WORKERS="$WORKERS"; else unset ROSTER_WORKERS; fi

  echo "==> [$backend] starting $BIN serve on $base (work dir $WORK)"
  "$BIN" serve >"$WORK/server.out" 2>"$WORK/server.log" &
  SERVER_PID=$!
  local up=0
  for _ in $(seq 1 150); do
    if curl -fsS -m 2 "$base/healthz" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.2
  done
  if [ "$up" != 1 ]; then
    tail -20 "$WORK/server.log" "$WORK/server.out" >&2 || true
    die "server did not become healthy within 30 s"
  fi

  token="$(timeout 60 "$BIN" token create --tenant bench --scope "scim:read scim:write" 2>/dev/null)"
  [ -n "$token" ] || die "roster token create printed no token"
  export ROSTER_BENCH_TOKEN="$token"
  export BENCH_LUA_DIR="$BENCH/lua"
  export BENCH_DATA_DIR="$WORK"
  export BENCH_PAGE_MAX_START=$(( USERS > 100 ? USERS - 100 : 1 ))

  echo "==> [$backend] seeding $USERS users"
  timeout 900 python3 "$BENCH/seed.py" --base "$base" --token "$token" --count "$USERS" \
    --out "$WORK" --deadline 600 | tee "$WORK/seed.txt"
  local seed_line; seed_line="$(tail -1 "$WORK/seed.txt")"

  # Sanity checks: each scenario's request answers what it should before it is timed.
  local auth=(-H "Authorization: Bearer $token")
  local first_id first_name
  first_id="$(sed -n '2s/[",]//gp' "$WORK/ids.lua")"
  first_name="$(sed -n '2s/[",]//gp' "$WORK/names.lua")"
  curl -fsS -m 10 "${auth[@]}" "$base/scim/v2/Users/$first_id" | grep -q "\"$first_name\"" \
    || die "GET /Users/$first_id did not return $first_name"
  curl -fsS -m 10 -G "${auth[@]}" --data-urlencode "filter=userName eq \"$first_name\"" "$base/scim/v2/Users" \
    | grep -q '"totalResults":1[,}]' || die "filter on $first_name did not return exactly one user"
  curl -fsS -m 30 "${auth[@]}" "$base/scim/v2/Users?startIndex=$BENCH_PAGE_MAX_START&count=100" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); n=len(d["Resources"]); sys.exit(0 if n == 100 else f"page has {n} users")' \
    || die "the last page did not hold 100 users"

  local peak_all=0
  local s
  # Reads first, post last (post grows the table).
  local ordered=()
  for s in get filter page page1 post; do
    [[ ",$SCENARIOS," == *",$s,"* ]] && ordered+=("$s")
  done
  declare -A RESULT=()
  for s in "${ordered[@]}"; do
    kill -0 "$SERVER_PID" 2>/dev/null || die "server died before scenario $s"
    echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null || true   # reset VmHWM to current RSS
    if [ "$WARMUP_S" != 0 ]; then
      BENCH_RUN_TAG="$$-$(date +%s)-w" timeout $(( WARMUP_S + 30 )) wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" --timeout 5s \
        -s "$BENCH/lua/$s.lua" "$base" >"$WORK/wrk-$s-warmup.txt" 2>&1 || true
    fi
    local runs=() r
    for r in $(seq 1 "$REPEAT"); do
      measure_once "$backend" "$s" "$r" "$base"
      runs+=("$MEASURED")
    done
    # The run with the median req/s represents the scenario; the range shows the spread.
    local sorted median lo hi
    sorted="$(printf '%s\n' "${runs[@]}" | sort -n -k1,1)"
    median="$(sed -n "$(( (REPEAT + 1) / 2 ))p" <<<"$sorted")"
    lo="$(head -1 <<<"$sorted" | cut -d' ' -f1)"
    hi="$(tail -1 <<<"$sorted" | cut -d' ' -f1)"
    local hwm
    hwm="$(proc_kb "$SERVER_PID" VmHWM)"
    [ "$hwm" -gt "$peak_all" ] && peak_all="$hwm"
    RESULT[$s]="$median $hwm $lo $hi"
    SUMMARY[$backend:$s]="$median $lo $hi"
  done
  local users_after
  users_after="$(curl -fsS -m 30 "${auth[@]}" "$base/scim/v2/Users?count=0" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["totalResults"])' || echo '?')"

  local file="$RESULTS_DIR/$backend-$DATE.md"
  mkdir -p "$RESULTS_DIR"
  {
    echo "# Roster load benchmark: $backend, $DATE"
    echo
    echo "- commit: $COMMIT"
    echo "- machine: $MACHINE"
    echo "- load: $WRK_VERSION, -t$THREADS -c$CONNECTIONS, $REPEAT × $DURATION measured after a $WARMUP warm-up per scenario, loopback"
    echo "- server: release build, ${ROSTER_WORKERS:-default} workers, RUST_LOG=$RUST_LOG (access log to a file), pool ${ROSTER_DB_POOL_SIZE:-16}"
    echo "- data: $seed_line; $users_after users at the end"
    echo "- command: \`$COMMAND$( [ "$backend" = postgres ] && echo ' --backend postgres --postgres URL')\`"
    echo
    echo "| Scenario | req/s | range of $REPEAT runs | p50 ms | p99 ms | non-2xx | socket errors | server CPU | PostgreSQL CPU | wrk CPU | other CPU | peak RSS MB | SQLite target req/s |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for s in get filter post page page1; do
      [ -n "${RESULT[$s]:-}" ] || continue
      read -r rps p50 p99 non2xx errs cpu reqs dbcpu wrkcpu other hwm lo hi <<<"${RESULT[$s]}"
      local verdict="≥ ${TARGET[$s]}"
      if [ "$s" = page1 ]; then
        verdict="(diagnostic; no target)"
      elif [ "$backend" = sqlite ]; then
        if awk -v r="$rps" -v t="${TARGET[$s]}" 'BEGIN { exit !(r >= t) }'; then verdict="$verdict: met"; else verdict="$verdict: **short**"; fi
      fi
      printf '| %s | %.0f | %.0f–%.0f | %.2f | %.2f | %s | %s | %s%% | %s | %s%% | %s%% | %.1f | %s |\n' \
        "${LABEL[$s]}" "$rps" "$lo" "$hi" "$p50" "$p99" "$non2xx" "$errs" "$cpu" "$dbcpu" "$wrkcpu" "$other" "$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')" "$verdict"
    done
    echo
    SUMMARY_PEAK[$backend]="$peak_all"
    echo "Peak RSS over all scenarios: $(awk -v k="$peak_all" 'BEGIN { printf "%.1f", k / 1024 }') MB (target < 100 MB)."
    echo "Server CPU is the roster process's user+system time over the measured run (200% = both cores);"
    echo "PostgreSQL CPU is that of all postgres processes (PostgreSQL runs only); wrk CPU is the load"
    echo "generator's; other CPU is everything else on the machine during the run (anything well above a"
    echo "few % means the figures were disturbed by other work). Peak RSS is VmHWM of the roster"
    echo "process, reset before each scenario."
  } >"$file"
  echo
  cat "$file"
  echo
  echo "(written to $file)"

  stop_server
  drop_pg_db
  if [ "$KEEP" = 1 ]; then echo "load.sh: work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
  WORK=""
}

# Medians of every backend, for the closing summary: SUMMARY[backend:scenario] = "run lo hi".
declare -A SUMMARY=()
declare -A SUMMARY_PEAK=()

# One table over all backends run, printed last and written to summary-<date>.md.
print_summary() {
  local b s rps p99 other lo hi row header="| Scenario |" rule="|---|"
  for b in "${BACKENDS[@]}"; do
    header="$header $b req/s (range) | $b p99 ms | $b other CPU |"
    rule="$rule---:|---:|---:|"
  done
  echo "## Summary: commit $COMMIT, $DATE"
  echo
  echo "$REPEAT × $DURATION per scenario after a $WARMUP warm-up, wrk -t$THREADS -c$CONNECTIONS, $USERS users seeded;"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). Other CPU well above a few % means a disturbed run."
  echo
  echo "$header SQLite target |"
  echo "$rule---|"
  for s in get filter post page page1; do
    [[ ",$SCENARIOS," == *",$s,"* ]] || continue
    row="| ${LABEL[$s]} |"
    for b in "${BACKENDS[@]}"; do
      read -r rps _ p99 _ _ _ _ _ _ other lo hi <<<"${SUMMARY[$b:$s]:-- - - - - - - - - - - -}"
      if [ "$rps" = - ]; then row="$row - | - | - |"; continue; fi
      row="$row $(printf '%.0f (%.0f–%.0f) | %.2f | %s%%' "$rps" "$lo" "$hi" "$p99" "$other") |"
    done
    if [ "$s" = page1 ]; then row="$row (diagnostic) |"; else row="$row ≥ ${TARGET[$s]} |"; fi
    echo "$row"
  done
  row="| peak RSS MB |"
  for b in "${BACKENDS[@]}"; do
    row="$row $(awk -v k="${SUMMARY_PEAK[$b]:-0}" 'BEGIN { printf "%.1f", k / 1024 }') | | |"
  done
  echo "$row < 100 |"
}

for b in "${BACKENDS[@]}"; do
  run_backend "$b"
done
mkdir -p "$RESULTS_DIR"
print_summary | tee "$RESULTS_DIR/summary-$DATE.md"
echo
echo "(written to $RESULTS_DIR/summary-$DATE.md)"
