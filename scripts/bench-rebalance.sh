#!/usr/bin/env bash
# Adding a Citus worker while clinics keep pushing (issue 15), on this machine:
#   scripts/bench-rebalance.sh [PATIENTS] [DIR] [PORT]
# starts a throwaway Citus cluster in DIR (a coordinator on PORT, two workers, and a spare
# node on PORT+3 not yet in the cluster), all with wal_level = logical (Citus moves shards by
# logical replication, so writes go on while a shard moves) and max_connections = 400 (a
# multi-shard insert opens connections to every worker; the default 100 ran out), loads the records of PATIENTS
# synthetic patients (default 2,000: ~290,000 resources) into the hub through
# `expediente import`, then runs
# `expediente bench-rebalance`, which adds the spare as a worker and rebalances while clinics
# push. Needs root (the nodes run as `postgres`) and a release build. Stops the cluster after.
set -euo pipefail
PATIENTS=${1:-2000}; DIR=${2:-/tmp/expediente-rebalance}; PORT=${3:-54460}
EXE=${EXE:-target/release/expediente}
VENDOR="$(cd .. && pwd)/shared/vendor/citus"
PGBIN=/usr/lib/postgresql/15/bin
as_pg() { runuser -u postgres -- "$@"; }
[ -x "$EXE" ] || { echo "bench-rebalance.sh: build first: cargo build --release --locked --bin expediente" >&2; exit 1; }
"$VENDOR/install.sh" >/dev/null

"$VENDOR/cluster.sh" stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"
trap '"$VENDOR/cluster.sh" stop "$DIR"' EXIT
# Three workers started, the third removed again before anything is placed: the spare.
"$VENDOR/cluster.sh" start "$DIR" "$PORT" 3
for node in 0 1 2 3; do
  as_pg psql -X -q -h 127.0.0.1 -p $((PORT + node)) -U postgres \
    -c "ALTER SYSTEM SET wal_level = logical" -c "ALTER SYSTEM SET max_worker_processes = 64" \
    -c "ALTER SYSTEM SET max_connections = 400" \
    -c "ALTER SYSTEM SET shared_buffers = '2GB'"
done
"$VENDOR/cluster.sh" stop "$DIR"
"$VENDOR/cluster.sh" start "$DIR" "$PORT" 3
as_pg psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -c "SELECT citus_remove_node('127.0.0.1', $((PORT + 3)))"
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

echo "== loading the records of $PATIENTS patients into the hub"
"$EXE" generate --patients "$PATIENTS" --out "$DIR/ndjson" >/dev/null
"$EXE" import --database "$URL" "$DIR"/ndjson/*.ndjson
"$EXE" cluster --database "$URL" workers

echo "== bench-rebalance"
"$EXE" bench-rebalance --hub-database "$URL" --add-worker "127.0.0.1:$((PORT + 3))"
