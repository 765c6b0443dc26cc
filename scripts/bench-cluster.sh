#!/usr/bin/env bash
# The cluster's control path and serving, on this machine: a redis-server and silos on loopback (one CPU device
# each unless said), then
#   0. the same tp-2 engine under `granary serve`: a silo alone on localhost clustering (no Redis); in builds before
#      2026-12-04 serve ran the engine without Orleans, the baseline a silo's replica was measured against,
#   1. a tp-2 replica inside one silo (its TP group talks in-process: no grain call per step),
#   2. a tp-2 replica spanning two silos (one step plan per step as a grain call to the other silo),
#   3. the control path alone between two silos (`granary bench control`: a 1 KB plan out, 64 B back).
# With BEFORE=/path/to/old/granary.dll the same runs go first on that build (the landed home-made transport, whose
# silos took GRANARY_CLUSTER_SECRET and no --client-port, and whose `bench control` timed its transport in-process).
# Build first (Release). Settings: THREADS (CPU threads per silo, 1), PROMPTS (64), CONCURRENCY (16), INPUT (32), OUTPUT (64),
# RUNS (bench serve runs against each server, 2: the first also pays the JIT of the request path, the later ones show
# the steady state; builds before 2026-12-04 did not warm their engine before serving).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
model=${GRANARY_MODEL:-$repo/models/stories15M}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
logs=$(mktemp -d)
pids=()
stop_all() { kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; pids=(); }
trap 'stop_all; rm -rf "$logs"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"

run() { # run NAME DLL KIND(old|new)
  local name=$1 dll=$2 kind=$3 port gateway redis
  local granary=(dotnet "$dll")
  port=$(free_port); redis=redis://127.0.0.1:$port
  redis-server --port "$port" --save "" --appendonly no --dir "$logs" > "$logs/redis-$name.log" 2>&1 & pids+=($!)
  sleep 0.5
  local extra=(--client-port 0)
  if [ "$kind" = old ]; then extra=(); export GRANARY_CLUSTER_SECRET=bench; fi
  silo() { # silo CLUSTER-ID NAME DEVICES [GATEWAY-PORT]
    local args=(silo --cluster "$redis" --cluster-id "$1" --name "$2" --port 0 --devices "$3" --threads "${THREADS:-1}" --rank-port-base "$(free_port)" "${extra[@]}")
    [ -n "${4:-}" ] && args+=(--gateway --gateway-port "$4")
    "${granary[@]}" "${args[@]}" > "$logs/$name-$2.log" 2>&1 & pids+=($!)
  }
  measure() { # measure PORT: bench serve against the OpenAI server there, RUNS times, their summary lines
    for run in $(seq "${RUNS:-2}"); do
      echo "-- run $run"
      "${granary[@]}" bench serve --base-url "http://127.0.0.1:$1" --num-prompts "${PROMPTS:-64}" --max-concurrency "${CONCURRENCY:-16}" \
        --input-len "${INPUT:-32}" --output-len "${OUTPUT:-64}" 2>/dev/null | grep -E 'throughput|Mean TTFT|Mean TPOT|Failed' || return 1
    done
  }
  serve() { # serve CLUSTER-ID GATEWAY-PORT TITLE
    "${granary[@]}" deploy --cluster "$redis" --cluster-id "$1" --model "$model" --tp 2 --kv-cache-mib 32 > /dev/null
    for _ in $(seq 240); do
      "${granary[@]}" cluster status --cluster "$redis" --cluster-id "$1" 2>/dev/null | grep -q ' ready$' && break
      sleep 0.5
    done
    echo "== $name: $3"
    measure "$2" || { echo "(no result: the replica did not serve; its silos' logs follow)"; tail -n 5 "$logs/$name"-*.log; }
  }
  local g0 g1 g2; g0=$(free_port); g1=$(free_port); g2=$(free_port)
  "${granary[@]}" serve --model "$model" --tp 2 --threads "${THREADS:-1}" --kv-cache-mib 32 --port "$g0" > "$logs/$name-serve.log" 2>&1 & pids+=($!)
  for _ in $(seq 240); do curl -sf "http://127.0.0.1:$g0/ready" > /dev/null && break; sleep 0.5; done
  echo "== $name: tp 2 under granary serve (a silo alone; no silo before 2026-12-04)"
  measure "$g0"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'
  silo "$name-one" one "cpu:0,cpu:1" "$g1"
  serve "$name-one" "$g1" "tp 2 inside one silo"
  silo "$name-two" a cpu:0 "$g2"; silo "$name-two" b cpu:0
  serve "$name-two" "$g2" "tp 2 across two silos"
  echo "== $name: control path"
  if [ "$kind" = old ]; then "${granary[@]}" bench control --calls 5000
  else "${granary[@]}" bench control --cluster "$redis" --cluster-id "$name-two" --calls 5000; fi
  stop_all
  unset GRANARY_CLUSTER_SECRET
}

[ -n "${BEFORE:-}" ] && run before "$BEFORE" old
run after "$repo/silo/Granary.Silo/bin/Release/net10.0/granary.dll" new
