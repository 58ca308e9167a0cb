#!/usr/bin/env bash
# Real Apache Kafka (KRaft, combined broker+controller nodes) on 127.0.0.1, run straight from the
# Maven Central jars: no Docker, no release tarball. Used by infra.sh, CI and the fault tests.
#
#   kafka.sh fetch                  resolve the jars into the cache (once per Kafka version)
#   kafka.sh start [1|3]            start a 1-node (default) or 3-node cluster; prints the bootstrap list
#   kafka.sh stop [1|3]             SIGTERM every node at once, SIGKILL after a grace period
#   kafka.sh kill ID                SIGKILL node ID (fault injection)
#   kafka.sh term ID                SIGTERM node ID (controlled shutdown)
#   kafka.sh restart ID             (re)start node ID and wait until it serves clients
#   kafka.sh wait ID                wait until node ID serves clients
#   kafka.sh bootstrap              print the bootstrap list
#   kafka.sh status                 one line per node
#   kafka.sh topics|groups|get-offsets|configs|quorum|cluster|console-producer|console-consumer|
#            producer-perf|consumer-perf ARGS...   the matching bin/kafka-*.sh tool
#   kafka.sh tool FQCN ARGS...      any Kafka main class
#   kafka.sh start-sasl|stop-sasl|status-sasl
#                                   a separate 1-node cluster whose client listener is SASL_PLAINTEXT
#                                   with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (security tests)
#
# Layouts (both can run at the same time, they share nothing but the jars):
#   1 node : client 127.0.0.1:9092, controller 9093, work dir $SLUICE_CACHE/kafka/work-1node
#   3 nodes: clients 127.0.0.1:19092,19102,19112 (controller = client+1), RF 3, min ISR 2,
#            work dir $SLUICE_CACHE/kafka/work-3node
# Commands without an explicit size (stop, kill, term, restart, wait, bootstrap, status) act on
# the 3-node cluster while it is started (the fault tests use it), otherwise on the single node;
# KAFKA_NODES=1|3 or an explicit size overrides that.
#
# SASL layout: client 127.0.0.1:$KAFKA_SASL_PORT (29092), controller port+1, work dir
#   $SLUICE_CACHE/kafka/work-sasl-<port>; user $KAFKA_SASL_USER (sluice) with password
#   $KAFKA_SASL_PASSWORD (sluice-secret) for all three mechanisms, and the broker's own user
#   admin/admin-secret (PLAIN). No authorizer: any authenticated user may do anything.
#
# Environment: SLUICE_CACHE (<repo>/.cache), KAFKA_VERSION (4.4.0), KAFKA_NODES, JAVA_HOME,
#   KAFKA_HEAP_OPTS, KAFKA_JVM_OPTS, KAFKA_TOOL_JVM_OPTS, KAFKA_READY_TIMEOUT (seconds, 120),
#   KAFKA_SASL_PORT, KAFKA_SASL_USER, KAFKA_SASL_PASSWORD
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SLUICE_CACHE="${SLUICE_CACHE:-$REPO/.cache}"
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_POM="$HERE/kafka/pom.xml"
# One folder per version: `-cp lib/*` would happily mix jars of two versions.
KAFKA_LIB="$SLUICE_CACHE/kafka/$KAFKA_VERSION/lib"
READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-120}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

# Upstream starts the broker with -Xms1G -Xmx1G; tests need far less (see dedupe buffer below).
SERVER_HEAP="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
SERVER_JVM="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
# Admin CLIs live for a second or two: C1 only + Serial GC roughly halves their start-up time.
TOOL_JVM="${KAFKA_TOOL_JVM_OPTS:--Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC}"
# The perf tools measure throughput, so they get the full JIT (upstream scripts use -Xmx512M).
PERF_JVM="-Xmx512m -XX:+UseG1GC"

