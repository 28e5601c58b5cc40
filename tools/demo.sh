#!/usr/bin/env bash
# The README's run command: start esdb-devnode on a fresh data folder with the connectors library,
# create a sample file-sink connector through the HTTP API, append sample events with curl, show
# that they arrived, then keep running until Ctrl-C.
set -euo pipefail
BUILD=${1:?usage: demo.sh BUILD_DIR}
PORT=${ESDB_HTTP_PORT:-2114}
DATA=$(mktemp -d /tmp/esdb-demo.XXXXXX)
URL=http://127.0.0.1:$PORT
OUT=$DATA/orders.jsonl

say() { printf '\n\033[1;32m### %s\033[0m\n' "$*"; }

"$BUILD/bin/esdb-devnode" --db "$DATA/devnode.db" --http-port "$PORT" --sink-files-root "$DATA" \
  >"$DATA/devnode.log" 2>&1 &
NODE=$!
trap 'kill -TERM $NODE 2>/dev/null; wait $NODE 2>/dev/null; echo; echo "stopped; data kept in $DATA"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$URL/health/live" >/dev/null 2>&1 && break
  kill -0 $NODE 2>/dev/null || { cat "$DATA/devnode.log"; exit 1; }
  sleep 0.1
done
curl -fsS "$URL/health/live" >/dev/null || { echo "dev node did not become ready"; cat "$DATA/devnode.log"; exit 1; }

say "dev node up at $URL (data in $DATA)"
curl -sS "$URL/info"; echo
say "sink plugins loaded"
curl -sS "$URL/connector-plugins" | head -c 400; echo " ..."

say "create connector 'orders-to-file' (file-sink, streams starting with 'order-')"
curl -sS -X POST "$URL/connectors/orders-to-file" -H 'Content-Type: application/json' -d "{
  \"settings\": {
    \"instanceTypeName\": \"file-sink\",
    \"path\": \"$OUT\",
    \"subscription:filter:scope\": \"stream\",
    \"subscription:filter:filterType\": \"prefix\",
    \"subscription:filter:expression\": \"order-\",
    \"subscription:initialPosition\": \"earliest\"
  }}"; echo
curl -sS -X POST "$URL/connectors/orders-to-file/enable"; echo

say "append 3 events to order-1 and 1 event to user-1 (filtered out)"
for i in 1 2 3; do
  curl -sS -X POST "$URL/streams/order-1" -H 'Content-Type: application/vnd.eventstore.events+json' \
    -d "[{\"eventId\":\"$(cat /proc/sys/kernel/random/uuid)\",\"eventType\":\"OrderPlaced\",\"data\":{\"order\":$i,\"amount\":$((i * 10))}}]"; echo
done
curl -sS -X POST "$URL/streams/user-1" -H 'Content-Type: application/vnd.eventstore.events+json' \
  -d '[{"eventType":"UserRegistered","data":{"name":"ada"}}]'; echo

say "waiting for delivery to $OUT"
for _ in $(seq 1 100); do
  # Record lines only: the file's first line is the sink's header ({"esdbFileSink":...}).
  [ -f "$OUT" ] && [ "$(grep -c '^{"position"' "$OUT")" -ge 3 ] && break
  sleep 0.1
done
cat "$OUT"
say "connector state"
curl -sS "$URL/connectors/orders-to-file"; echo

cat <<MSG

The dev node keeps running. Try:
  curl -X POST $URL/streams/order-2 -H 'Content-Type: application/vnd.eventstore.events+json' -d '[{"eventType":"OrderPlaced","data":{"order":4}}]'
  tail -f $OUT
  curl $URL/connectors          curl $URL/metrics          curl -X POST $URL/connectors/orders-to-file/disable
Press Ctrl-C to stop (connectors write a final checkpoint).
MSG
wait $NODE
