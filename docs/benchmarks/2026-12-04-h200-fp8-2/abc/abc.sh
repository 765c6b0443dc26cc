#!/bin/bash
# Same-machine A/B/C of the batch-1 FP8 GEMV forms (temporary, issue 17 exploration).
set -u
source .gpu/env.sh
export GRANARY_KERNEL_CACHE=/tmp/granary-kernels
G=.gpu/app/Granary.Silo/granary.dll
M=/tmp/llama1b
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv | tee "$OUT/gpu.txt"
timeout 200 python3 .gpu/hf_baseline.py --shape 1b --save $M --batches 1 --new 16 2>&1 | grep '"peer"' | tee $OUT/baseline.log
python3 - "$M" <<'PY'
import json, sys
t = json.load(open("tests/data/fixtures/llama3-tiny-bf16/tokenizer.json"))
vocab = t["model"]["vocab"]
for i in range(len(vocab), 128256): vocab[f"tok{i}"] = i
json.dump(t, open(sys.argv[1] + "/tokenizer.json", "w"))
PY
cp tests/data/fixtures/llama3-tiny-bf16/tokenizer_config.json "$M/"
one() { # label, env...
  local label=$1; shift
  env "$@" timeout 100 dotnet $G bench-local --model $M --device cuda:0 "${Q[@]}" --batch 1 --prompt 128 --new 128 > "$OUT/tmp.log" 2>&1
  grep -E "copy bandwidth|^ +1 \|" "$OUT/tmp.log" | sed "s/^/$label: /" | tee -a "$OUT/abc.log"
  cat "$OUT/tmp.log" >> "$OUT/abc-full.log"
}
Q=(); one bf16 X=1
Q=(--quantization fp8)
for round in 1 2; do
  one "fp8 old (v1)" GRANARY_FP8_GEMV_V1=1
  one "fp8 hybrid" GRANARY_FP8_GEMV_HYBRID=1
  one "fp8 full new" X=1
done
Q=(); one bf16 X=1
rm -f "$OUT/tmp.log"