log() { echo "kafka.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Cluster selection. Everything below reads NODES/WORK/BASE_PORT set by select_cluster.
select_cluster() {
  case "$1" in
    1) NODES=1; WORK="$SLUICE_CACHE/kafka/work-1node"; BASE_PORT=9092 ;;
    3) NODES=3; WORK="$SLUICE_CACHE/kafka/work-3node"; BASE_PORT=19092 ;;
    sasl) NODES=1; BASE_PORT="${KAFKA_SASL_PORT:-29092}"; WORK="$SLUICE_CACHE/kafka/work-sasl-$BASE_PORT" ;;
    *) die "cluster size must be 1 or 3, got '$1'" ;;
  esac
}
default_size() {
  if [[ -n "${KAFKA_NODES:-}" ]]; then echo "$KAFKA_NODES"
  elif [[ -f "$SLUICE_CACHE/kafka/work-3node/started" ]]; then echo 3
  else echo 1; fi
}

node_dir()        { echo "$WORK/node-$1"; }
client_port()     { echo $((BASE_PORT + 10 * ($1 - 1))); }
controller_port() { echo $((BASE_PORT + 10 * ($1 - 1) + 1)); }
bootstrap() {
  local i out=""
  for ((i = 1; i <= NODES; i++)); do out+="${out:+,}127.0.0.1:$(client_port "$i")"; done
  echo "$out"
}
check_id() {
  if ! [[ "$1" =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > NODES)); then die "node id must be 1..$NODES"; fi
}

