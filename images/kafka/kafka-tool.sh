#!/bin/sh
# The command-line tools: each tool's script (kafka-topics.sh, ...) is a link to this file,
# which runs the main class that the upstream script of that name runs in Kafka 4.1.
set -eu
case "$(basename "$0")" in
  kafka-topics.sh) class=org.apache.kafka.tools.TopicCommand ;;
  kafka-storage.sh) class=kafka.tools.StorageTool ;;
  kafka-configs.sh) class=kafka.admin.ConfigCommand ;;
  kafka-metadata-quorum.sh) class=org.apache.kafka.tools.MetadataQuorumCommand ;;
  kafka-reassign-partitions.sh) class=org.apache.kafka.tools.reassign.ReassignPartitionsCommand ;;
  kafka-console-producer.sh) class=org.apache.kafka.tools.ConsoleProducer ;;
  kafka-console-consumer.sh) class=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  *)
    echo "$0: not a Kafka tool this image knows" >&2
    exit 1
    ;;
esac
exec "$(dirname "$0")/kafka-run-class.sh" "$class" "$@"
