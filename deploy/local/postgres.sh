#!/usr/bin/env bash
# A local PostgreSQL for the Postgres sink (postgresSink), on 127.0.0.1:${PG_PORT:-54329}.
#
#   postgres.sh up      start it if it is not running (initdb on first use), wait until it accepts
#                       connections, then print on stdout exactly  SLUICE_PG_URL=postgres://...
#   postgres.sh down    stop the server this script started (fast shutdown); never touches any other
#   postgres.sh status  running or not, and its URL
#   postgres.sh url     print the connection URL
#
# Debian's postgresql binaries (/usr/lib/postgresql/<version>/bin; installed with apt-get when
# missing). Data, socket and log live in ${PG_DIR:-${SLUICE_CACHE:-<repo>/.cache}/postgres}, kept
# across restarts. The server binds 127.0.0.1 only and trusts local connections (a test and demo
# database, not a production one). initdb refuses to run as root: as root the server runs as the
# `postgres` OS user. Safe to repeat: `up` on a running server returns at once.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SLUICE_CACHE="${SLUICE_CACHE:-$REPO/.cache}"
PG_PORT="${PG_PORT:-54329}"
DIR="${PG_DIR:-$SLUICE_CACHE/postgres}"
DATA="$DIR/data-$PG_PORT"
LOGFILE="$DIR/postgres-$PG_PORT.log"
READY_TIMEOUT="${PG_READY_TIMEOUT:-60}"
URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"

log() { echo "postgres.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }

# The newest installed major version's binaries.
bin_dir() { compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n1 | xargs -r dirname; }

ensure_installed() {
  [[ -n "$(bin_dir)" ]] && return 0
  command -v apt-get >/dev/null || die "PostgreSQL is not installed and there is no apt-get; install postgresql (15+) yourself"
  local how="as root"; ((EUID == 0)) || how="with sudo"
  log "PostgreSQL not found: running 'apt-get update' and 'apt-get install -y postgresql' $how"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2
  [[ -n "$(bin_dir)" ]] || die "apt-get did not provide /usr/lib/postgresql/*/bin/initdb"
}

# Runs a server program as the data directory's owner: `postgres` when we are root, else ourselves.
as_owner() { if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi; }

running() {
  local bin; bin="$(bin_dir)"
  [[ -n "$bin" && -f "$DATA/PG_VERSION" ]] && as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

ready() { "$(bin_dir)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres; }

up() {
  ensure_installed
  local bin; bin="$(bin_dir)"
  if running; then
    log "PostgreSQL on 127.0.0.1:$PG_PORT is running (data $DATA)"
  else
    mkdir -p "$DIR"
    ((EUID != 0)) || chown postgres: "$DIR"
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
      log "initdb $DATA"
      as_owner "$bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --no-locale >/dev/null
    fi
    # Command-line settings only: Debian's /etc/postgresql clusters and service play no part.
    # The socket goes to the data dir, not /var/run/postgresql (which may not exist or not be ours).
    as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t "$READY_TIMEOUT" \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='$DATA' -c max_connections=200 -c fsync=on" \
      start >/dev/null || die "PostgreSQL failed to start (see $LOGFILE)"
    log "PostgreSQL started on 127.0.0.1:$PG_PORT (data $DATA)"
  fi
  local t0=$SECONDS
  until ready; do
    ((SECONDS - t0 < READY_TIMEOUT)) || die "PostgreSQL did not accept connections within ${READY_TIMEOUT}s (see $LOGFILE)"
    sleep 0.2
  done
  echo "SLUICE_PG_URL=$URL"
}

down() {
  if running; then
    as_owner "$(bin_dir)/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    log "PostgreSQL on 127.0.0.1:$PG_PORT stopped"
  else
    log "no PostgreSQL of ours is running on 127.0.0.1:$PG_PORT"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if running; then echo "running  $URL (data $DATA)"; else echo "stopped  $URL (data $DATA)"; exit 1; fi ;;
  url) echo "$URL" ;;
  *) sed -n '2,/^set /{/^#/p}' "$0" >&2; exit 2 ;;
esac
