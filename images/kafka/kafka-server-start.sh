#!/bin/sh
# Starts a broker and/or controller in the foreground: kafka-server-start.sh server.properties
# [--override property=value ...]. The storage must have been formatted (kafka-storage.sh).
set -eu
if [ $# -lt 1 ]; then
  echo "USAGE: $0 server.properties [--override property=value]*" >&2
  exit 1
fi
base_dir=$(cd "$(dirname "$0")/.." && pwd)
# Server defaults as upstream: a 1 GiB heap and log4j2.yaml (INFO to stdout).
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=file:$base_dir/config/log4j2.yaml}"
exec "$base_dir/bin/kafka-run-class.sh" kafka.Kafka "$@"
