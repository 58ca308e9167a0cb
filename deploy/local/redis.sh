#!/usr/bin/env bash
# A local Redis for sluice's offset/state store, on 127.0.0.1:${REDIS_PORT:-6379}.
#
#   redis.sh start    reuse whatever already answers PING there, else start Debian's redis-server
#   redis.sh stop     stop the server this script started (pidfile); never touches any other
#   redis.sh status
#
# Data, pidfile and log live in ${REDIS_DIR:-${SLUICE_CACHE:-<repo>/.cache}/redis} (kept across restarts).
# REDIS_APPENDFSYNC (always|everysec|no, default Redis's everysec) sets when the AOF is fsynced:
# the fault tests use `always`, so a SIGKILLed server loses nothing it acknowledged.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SLUICE_CACHE="${SLUICE_CACHE:-$REPO/.cache}"
REDIS_PORT="${REDIS_PORT:-6379}"
DIR="${REDIS_DIR:-$SLUICE_CACHE/redis}"
APPENDFSYNC="${REDIS_APPENDFSYNC:-everysec}"
case "$APPENDFSYNC" in always | everysec | no) ;; *) echo "redis.sh: REDIS_APPENDFSYNC must be always, everysec or no" >&2; exit 2 ;; esac
PIDFILE="$DIR/redis-$REDIS_PORT.pid"
LOGFILE="$DIR/redis-$REDIS_PORT.log"
READY_TIMEOUT="${REDIS_READY_TIMEOUT:-30}"

log() { echo "redis.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Speak RESP over bash's /dev/tcp rather than relying on redis-cli: a reused server may be
# someone else's, and on CI only redis-server itself is guaranteed to be installed.
ping_reply() {
  local reply=""
  {
    exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" || return 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 reply <&3 || true
    exec 3>&-
  } 2>/dev/null
  printf '%s' "${reply%$'\r'}"
}
answers_ping() { [[ "$(ping_reply)" == "+PONG" ]]; }

our_pid() {
  local pid; pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
  # Guard against a stale pidfile whose pid now belongs to another program.
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q redis-server && echo "$pid"
}

as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }

ensure_installed() {
  command -v redis-server >/dev/null && return 0
  command -v apt-get >/dev/null || die "redis-server is not installed and there is no apt-get; install Redis 7 yourself"
  local how="as root"; ((EUID == 0)) || how="with sudo"
  log "redis-server not found: running 'apt-get update' and 'apt-get install -y redis-server' $how"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >&2
  command -v redis-server >/dev/null || die "apt-get did not provide redis-server"
  # Debian's package may have started its own service on 6379; start() below then simply reuses it.
}

start() {
  local reply t0=$SECONDS
  reply="$(ping_reply || true)"
  if [[ "$reply" == "+PONG" ]]; then
    log "a Redis already answers on 127.0.0.1:$REDIS_PORT; using it"
    return 0
  elif [[ -n "$reply" ]]; then
    # e.g. -NOAUTH: a server is there but we cannot use it without credentials.
    die "127.0.0.1:$REDIS_PORT answers PING with '$reply'; stop it or choose another REDIS_PORT"
  fi
  ensure_installed
  mkdir -p "$DIR"
  # Command-line options only, so Debian's /etc/redis/redis.conf (and its service) play no part.
  # appendonly: state written by a test survives a restart of Redis (the recovery tests rely on it).
  # noeviction: a full Redis must fail writes, never silently drop offsets.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
    --dir "$DIR" --appendonly yes --appendfsync "$APPENDFSYNC" --maxmemory-policy noeviction \
    --pidfile "$PIDFILE" --logfile "$LOGFILE" >&2 \
    || die "redis-server failed to start (see $LOGFILE)"
  until answers_ping; do
    ((SECONDS - t0 < READY_TIMEOUT)) || { tail -n 20 "$LOGFILE" >&2 || true; die "Redis not answering after ${READY_TIMEOUT}s"; }
    sleep 0.1
  done
  log "Redis started on 127.0.0.1:$REDIS_PORT (pid $(cat "$PIDFILE"), dir $DIR)"
}

stop() {
  local pid i
  if ! pid="$(our_pid)"; then
    rm -f "$PIDFILE"
    answers_ping && log "the Redis on port $REDIS_PORT was not started by redis.sh; leaving it alone"
    return 0
  fi
  kill -TERM "$pid"   # redis-server fsyncs the AOF on SIGTERM
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$PIDFILE"
  log "Redis (pid $pid) stopped"
}

status() {
  local pid
  if pid="$(our_pid)"; then echo "redis 127.0.0.1:$REDIS_PORT: running, pid $pid (started by redis.sh)"
  elif answers_ping; then echo "redis 127.0.0.1:$REDIS_PORT: answering, not started by redis.sh"
  else echo "redis 127.0.0.1:$REDIS_PORT: down"; return 1; fi
}

case "${1:-}" in
  start)  start ;;
  stop)   stop ;;
  status) status ;;
  *) sed -n '2,/^set /{/^#/p}' "$0" >&2; exit 2 ;;
esac
