#!/usr/bin/env bash
# The README's run command: start esdb-devnode secure (HTTPS and gRPC over TLS, users admin and
# ops) on a fresh database with the connectors library, create a sample file-sink connector
# through the HTTP API, append sample events with curl, show that they arrived, then keep running
# until Ctrl-C.
#
# The development CA and the node's certificate are made with openssl, once, in
# devnode-data/certs/ (the dev node's default data folder) and reused by later runs while they
# are valid; delete that folder to get new ones.
set -euo pipefail
BUILD=${1:?usage: demo.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${ESDB_HTTP_PORT:-2114}
GRPC_PORT=${ESDB_GRPC_PORT:-2113}
CERTS=${ESDB_DEMO_CERTS:-$ROOT/devnode-data/certs}
DATA=$(mktemp -d /tmp/esdb-demo.XXXXXX)
URL=https://127.0.0.1:$PORT
OUT=$DATA/orders.jsonl
# KurrentDB's default users; a real deployment replaces them with --users-file.
ADMIN=admin:changeit
OPS=ops:changeit

say() { printf '\n\033[1;32m### %s\033[0m\n' "$*"; }

# A CA for development and a certificate for 127.0.0.1/localhost signed by it, unless valid
# ones (for at least another day) are already there.
make_certs() {
  if [ -f "$CERTS/ca.crt" ] && [ -f "$CERTS/node.crt" ] && [ -f "$CERTS/node.key" ] &&
     openssl x509 -in "$CERTS/node.crt" -noout -checkend 86400 >/dev/null 2>&1 &&
     openssl verify -CAfile "$CERTS/ca.crt" "$CERTS/node.crt" >/dev/null 2>&1; then
    return
  fi
  say "making a development CA and node certificate in $CERTS"
  mkdir -p "$CERTS"
  chmod 700 "$CERTS"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$CERTS/ca.key" -out "$CERTS/ca.crt" -days 3650 \
    -subj "/CN=esdb-connectors development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$CERTS/node.key" -out "$CERTS/node.csr" -subj "/CN=esdb-devnode" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,clientAuth" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$CERTS/node.ext"
  openssl x509 -req -in "$CERTS/node.csr" -CA "$CERTS/ca.crt" -CAkey "$CERTS/ca.key" \
    -CAcreateserial -days 825 -out "$CERTS/node.crt" -extfile "$CERTS/node.ext" 2>/dev/null
  chmod 600 "$CERTS/ca.key" "$CERTS/node.key"
  rm -f "$CERTS/node.csr"
}

make_certs
CA=$CERTS/ca.crt
api() { curl -sS --cacert "$CA" "$@"; }

"$BUILD/bin/esdb-devnode" --db "$DATA/devnode.db" --http-port "$PORT" --grpc-port "$GRPC_PORT" \
  --tls-cert-file "$CERTS/node.crt" --tls-key-file "$CERTS/node.key" --tls-ca-file "$CA" \
  --sink-files-root "$DATA" \
  >"$DATA/devnode.log" 2>&1 &
NODE=$!
trap 'kill -TERM $NODE 2>/dev/null; wait $NODE 2>/dev/null; echo; echo "stopped; data kept in $DATA"' EXIT
for _ in $(seq 1 100); do
  api -f "$URL/health/live" >/dev/null 2>&1 && break
  kill -0 $NODE 2>/dev/null || { cat "$DATA/devnode.log"; exit 1; }
  sleep 0.1
done
api -f "$URL/health/live" >/dev/null || { echo "dev node did not become ready"; cat "$DATA/devnode.log"; exit 1; }

say "dev node up at $URL (gRPC on 127.0.0.1:$GRPC_PORT, TLS; data in $DATA)"
cat <<MSG
users:   admin / changeit (\$admins)    ops / changeit (\$ops)
CA:      $CA   (curl --cacert, tlsCAFile= for the official clients)
MSG
api "$URL/info"; echo
say "without credentials: 401"
api "$URL/connectors"; echo
say "sink plugins loaded"
api -u "$ADMIN" "$URL/connector-plugins" | head -c 400; echo " ..."

say "create connector 'orders-to-file' as ops (file-sink, streams starting with 'order-')"
api -u "$OPS" -X POST "$URL/connectors/orders-to-file" -H 'Content-Type: application/json' -d "{
  \"settings\": {
    \"instanceTypeName\": \"file-sink\",
    \"path\": \"$OUT\",
    \"subscription:filter:scope\": \"stream\",
    \"subscription:filter:filterType\": \"prefix\",
    \"subscription:filter:expression\": \"order-\",
    \"subscription:initialPosition\": \"earliest\"
  }}"; echo
api -u "$OPS" -X POST "$URL/connectors/orders-to-file/enable"; echo

say "append 3 events to order-1 and 1 event to user-1 (filtered out)"
for i in 1 2 3; do
  api -u "$ADMIN" -X POST "$URL/streams/order-1" -H 'Content-Type: application/vnd.eventstore.events+json' \
    -d "[{\"eventId\":\"$(cat /proc/sys/kernel/random/uuid)\",\"eventType\":\"OrderPlaced\",\"data\":{\"order\":$i,\"amount\":$((i * 10))}}]"; echo
done
api -u "$ADMIN" -X POST "$URL/streams/user-1" -H 'Content-Type: application/vnd.eventstore.events+json' \
  -d '[{"eventType":"UserRegistered","data":{"name":"ada"}}]'; echo

say "waiting for delivery to $OUT"
for _ in $(seq 1 100); do
  # Record lines only: the file's first line is the sink's header ({"esdbFileSink":...}).
  [ -f "$OUT" ] && [ "$(grep -c '^{"position"' "$OUT")" -ge 3 ] && break
  sleep 0.1
done
cat "$OUT"
say "connector state"
api -u "$ADMIN" "$URL/connectors/orders-to-file"; echo

cat <<MSG

The dev node keeps running. Try:
  curl --cacert $CA -u $ADMIN -X POST $URL/streams/order-2 -H 'Content-Type: application/vnd.eventstore.events+json' -d '[{"eventType":"OrderPlaced","data":{"order":4}}]'
  tail -f $OUT
  curl --cacert $CA -u $ADMIN $URL/connectors
  curl --cacert $CA -u $OPS -X POST $URL/connectors/orders-to-file/disable
  official clients: kurrentdb://$ADMIN@127.0.0.1:$GRPC_PORT?tls=true&tlsCAFile=$CA
Press Ctrl-C to stop (connectors write a final checkpoint).
MSG
wait $NODE