# ---------------------------------------------------------------------------------------------
# Jars
fetch() {
  [[ -f "$KAFKA_LIB/.complete" ]] && return 0
  command -v mvn >/dev/null || die "mvn (Maven 3) is required to fetch the Kafka jars"
  mkdir -p "$(dirname "$KAFKA_LIB")"
  # Two callers (infra.sh in two terminals) must not interleave two downloads into one folder.
  exec 8>"$(dirname "$KAFKA_LIB")/.fetch.lock"
  flock 8
  if [[ ! -f "$KAFKA_LIB/.complete" ]]; then
    local tmp="$KAFKA_LIB.tmp.$$" t0=$SECONDS
    rm -rf "$tmp"
    log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIB"
    # Output goes to a file and is shown only on failure (Maven 3.8's -q still emits stray
    # ANSI resets, and a successful fetch has nothing worth saying).
    if ! mvn -B -q -f "$KAFKA_POM" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
        >"$tmp.log" 2>&1; then
      cat "$tmp.log" >&2; rm -rf "$tmp" "$tmp.log"
      die "mvn could not resolve Kafka $KAFKA_VERSION (is Maven Central reachable?)"
    fi
    rm -f "$tmp.log"
    [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" && -f "$tmp/kafka-tools-$KAFKA_VERSION.jar" ]] \
      || die "broker or tools jar missing in $tmp"
    # Without the SLF4J 1.x binding the broker runs fine but writes no log at all.
    compgen -G "$tmp/log4j-slf4j-impl-*.jar" >/dev/null || die "log4j-slf4j-impl missing in $tmp"
    touch "$tmp/.complete"
    # Publish atomically: a reader sees either no folder or a complete one.
    rm -rf "$KAFKA_LIB"; mv "$tmp" "$KAFKA_LIB"
    log "fetched $(find "$KAFKA_LIB" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
  fi
  exec 8>&-
}

require_java() {
  command -v "$JAVA" >/dev/null || die "java not found (Java 17+ is required; set JAVA_HOME)"
}

# Shared by every node and tool of both clusters.
write_log_configs() {
  local dir="$SLUICE_CACHE/kafka/$KAFKA_VERSION"
  # Upstream config/log4j2.yaml trimmed to one file: tests want one place to look, not six.
  # (A YAML config works because jackson-dataformat-yaml comes with kafka_2.13.)
  cat >"$dir/log4j2.yaml" <<'YAML'
Configuration:
  Properties:
    Property:
      - name: "kafka.logs.dir"
        value: "."
  Appenders:
    File:
      - name: ServerLog
        fileName: "${sys:kafka.logs.dir}/server.log"
        PatternLayout:
          pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: ServerLog
    Logger:
      - name: kafka.request.logger
        level: WARN
YAML
  # Like upstream tools-log4j2.yaml: only WARN+ and only on stderr, so tool stdout stays parseable.
  cat >"$dir/tools-log4j2.yaml" <<'YAML'
Configuration:
  Appenders:
    Console:
      name: STDERR
      target: SYSTEM_ERR
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDERR
YAML
}

run_class() {     # $1 JVM options, then main class and its arguments
  local jvm="$1"; shift
  fetch; require_java
  [[ -f "$SLUICE_CACHE/kafka/$KAFKA_VERSION/tools-log4j2.yaml" ]] || write_log_configs
  # shellcheck disable=SC2086  # option lists are meant to split
  "$JAVA" $jvm -Dlog4j2.configurationFile="$SLUICE_CACHE/kafka/$KAFKA_VERSION/tools-log4j2.yaml" \
    -cp "$KAFKA_LIB/*" "$@"
}
tool() { run_class "$TOOL_JVM" "$@"; }

# ---------------------------------------------------------------------------------------------
# Node configuration
write_server_config() {   # $1 node id
  local id=$1 dir rf isr voters="" i
  dir="$(node_dir "$id")"
  if ((NODES >= 3)); then rf=3; isr=2; else rf=1; isr=1; fi
  for ((i = 1; i <= NODES; i++)); do voters+="${voters:+,}$i@127.0.0.1:$(controller_port "$i")"; done
  mkdir -p "$dir/data" "$dir/logs"
  # Static voters (as in the official Docker image): format needs no --standalone/--initial-controllers
  # and the same file works for the first start and every restart.
  # 127.0.0.1 everywhere, never "localhost": Node may resolve localhost to ::1 first and get
  # ECONNREFUSED from an IPv4 listener.
  cat >"$dir/server.properties" <<EOF
# Generated by deploy/local/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(client_port "$id"),CONTROLLER://127.0.0.1:$(controller_port "$id")
advertised.listeners=PLAINTEXT://127.0.0.1:$(client_port "$id")
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data

# A produce/fetch to a missing topic must fail loudly in tests, not create it silently.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
# The internal topics default to RF 3, which a single node can never satisfy.
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
# Tests join groups constantly; the 3 s default delay would add 3 s to each first join.
group.initial.rebalance.delay.ms=0

# Compaction tests set segment.ms / min.cleanable.dirty.ratio on their topics; the cleaner must
# then look for work every second instead of every 15 s.
log.cleaner.enable=true
log.cleaner.backoff.ms=1000
log.cleaner.threads=1
# Default 128 MiB and it lives on the heap.
log.cleaner.dedupe.buffer.size=16777216
log.retention.check.interval.ms=10000

# Test-sized: the defaults (50 partitions per internal topic, 3/8/10 threads) are for real hosts,
# and a CI runner is CPU bound, especially with three brokers on it.
offsets.topic.num.partitions=5
transaction.state.log.num.partitions=5
share.coordinator.state.topic.num.partitions=5
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1

# Fence a SIGKILLed node after 6 s instead of 9 s, so failover tests finish sooner.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
EOF
}

# The SASL cluster: the single-node config with a SASL_PLAINTEXT client listener instead.
SASL_USER="${KAFKA_SASL_USER:-sluice}"
SASL_PASSWORD="${KAFKA_SASL_PASSWORD:-sluice-secret}"
write_sasl_config() {
  local dir port; dir="$(node_dir 1)"; port="$(client_port 1)"
  write_server_config 1
  sed -i -e "s#^listeners=.*#listeners=SASL_PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$(controller_port 1)#" \
    -e "s#^advertised.listeners=.*#advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$port#" \
    -e "s#^inter.broker.listener.name=.*#inter.broker.listener.name=SASL_PLAINTEXT#" \
    -e "s#^listener.security.protocol.map=.*#listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT#" \
    "$dir/server.properties"
  cat >>"$dir/server.properties" <<EOF

# SASL (kafka.sh start-sasl). PLAIN users live in the JAAS line; SCRAM users are written into the
# metadata log by "format --add-scram".
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_$SASL_USER="$SASL_PASSWORD";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
  # For Kafka's CLI tools against this cluster: --command-config $WORK/client.properties
  cat >"$WORK/client.properties" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";
EOF
}

start_sasl() {
  local t0=$SECONDS
  mkdir -p "$WORK"
  exec 9>"$WORK/.lock"
  flock 9
  if node_alive 1; then wait_node 1; bootstrap; return 0; fi
  port_open "$(client_port 1)" && die "127.0.0.1:$(client_port 1) is in use by another process (set KAFKA_SASL_PORT)"
  fetch; require_java; write_log_configs
  [[ -s "$WORK/cluster.id" ]] || new_cluster_id >"$WORK/cluster.id"
  write_sasl_config
  if [[ ! -f "$(node_dir 1)/data/meta.properties" ]]; then
    tool kafka.tools.StorageTool format --cluster-id "$(cat "$WORK/cluster.id")" \
      --config "$(node_dir 1)/server.properties" --ignore-formatted \
      --add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]" \
      --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASSWORD]" >/dev/null \
      || die "formatting the SASL node failed"
  fi
  touch "$WORK/started"
  start_node 1
  wait_node 1
  log "SASL cluster ready in $((SECONDS - t0))s"
  bootstrap
}

