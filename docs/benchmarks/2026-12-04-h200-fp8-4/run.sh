#!/bin/bash
# (Needs tiled-gemm-2.patch applied to the build: GRANARY_FP8_ROUTE, GRANARY_KERNEL_DEFINES and GRANARY_FP8_TILED_GATED exist only there.)
# Device runs of the pipelined tiled FP8 product (issue17-gemm2), from /work/main's root with the branch's build in
# .gpu-wt17 (app.tar.xz, dotnet.tar.xz, env.sh, hf_baseline.py; carry it). Logs to $OUT/logs, tarred into $OUT/logs.tgz.
# STEPS (default ops,fixtures,profile,bench):
#   ops, fixtures  the CUDA test app's op checks against the CPU backend and the fixtures' greedy tokens (FP8 included)
#   profile        `profile fp8` per variant in VARIANTS (name=ENV,ENV...; ENV as VAR=VALUE with ~ for spaces)
#   bench          bench-local bf16, then fp8 for each of BENCH (name=ENV... as above), batch 1,8,32,64, same run
set -u
P=.gpu-wt17
OUT=${OUT:-$PWD/gpu-logs}; L=$OUT/logs; mkdir -p "$L"
rm -rf $P/app; tar -C $P -xJf $P/app.tar.xz
source $P/env.sh
export GRANARY_KERNEL_CACHE=/tmp/granary-kernels PYTHONUNBUFFERED=1
T=$P/app/Granary.Cuda.Tests/Granary.Cuda.Tests.dll; G=$P/app/Granary.Silo/granary.dll; MODEL=/tmp/llama1b
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv > "$L/gpu.txt"
s() { echo "== $1 $(date +%T)"; }
# runs "$@" with the variant's environment ($1: name=A=1,B=2~3)
withenv() { local spec=$1; shift; local envs=(); local e; IFS=, read -ra parts <<< "${spec#*=}"; for e in "${parts[@]}"; do [ -n "$e" ] && envs+=("${e//\~/ }"); done; env "${envs[@]}" "$@"; }
has() { [[ ",${STEPS:-ops,fixtures,profile,bench}," == *,$1,* ]]; }
if has ops; then
  s ops; timeout 150 dotnet $T ops > "$L/ops.log" 2>&1; echo "ops rc $?"; grep -E "FAIL|all passed" "$L/ops.log" | head; echo "FP8 ok lines: $(grep -c '^  ok  .*FP8' "$L/ops.log")"
fi
if has fixtures; then
  s fixtures; timeout 150 dotnet $T fixtures tests/data/fixtures/*/ > "$L/fixtures.log" 2>&1; echo "fixtures rc $?"; tail -3 "$L/fixtures.log"
fi
if has profile; then
  for v in ${VARIANTS:-new=X=1}; do
    name=${v%%=*}; s "profile $name"
    withenv "$v" GRANARY_FP8_PLAN_LOG=1 timeout 120 dotnet $T profile fp8 > "$L/profile-fp8-$name.log" 2>&1
  done
  for v in ${VARIANTS:-new=X=1}; do name=${v%%=*}; echo "-- $name"; grep -E "^-- rows|q/k/v|o \+|gate/up|down|lm_head" "$L/profile-fp8-$name.log" | grep -v MatMul | awk '/rows/{r=$3; next} {printf "%s:%s ", r, $(NF-3)} END{print ""}'; done
fi
if has bench; then
  if [ ! -f $MODEL/model.safetensors ]; then
    s baseline; timeout 300 python3 $P/hf_baseline.py --shape 1b --save "$MODEL" --batches 1 --new 16 2>&1 | grep -v Warning > "$L/baseline.log"; tail -2 "$L/baseline.log"
    python3 - "$MODEL" <<'PY'
import json, sys
t = json.load(open("tests/data/fixtures/llama3-tiny-bf16/tokenizer.json"))
vocab = t["model"]["vocab"]
for i in range(len(vocab), 128256): vocab[f"tok{i}"] = i
json.dump(t, open(sys.argv[1] + "/tokenizer.json", "w"))
PY
    cp tests/data/fixtures/llama3-tiny-bf16/tokenizer_config.json "$MODEL/"
  fi
  B=${BATCHES:-1,8,32,64}
  if [ "${BF16:-1}" = 1 ]; then s bench-bf16; timeout 200 dotnet $G bench-local --model "$MODEL" --device cuda:0 --batch $B --prompt 128 --new 128 --json > "$L/bench-bf16.log" 2>&1; fi
  for v in ${BENCH:-fp8-new=X=1 fp8-v1=GRANARY_FP8_GEMM_V1=1}; do
    name=${v%%=*}; s "bench $name"
    withenv "$v" timeout 200 dotnet $G bench-local --model "$MODEL" --device cuda:0 --quantization fp8 --batch $B --prompt 128 --new 128 --json > "$L/bench-$name.log" 2>&1
  done
  s done
  grep -H -E "^ +[0-9]+ \|" "$L"/bench*.log | awk -F'|' '{print $1 "|" $3}'
fi
tar -C "$OUT" -czf "$OUT/logs.tgz" logs
