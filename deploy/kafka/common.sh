# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts
# Shared helpers for deploy/kafka/{start,stop,tool}. Sourced, not executed.

KAFKA_DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_POM="$KAFKA_DEPLOY_DIR/pom.xml"
KAFKA_HOME_DIR="${TALLYWIRE_KAFKA_HOME:-${HOME:-/tmp}/.cache/tallywire/kafka}"
KAFKA_JARS="$KAFKA_HOME_DIR/jars"
KAFKA_DEFAULT_STATE="${TALLYWIRE_KAFKA_STATE:-/tmp/tallywire-kafka}"
# Marker file: start only ever wipes a state dir that contains it (or is empty).
KAFKA_STATE_MARKER=".tallywire-kafka-state"

if [[ -n "${JAVA:-}" ]]; then
  :
elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA=java
fi

log() { printf '[kafka] %s\n' "$*" >&2; }
die() { printf '[kafka] error: %s\n' "$*" >&2; exit 1; }

pom_hash() {
  sha256sum "$KAFKA_POM" | cut -d' ' -f1
}

# Make sure $KAFKA_JARS holds the jars for the current pom.xml. Runs Maven
# only when the jar dir is missing or was produced from a different pom.xml.
ensure_jars() {
  local want stamp tmp
  want=$(pom_hash)
  stamp="$KAFKA_JARS/.pom-sha256"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
     && compgen -G "$KAFKA_JARS/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null || die "jars missing in $KAFKA_JARS and mvn not found"
  mkdir -p "$KAFKA_HOME_DIR"
  # Serialise concurrent downloads (e.g. parallel ctest runs).
  exec 8>"$KAFKA_HOME_DIR/.lock"
  command -v flock >/dev/null && flock 8
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exec 8>&-
    return 0
  fi
  tmp=$(mktemp -d "$KAFKA_HOME_DIR/jars.tmp.XXXXXX")
  log "fetching Kafka jars from Maven Central into $KAFKA_JARS ..."
  local t0=$SECONDS
  if ! mvn -B -q -f "$KAFKA_POM" dependency:copy-dependencies \
        -DoutputDirectory="$tmp" >"$tmp.mvn.log" 2>&1; then
    cat "$tmp.mvn.log" >&2
    rm -rf "$tmp" "$tmp.mvn.log"
    die "mvn dependency:copy-dependencies failed"
  fi
  rm -f "$tmp.mvn.log"
  echo "$want" >"$tmp/.pom-sha256"
  rm -rf "$KAFKA_JARS"
  mv "$tmp" "$KAFKA_JARS"
  exec 8>&-
  log "fetched $(find "$KAFKA_JARS" -name '*.jar' | wc -l) jars in $((SECONDS - t0)) s"
}

# Quiet log4j config for one-shot tools (StorageTool, TopicCommand, ...).
write_tools_log4j() {
  cat >"$1" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

# Is something accepting TCP connections on 127.0.0.1:$1 (or host $2)?
port_open() {
  local port=$1 host=${2:-127.0.0.1}
  timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

# Alive = exists and is not a zombie (a broker that died while start.sh, its
# parent, is still running stays a zombie until start exits).
pid_alive() {
  local st
  [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null || return 1
  if [[ -r /proc/$1/stat ]]; then
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
    [[ "$st" != Z && "$st" != X && -n "$st" ]] || return 1
  fi
  return 0
}

# Is $1 a Kafka broker process started by us for config file $2?
pid_is_our_kafka() {
  local pid=$1 conf=$2 cmd
  pid_alive "$pid" || return 1
  [[ -r /proc/$pid/cmdline ]] || return 0   # no procfs: trust the pid file
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
  [[ "$cmd" == *kafka.Kafka* && "$cmd" == *"$conf"* ]]
}
