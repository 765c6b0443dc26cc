#!/bin/bash
# On the GPU machine (after the packing steps in check-and-bench.sh's header; carry .gpu): where the GEMV kernel stops
# beating cuBLAS. Makes the 1B-shaped checkpoint with hf_baseline.py, then runs bench-local at batches 1-16 with the
# GEMV kernel for steps of up to 8, 4, 2 and 1 rows (GRANARY_CUDA_SKINNY_ROWS). Logs go to $OUT (or ./gpu-logs).
set -u
OUT=${OUT:-$PWD/gpu-logs}
mkdir -p "$OUT"
source .gpu/env.sh
export GRANARY_KERNEL_CACHE=/tmp/granary-kernels PYTHONUNBUFFERED=1
timeout 300 python3 .gpu/hf_baseline.py --shape 1b --save /tmp/llama1b --batches 1 2>&1 | grep peer | tee $OUT/baseline.log
python3 - /tmp/llama1b <<'PY'
import json, sys
t = json.load(open("tests/data/fixtures/llama3-tiny-bf16/tokenizer.json"))
vocab = t["model"]["vocab"]
for i in range(len(vocab), 128256): vocab[f"tok{i}"] = i
json.dump(t, open(sys.argv[1] + "/tokenizer.json", "w"))
PY
cp tests/data/fixtures/llama3-tiny-bf16/tokenizer_config.json /tmp/llama1b/
for rows in 8 4 2 1; do
  echo "== skinny GEMV up to $rows rows" | tee -a $OUT/skinny.log
  GRANARY_CUDA_SKINNY_ROWS=$rows timeout 120 dotnet .gpu/app/Granary.Silo/granary.dll bench-local --model /tmp/llama1b --device cuda:0 --batch 1,2,4,8,16 --prompt 128 --new 64 2>/dev/null | grep -v "^\[" | tee -a $OUT/skinny.log
done