# ---------------------------------------------------------------------------------------------
# Processes
node_pid() { cat "$(node_dir "$1")/pid" 2>/dev/null || true; }
# Alive AND really our broker: after a reboot the pid in a stale pidfile may belong to anything.
node_alive() {
  local pid; pid="$(node_pid "$1")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$(node_dir "$1")/server.properties"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
who_listens() { ss -ltnpH "sport = :$1" 2>/dev/null | sed 's/^/    /' >&2 || true; }

start_node() {    # $1 node id; returns at once, wait_node does the waiting
  local id=$1 dir; dir="$(node_dir "$id")"
  node_alive "$id" && return 0
  rm -f "$dir/pid"
  # setsid: the broker must outlive the shell that started it (Ctrl-C, CI step, tool timeouts).
  # The inner shell writes its own pid and then exec's java, so the pid file is the JVM's pid
  # whether or not setsid had to fork.
  # The lock fds are closed so the JVM does not hold start/fetch locks for its whole life.
  # shellcheck disable=SC2016,SC2086  # $$ is for the inner shell; option lists are meant to split
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/pid" \
    "$JAVA" $SERVER_HEAP $SERVER_JVM \
    -Dkafka.logs.dir="$dir/logs" \
    -Dlog4j2.configurationFile="$SLUICE_CACHE/kafka/$KAFKA_VERSION/log4j2.yaml" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$dir/server.properties" \
    >>"$dir/logs/stdout.log" 2>&1 </dev/null 8>&- 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s "$dir/pid" ]] && return 0; sleep 0.1; done
  die "node $id did not start (see $dir/logs/stdout.log)"
}

# The client port is a true readiness signal: Kafka opens a fixed-port listener only once the
# broker is unfenced (SocketServer.scala defers the bind for exactly this reason).
wait_node() {     # $1 node id
  local id=$1 dir port deadline
  dir="$(node_dir "$id")"; port="$(client_port "$id")"; deadline=$((SECONDS + READY_TIMEOUT))
  until port_open "$port"; do
    if ! node_alive "$id"; then
      log "node $id exited during start-up; last log lines:"
      tail -n 30 "$dir/logs/stdout.log" "$dir/logs/server.log" >&2 2>/dev/null || true
      die "node $id failed to start"
    fi
    ((SECONDS < deadline)) || die "node $id: port $port not open after ${READY_TIMEOUT}s (see $dir/logs)"
    sleep 0.2
  done
}

