#!/usr/bin/env bash
# Serving throughput of one deployment with 1, 2 and 3 replicas behind one gateway, on this machine: a redis-server
# and three silos on loopback (one CPU device each), then `granary bench serve` against the gateway for each replica
# count, then one tensor-parallel replica spanning two silos (one step plan per step as an Orleans grain call).
# Build first (Release).
# Settings: THREADS (CPU threads per silo, default 1), PROMPTS (64), CONCURRENCY (16), INPUT (32), OUTPUT (64).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
granary=(dotnet "$repo/silo/Granary.Silo/bin/Release/net10.0/granary.dll")
model=${GRANARY_MODEL:-$repo/models/stories15M}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
gateway=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis=redis://127.0.0.1:$port
logs=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$logs"; }
trap cleanup EXIT
redis-server --port "$port" --save "" --appendonly no --dir "$logs" > "$logs/redis.log" 2>&1 & pids+=($!)
sleep 0.5
for i in 1 2 3; do
  extra=(); [ "$i" = 1 ] && extra=(--gateway --gateway-port "$gateway")
  "${granary[@]}" silo --cluster "$redis" --name "s$i" --port 0 --client-port 0 --devices cpu:0 --threads "${THREADS:-1}" "${extra[@]}" > "$logs/s$i.log" 2>&1 & pids+=($!)
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
for n in 1 2 3; do
  "${granary[@]}" deploy --cluster "$redis" --model "$model" --replicas "$n" --kv-cache-mib 32 > /dev/null
  for _ in $(seq 120); do
    [ "$("${granary[@]}" cluster status --cluster "$redis" | grep -c ' ready$')" = "$n" ] && break
    sleep 0.5
  done
  echo "== $n replica(s)"
  "${granary[@]}" bench serve --base-url "http://127.0.0.1:$gateway" --num-prompts "${PROMPTS:-64}" --max-concurrency "${CONCURRENCY:-16}" \
    --input-len "${INPUT:-32}" --output-len "${OUTPUT:-64}" 2>/dev/null | grep -E 'throughput|Mean TTFT|Mean TPOT|Failed'
done
echo "== 1 replica, tp 2 across 2 silos"
"${granary[@]}" deploy --cluster "$redis" --model "$model" --replicas 1 --tp 2 --kv-cache-mib 32 > /dev/null
for _ in $(seq 120); do
  "${granary[@]}" cluster status --cluster "$redis" | grep -q '1=s.*ready$' && break
  sleep 0.5
done
"${granary[@]}" bench serve --base-url "http://127.0.0.1:$gateway" --num-prompts "${PROMPTS:-64}" --max-concurrency "${CONCURRENCY:-16}" \
  --input-len "${INPUT:-32}" --output-len "${OUTPUT:-64}" 2>/dev/null | grep -E 'throughput|Mean TTFT|Mean TPOT|Failed'
