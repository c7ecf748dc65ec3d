#!/usr/bin/env bash
# Throwaway PostgreSQL 15 clusters for the national hub's tests, benchmarks and a hub started
# by hand (issue 14).
#
#   scripts/postgres.sh install            apt-get install postgresql-15 (if missing)
#   scripts/postgres.sh start DIR [PORT]   initdb DIR (once) and start it on 127.0.0.1:PORT
#                                          (default 54329); prints the admin URL on stdout
#   scripts/postgres.sh stop DIR           stop the cluster in DIR (fast shutdown)
#   scripts/postgres.sh restart DIR [MODE] restart it; MODE `immediate` is a crash (the tests'
#                                          "PostgreSQL restarted in the middle of a push")
#   scripts/postgres.sh url DIR            print the admin URL of the cluster in DIR
#
# The cluster runs as the `postgres` OS user when this script runs as root (PostgreSQL refuses
# to run as root), otherwise as the invoking user. It listens on 127.0.0.1 only, with `trust`
# authentication: it is for tests and for a single-machine hub behind the node's own access
# control, never a server exposed to a network. Its settings are scripts/postgresql.conf
# (tuned for 2 cores / 24 GiB, pg_stat_statements preloaded). Everything it writes stays in
# DIR: data, socket, log (DIR/postgres.log).
set -euo pipefail

PG_MAJOR=15
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
HERE="$(cd "$(dirname "$0")" && pwd)"
DEFAULT_PORT=54329

die() { echo "postgres.sh: $*" >&2; exit 1; }

sudo_if_needed() {
  if [ "$(id -u)" = "0" ]; then "$@";
  elif command -v sudo >/dev/null; then sudo "$@";
  else die "need root (or sudo) to run: $*"; fi
}

install() {
  if [ -x "$PG_BIN/postgres" ]; then
    echo "PostgreSQL ${PG_MAJOR} already installed ($PG_BIN)" >&2
    return 0
  fi
  echo "== installing PostgreSQL ${PG_MAJOR} (Debian packages)" >&2
  sudo_if_needed apt-get update -qq
  # The Debian package creates and starts a default cluster on 5432; we do not use it (every
  # test cluster is our own), so stop it to leave the port and the memory free.
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq \
    "postgresql-${PG_MAJOR}" >/dev/null
  if command -v pg_ctlcluster >/dev/null; then
    sudo_if_needed pg_ctlcluster "${PG_MAJOR}" main stop 2>/dev/null || true
  fi
  [ -x "$PG_BIN/postgres" ] || die "postgresql-${PG_MAJOR} installed but $PG_BIN/postgres is missing"
}

# Runs a PostgreSQL program as the cluster's owner.
as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

require_binaries() {
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL ${PG_MAJOR} is not installed; run: $0 install"
}

# The port a cluster in DIR was started with (recorded at initdb time).
port_of() { cat "$1/port" 2>/dev/null || echo "$DEFAULT_PORT"; }

url_of() { echo "postgres://postgres@127.0.0.1:$(port_of "$1")/postgres"; }

start() {
  local dir="${1:?usage: $0 start DIR [PORT]}"
  local port="${2:-}"
  require_binaries
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [ "$(id -u)" = "0" ]; then
    chown postgres: "$dir"
    chmod 0700 "$dir"
    runuser -u postgres -- test -w "$dir" \
      || die "the postgres user cannot write $dir (a parent directory is not searchable by it); use a directory under /tmp"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    port="${port:-$DEFAULT_PORT}"
    as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    {
      echo
      echo "# --- scripts/postgresql.conf ---"
      cat "$HERE/postgresql.conf"
      echo
      echo "# --- this throwaway cluster ---"
      echo "listen_addresses = '127.0.0.1'"
      echo "port = $port"
      echo "unix_socket_directories = '$dir'"
    } | as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
    echo "$port" | as_owner tee "$dir/port" >/dev/null
  elif [ -n "$port" ] && [ "$port" != "$(port_of "$dir")" ]; then
    die "$dir was created for port $(port_of "$dir"), not $port"
  fi
  if as_owner "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    url_of "$dir"
    return 0
  fi
  as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null \
    || { tail -n 30 "$dir/postgres.log" >&2; die "PostgreSQL did not start (log: $dir/postgres.log)"; }
  url_of "$dir"
}

stop() {
  local dir="${1:?usage: $0 stop DIR}"
  require_binaries
  [ -f "$dir/data/PG_VERSION" ] || die "no cluster in $dir"
  if as_owner "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  fi
}

restart() {
  local dir="${1:?usage: $0 restart DIR [fast|immediate]}"
  local mode="${2:-fast}"
  require_binaries
  [ -f "$dir/data/PG_VERSION" ] || die "no cluster in $dir"
  as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -m "$mode" -w -t 60 restart >/dev/null \
    || { tail -n 30 "$dir/postgres.log" >&2; die "PostgreSQL did not restart (log: $dir/postgres.log)"; }
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  restart) shift; restart "$@" ;;
  url) shift; url_of "${1:?usage: $0 url DIR}" ;;
  *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
