#!/usr/bin/env bash
# Encodes the hand-written text-format seeds of the protobuf harnesses (seeds/<name>/*.txtpb) into
# their binary seed corpora (corpus/<name>/<file name without .txtpb>). Run after editing a
# seed; the binaries are committed so that a build needs no protoc run for them.
set -euo pipefail
cd "$(dirname "$0")"
proto=../../proto
declare -A type=(
  [grpc_read]=event_store.client.streams.ReadReq
  [grpc_append]=esdb.fuzz.AppendCall
  [grpc_batch_append]=esdb.fuzz.BatchAppendCall
  [grpc_delete]=event_store.client.streams.DeleteReq
  [grpc_convert]=event_store.client.streams.BatchAppendReq
  [event_view]=event_store.client.streams.ReadResp.ReadEvent.RecordedEvent
)
for name in "${!type[@]}"; do
  mkdir -p "corpus/$name"
  for seed in seeds/"$name"/*.txtpb; do
    protoc -I"$proto" -I. --encode="${type[$name]}" fuzz_calls.proto streams.proto \
      <"$seed" >"corpus/$name/$(basename "$seed" .txtpb)"
  done
done
