#!/bin/sh
# The image's default command: format the storage on first start, then run the server, for a
# single node that is broker and controller at once (process.roles=broker,controller) with
# its server.properties mounted at $KAFKA_CONFIG (default /opt/kafka/config/server.properties).
#   KAFKA_CLUSTER_ID  the cluster id to format with (default: a random one); used only
#                     when the storage is not formatted yet
# A multi-node cluster formats each node with its own kafka-storage.sh call instead.
set -eu
config=${KAFKA_CONFIG:-/opt/kafka/config/server.properties}
if [ ! -r "$config" ]; then
  echo "$0: no server configuration at $config: mount one there (or set KAFKA_CONFIG)" >&2
  exit 1
fi
# A cluster id is 16 bytes in URL-safe base64 without padding (what kafka-storage.sh
# random-uuid prints), made here to spare a second JVM start.
cluster_id=${KAFKA_CLUSTER_ID:-$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c 1-22)}
# A dynamic quorum (controller.quorum.bootstrap.servers) needs its first controller formatted
# with --standalone; a static one (controller.quorum.voters) must not be.
standalone=--standalone
if grep -Eq '^[[:space:]]*controller\.quorum\.voters[[:space:]]*[=:]' "$config"; then
  standalone=
fi
# --cluster-id=<id>: an id may begin with "-", which a separate argument would turn into an
# option. --ignore-formatted: a restart keeps the data and the cluster id formatted the first time.
# shellcheck disable=SC2086
"$(dirname "$0")/kafka-storage.sh" format --ignore-formatted $standalone --cluster-id="$cluster_id" -c "$config"
exec "$(dirname "$0")/kafka-server-start.sh" "$config"
