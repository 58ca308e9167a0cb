#!/usr/bin/env bash
# `npm run demo`: word-count end to end on a local Kafka and Redis (provisioned when absent):
# builds, produces sample lines, runs a driver and two executors until everything present at start
# is committed (one line per batch), then prints the top words. Run it again: it continues from the
# checkpoint and counts only the new lines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

npm run -s build
while IFS='=' read -r key value; do
  case "$key" in KAFKA_BROKERS | REDIS_URL) export "$key=$value" ;; esac
done <<<"$(bash deploy/local/infra.sh up)"

node examples/word-count/produce-sample.js lines "${DEMO_LINES:-20000}"
# A rate cap of 2,000 records/s per partition turns the backlog into a few one-second batches.
node packages/cli/dist/main.js run --job examples/word-count --executors 2 --until latest --max-rate-per-partition 2000 --log-level warn
node examples/word-count/top-words.js word-count 10