# Open ports do not mean a 3-node cluster can place RF 3 replicas yet, so create a topic with
# RF=N until it works. A fresh name each time: --if-not-exists on an old topic would prove nothing.
# The topic is deleted again so tests listing topics do not trip over it.
wait_cluster() {
  local bs topic deadline
  bs="$(bootstrap)"; topic="__sluice_ready_$$_$RANDOM"; deadline=$((SECONDS + READY_TIMEOUT))
  until tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --create --topic "$topic" \
          --partitions 1 --replication-factor "$NODES" >/dev/null 2>"$WORK/ready.err"; do
    ((SECONDS < deadline)) || { cat "$WORK/ready.err" >&2; die "cluster not ready after ${READY_TIMEOUT}s"; }
    sleep 1
  done
  rm -f "$WORK/ready.err"
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --delete --topic "$topic" \
    >/dev/null 2>&1 || log "warning: could not delete readiness topic $topic"
}

# What `kafka-storage.sh random-uuid` prints (16 random bytes, unpadded base64url), minus one JVM
# start. Like Kafka's Uuid.randomUuid, reject a leading '-', which CLIs would take for an option.
new_cluster_id() {
  local id="-"
  while [[ "$id" == -* ]]; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c 1-22)"
  done
  echo "$id"
}

start_cluster() {
  local i t0=$SECONDS todo=() foreign=0 port
  mkdir -p "$WORK"
  # Serialise concurrent starts of the same cluster (two infra.sh up at once).
  exec 9>"$WORK/.lock"
  flock 9
  for ((i = 1; i <= NODES; i++)); do
    port="$(client_port "$i")"
    if node_alive "$i"; then
      port_open "$port" || todo+=("$i")   # ours but still starting: just wait for it below
    elif port_open "$port"; then
      log "127.0.0.1:$port is already served by a process this script did not start; using it:"
      who_listens "$port"
      foreign=$((foreign + 1))
    else
      todo+=("$i")
    fi
  done
  if ((${#todo[@]} == 0)); then
    ((foreign == 0)) && touch "$WORK/started"
    bootstrap
    return 0
  fi

  fetch; require_java; write_log_configs
  # The cluster id is made once per work dir; every node must be formatted with the same one.
  [[ -s "$WORK/cluster.id" ]] || new_cluster_id >"$WORK/cluster.id"
  for i in "${todo[@]}"; do write_server_config "$i"; done
  # Only a new data dir needs formatting; a restart keeps its data. The formats run in parallel
  # because each is a JVM start of its own.
  local pids=()
  for i in "${todo[@]}"; do
    [[ -f "$(node_dir "$i")/data/meta.properties" ]] && continue
    tool kafka.tools.StorageTool format --cluster-id "$(cat "$WORK/cluster.id")" \
      --config "$(node_dir "$i")/server.properties" --ignore-formatted >/dev/null &
    pids+=($!)
  done
  for i in "${pids[@]}"; do
    wait "$i" || die "formatting failed (a data dir written by a newer Kafka? delete $WORK)"
  done
  touch "$WORK/started"
  log "starting ${#todo[@]} node(s) of the $NODES-node cluster in $WORK"
  for i in "${todo[@]}"; do start_node "$i"; done
  for i in "${todo[@]}"; do wait_node "$i"; done
  log "client port(s) open after $((SECONDS - t0))s; checking that an RF=$NODES topic can be created"
  wait_cluster
  log "$NODES-node cluster ready in $((SECONDS - t0))s"
  bootstrap
}

signal_node() {   # $1 node id, $2 signal, $3 grace seconds before SIGKILL
  local id=$1 sig=$2 grace=$3 pid deadline
  node_alive "$id" || { rm -f "$(node_dir "$id")/pid"; return 0; }
  pid="$(node_pid "$id")"
  kill "-$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "node $id still running after ${grace}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$(node_dir "$id")/pid"
}

stop_cluster() {
  local i alive pids=() deadline quorum_lost_at=0 killed=0
  for ((i = 1; i <= NODES; i++)); do if node_alive "$i"; then pids+=("$(node_pid "$i")"); fi; done
  if ((${#pids[@]} == 0)); then
    rm -f "$WORK/started"
    log "no node of the $NODES-node cluster started by kafka.sh is running"
    return 0
  fi
  # All at once: a broker's controlled shutdown waits (up to 5 min) for an active controller,
  # which a 3-node quorum stopped one node at a time loses half-way through.
  kill -TERM "${pids[@]}" 2>/dev/null || true
  # Even so, the last node standing can hang: once the majority has exited it has no quorum to
  # commit its own shutdown to. Nothing it does after that matters, so give it 3 s, then SIGKILL.
  deadline=$((SECONDS + 15))
  while :; do
    alive=0
    for i in "${pids[@]}"; do if kill -0 "$i" 2>/dev/null; then alive=$((alive + 1)); fi; done
    ((alive > 0)) || break
    if ((NODES > 1 && alive <= NODES / 2 && quorum_lost_at == 0)); then quorum_lost_at=$SECONDS; fi
    if ((!killed && (SECONDS >= deadline || (quorum_lost_at > 0 && SECONDS - quorum_lost_at >= 3)))); then
      log "SIGKILL for the $alive node(s) still shutting down"
      kill -KILL "${pids[@]}" 2>/dev/null || true
      killed=1
    fi
    sleep 0.2
  done
  for ((i = 1; i <= NODES; i++)); do rm -f "$(node_dir "$i")/pid"; done
  rm -f "$WORK/started"
  log "$NODES-node cluster stopped (${#pids[@]} node(s) were running)"
}

status() {
  local i port state
  for ((i = 1; i <= NODES; i++)); do
    port="$(client_port "$i")"
    if node_alive "$i"; then
      state="running, pid $(node_pid "$i")"
      port_open "$port" && state+=", serving" || state+=", starting"
    elif port_open "$port"; then state="served by a process kafka.sh did not start"
    else state="down"; fi
    echo "kafka node $i/$NODES 127.0.0.1:$port: $state"
  done
}

# ---------------------------------------------------------------------------------------------
cmd="${1:-}"; shift || true
case "$cmd" in
  fetch)   fetch ;;
  start)   select_cluster "${1:-1}"; start_cluster ;;
  stop)    select_cluster "${1:-$(default_size)}"; stop_cluster ;;
  kill)    select_cluster "$(default_size)"; check_id "${1:-}"; signal_node "$1" KILL 5 ;;
  term)    select_cluster "$(default_size)"; check_id "${1:-}"; signal_node "$1" TERM 60 ;;
  restart) select_cluster "$(default_size)"; check_id "${1:-}"
           signal_node "$1" TERM 60
           fetch; require_java; write_log_configs; write_server_config "$1"
           start_node "$1"; wait_node "$1" ;;
  wait)    select_cluster "$(default_size)"; check_id "${1:-}"; wait_node "$1" ;;
  bootstrap) select_cluster "$(default_size)"; bootstrap ;;
  status)  select_cluster "${1:-$(default_size)}"; status ;;
  topics)           tool org.apache.kafka.tools.TopicCommand "$@" ;;
  groups)           tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@" ;;
  get-offsets)      tool org.apache.kafka.tools.GetOffsetShell "$@" ;;
  configs)          tool org.apache.kafka.tools.ConfigCommand "$@" ;;   # kafka.admin.* before 4.4
  quorum)           tool org.apache.kafka.tools.MetadataQuorumCommand "$@" ;;
  cluster)          tool org.apache.kafka.tools.ClusterTool "$@" ;;
  console-producer) tool org.apache.kafka.tools.ConsoleProducer "$@" ;;
  console-consumer) tool org.apache.kafka.tools.consumer.ConsoleConsumer "$@" ;;
  producer-perf)    run_class "$PERF_JVM" org.apache.kafka.tools.ProducerPerformance "$@" ;;
  consumer-perf)    run_class "$PERF_JVM" org.apache.kafka.tools.ConsumerPerformance "$@" ;;
  tool)             tool "$@" ;;
  start-sasl)       select_cluster sasl; start_sasl ;;
  stop-sasl)        select_cluster sasl; stop_cluster ;;
  status-sasl)      select_cluster sasl; status ;;
  *) sed -n '2,/^set /{/^#/p}' "$0" >&2; exit 2 ;;
esac
