#!/bin/bash
# (Needs tiled-gemm.patch applied to the build; without it gemm_fp8_t does not exist and the forced plans do nothing.)
# One device run of the tiled FP8 product (gemm_fp8_t), from /work/main's root with the branch's build in .gpu-wt17
# (app.tar.xz, dotnet.tar.xz, env.sh, hf_baseline.py): ops and fixtures checks, the FP8 op profile with the new kernel
# and with the old one (GRANARY_FP8_GEMM_V1=1), then bench-local bf16, fp8 and fp8 on the old kernel, side by side.
# PLANS="g:i ..." adds profile runs with gemm_fp8_t's plan forced (GRANARY_FP8_TILED).
set -u
P=.gpu-wt17
OUT=${OUT:-$PWD/gpu-logs}; mkdir -p "$OUT"
tar -C $P -xJf $P/app.tar.xz
source $P/env.sh
export GRANARY_KERNEL_CACHE=/tmp/granary-kernels PYTHONUNBUFFERED=1
T=$P/app/Granary.Cuda.Tests/Granary.Cuda.Tests.dll; G=$P/app/Granary.Silo/granary.dll; MODEL=/tmp/llama1b
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv > "$OUT/gpu.txt"
s() { echo "== $1 $(date +%T)"; }
if [[ ",${STEPS:-ops,fixtures,profile,bench}," == *,ops,* ]]; then
  s ops; timeout 150 dotnet $T ops > "$OUT/ops.log" 2>&1; echo "ops rc $?"; grep -E "FAIL|FP8|all passed" "$OUT/ops.log" | grep -v "^  ok  " ; grep -c "^  ok  .*FP8" "$OUT/ops.log"
fi
if [[ ",${STEPS:-ops,fixtures,profile,bench}," == *,fixtures,* ]]; then
  s fixtures; timeout 150 dotnet $T fixtures tests/data/fixtures/*/ > "$OUT/fixtures.log" 2>&1; echo "fixtures rc $?"; tail -3 "$OUT/fixtures.log"
fi
if [[ ",${STEPS:-ops,fixtures,profile,bench}," == *,profile,* ]]; then
  s profile; GRANARY_FP8_PLAN_LOG=1 timeout 150 dotnet $T profile fp8 > "$OUT/profile-fp8.log" 2>&1
  s profile-v1; GRANARY_FP8_GEMM_V1=1 timeout 150 dotnet $T profile fp8 > "$OUT/profile-fp8-v1.log" 2>&1
  for plan in ${PLANS:-}; do s "profile $plan"; GRANARY_FP8_TILED=$plan GRANARY_FP8_PLAN_LOG=1 timeout 150 dotnet $T profile fp8 > "$OUT/profile-fp8-plan-${plan/:/-}.log" 2>&1; done
  grep -E "gemm_fp8|rows|q/k/v|o \+|gate/up|down|lm_head|plan" "$OUT"/profile-fp8*.log | grep -v MatMul
fi
if [[ ",${STEPS:-ops,fixtures,profile,bench}," == *,bench,* ]]; then
  s baseline; timeout 300 python3 $P/hf_baseline.py --shape 1b --save "$MODEL" --batches ${HF_BATCHES:-1,32} 2>&1 | grep -v Warning > "$OUT/baseline.log"; tail -3 "$OUT/baseline.log"
  python3 - "$MODEL" <<'PY'
import json, sys
t = json.load(open("tests/data/fixtures/llama3-tiny-bf16/tokenizer.json"))
vocab = t["model"]["vocab"]
for i in range(len(vocab), 128256): vocab[f"tok{i}"] = i
json.dump(t, open(sys.argv[1] + "/tokenizer.json", "w"))
PY
  cp tests/data/fixtures/llama3-tiny-bf16/tokenizer_config.json "$MODEL/"
  s bench-bf16; timeout 200 dotnet $G bench-local --model "$MODEL" --device cuda:0 --batch 1,8,32,64 --prompt 128 --new 128 --json > "$OUT/bench.log" 2>&1
  s bench-fp8; timeout 200 dotnet $G bench-local --model "$MODEL" --device cuda:0 --quantization fp8 --batch 1,8,32,64 --prompt 128 --new 128 --json > "$OUT/bench-fp8.log" 2>&1
  s bench-fp8-v1; GRANARY_FP8_GEMM_V1=1 timeout 200 dotnet $G bench-local --model "$MODEL" --device cuda:0 --quantization fp8 --batch 8,32,64 --prompt 128 --new 128 --json > "$OUT/bench-fp8-v1.log" 2>&1
  s done
  grep -H -E "^ +[0-9]+ \||bandwidth" "$OUT"/bench*.log | cut -c1-200
fi
