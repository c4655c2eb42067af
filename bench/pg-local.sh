#!/usr/bin/env bash
# Prepares the local PostgreSQL 15 cluster for bench/load.sh and prints the URL to pass as
# --postgres (or ROSTER_BENCH_PG_URL). Run as root on a Debian machine with postgresql-15:
#   url=$(bench/pg-local.sh) && bench/load.sh --postgres "$url"
# Starts the cluster if it is down (it leaves a running cluster running), and creates the role
# roster_bench (LOGIN CREATEDB, password roster_bench, may CHECKPOINT) if missing. load.sh creates a fresh
# database for each run on that server and drops it at the end.
set -euo pipefail
ROLE="${ROSTER_BENCH_PG_ROLE:-roster_bench}"
PORT="${ROSTER_BENCH_PG_PORT:-5432}"

if ! pg_lsclusters -h 2>/dev/null | awk '$1 == "15" && $2 == "main" && $4 == "online"' | grep -q .; then
  timeout 60 pg_ctlcluster --skip-systemctl-redirect 15 main start >&2
fi
for _ in $(seq 1 50); do
  timeout 5 su postgres -c "psql -qAt -p $PORT -c 'SELECT 1'" >/dev/null 2>&1 && break
  sleep 0.2
done
timeout 30 su postgres -c "psql -qAt -p $PORT -v ON_ERROR_STOP=1" >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$ROLE';
  END IF;
END \$\$;
-- import.sh --runs floor checkpoints before it times a bulk load.
GRANT pg_checkpoint TO $ROLE;
SQL
echo "postgres://$ROLE:$ROLE@127.0.0.1:$PORT/postgres"
