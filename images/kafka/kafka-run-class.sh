#!/bin/sh
# Runs one Kafka main class with every jar of /opt/kafka/libs on the classpath, like the
# upstream script of the same name, without its daemon, GC-log and JMX handling.
#   KAFKA_HEAP_OPTS             heap settings (default -Xmx256M: the tools need little)
#   KAFKA_JVM_PERFORMANCE_OPTS  GC settings (default: upstream's G1 settings)
#   KAFKA_LOG4J_OPTS            log4j2 configuration (default: tools-log4j2.yaml, warnings to stderr)
#   KAFKA_OPTS                  anything else for the JVM (SASL JAAS files, system properties)
#   JAVA                        the java binary (default: java on PATH)
set -eu
if [ $# -lt 1 ]; then
  echo "USAGE: $0 classname [opts]" >&2
  exit 1
fi
base_dir=$(cd "$(dirname "$0")/.." && pwd)

KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx256M}
KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}
KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=file:$base_dir/config/tools-log4j2.yaml}
KAFKA_OPTS=${KAFKA_OPTS:-}

# The option variables hold several words each: split them on purpose.
# shellcheck disable=SC2086
exec "${JAVA:-java}" $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_LOG4J_OPTS $KAFKA_OPTS \
  -cp "$base_dir/libs/*" "$@"
