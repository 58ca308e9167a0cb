#!/usr/bin/env bash
# Local infrastructure for sluice's tests and demo: a real Kafka broker and a Redis on 127.0.0.1.
#
#   infra.sh up [--nodes 1|3]   start what is missing, wait until ready, then print on stdout exactly
#                               KAFKA_BROKERS=...  and  REDIS_URL=...  (everything else goes to stderr)
#   infra.sh down [--nodes 1|3] stop what deploy/local/*.sh started (by pidfile), nothing else; also the
#                               Postgres of deploy/local/postgres.sh (started by the tests' global setup)
#   infra.sh status
#
# Typical use:  eval "$(bash deploy/local/infra.sh up)"   (the values contain no shell syntax)
#
# If KAFKA_BROKERS and/or REDIS_URL are already set, `up` uses those servers as they are and starts
# nothing for them. Safe to repeat: a second `up` finds everything running and returns at once.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export SLUICE_CACHE="${SLUICE_CACHE:-$REPO/.cache}"
REDIS_PORT="${REDIS_PORT:-6379}"
# Remembers the cluster size of the last `up`, so that a bare `down` stops the same cluster.
NODES_FILE="$SLUICE_CACHE/infra-kafka-nodes"

log() { echo "infra.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

parse_nodes() {   # sets NODES from "--nodes N" / "--nodes=N", default $1
  NODES="$1"; shift
  while (($#)); do
    case "$1" in
      --nodes) NODES="${2:-}"; shift 2 || die "--nodes needs a value" ;;
      --nodes=*) NODES="${1#*=}"; shift ;;
      *) die "unknown option '$1'" ;;
    esac
  done
  [[ "$NODES" == 1 || "$NODES" == 3 ]] || die "--nodes must be 1 or 3"
}

# Fail with a readable message here rather than with a Java/Maven stack trace half-way through.
check_toolchain() {
  local java="${JAVA_HOME:+$JAVA_HOME/bin/}java" v
  command -v "$java" >/dev/null || die "Java 17+ is required for the Kafka broker: install a JDK 17 (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
  v="$("$java" -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n1)"
  [[ "$v" =~ ^[0-9]+$ ]] || v=0
  ((v >= 17)) || die "Java 17+ is required for Kafka 4, found: $("$java" -version 2>&1 | head -n1)"
  # Maven is only needed until the jars are cached.
  compgen -G "$SLUICE_CACHE/kafka/*/lib/.complete" >/dev/null || command -v mvn >/dev/null \
    || die "Maven 3 is required to fetch the Kafka jars from Maven Central (e.g. apt-get install maven)"
}

up() {
  parse_nodes 1 "$@"
  local t0=$SECONDS kafka_pid="" redis_pid="" rc=0
  mkdir -p "$SLUICE_CACHE"
  TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT

  if [[ -n "${KAFKA_BROKERS:-}" ]]; then
    log "KAFKA_BROKERS is set: using $KAFKA_BROKERS, not starting Kafka"
  else
    check_toolchain
    echo "$NODES" >"$NODES_FILE"
    bash "$HERE/kafka.sh" start "$NODES" >"$TMP/kafka" &
    kafka_pid=$!
  fi
  if [[ -n "${REDIS_URL:-}" ]]; then
    log "REDIS_URL is set: using $REDIS_URL, not starting Redis"
  else
    # In parallel with Kafka: the broker's JVM start dominates, Redis is ready long before.
    REDIS_PORT="$REDIS_PORT" bash "$HERE/redis.sh" start &
    redis_pid=$!
  fi

  if [[ -n "$kafka_pid" ]]; then wait "$kafka_pid" || { rc=1; log "Kafka failed to start"; }; fi
  if [[ -n "$redis_pid" ]]; then wait "$redis_pid" || { rc=1; log "Redis failed to start"; }; fi
  ((rc == 0)) || die "infrastructure not ready (the other service may still be running: infra.sh down)"

  local brokers="${KAFKA_BROKERS:-}" redis="${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}"
  [[ -n "$brokers" ]] || brokers="$(tail -n1 "$TMP/kafka")"
  [[ -n "$brokers" ]] || die "kafka.sh printed no bootstrap list"
  log "ready in $((SECONDS - t0))s"
  echo "KAFKA_BROKERS=$brokers"
  echo "REDIS_URL=$redis"
}

# Deliberately ignores KAFKA_BROKERS/REDIS_URL: a CI job exports what `up` printed and then calls
# `down`, and both scripts below only ever signal processes recorded in their own pidfiles.
down() {
  parse_nodes "$(cat "$NODES_FILE" 2>/dev/null || echo 1)" "$@"
  local rc=0
  bash "$HERE/kafka.sh" stop "$NODES" || rc=1
  REDIS_PORT="$REDIS_PORT" bash "$HERE/redis.sh" stop || rc=1
  # Started by the tests' global setup (or by hand) for the Postgres sink.
  bash "$HERE/postgres.sh" down || rc=1
  rm -f "$NODES_FILE"
  return "$rc"
}

status() {
  bash "$HERE/kafka.sh" status 1 || true
  [[ -f "$SLUICE_CACHE/kafka/work-3node/started" ]] && { bash "$HERE/kafka.sh" status 3 || true; }
  REDIS_PORT="$REDIS_PORT" bash "$HERE/redis.sh" status || true
  bash "$HERE/postgres.sh" status || true
}

cmd="${1:-}"; shift || true
case "$cmd" in
  up)     up "$@" ;;
  down)   down "$@" ;;
  status) status ;;
  *) sed -n '2,/^set /{/^#/p}' "$0" >&2; exit 2 ;;
esac
