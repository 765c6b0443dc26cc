#!/usr/bin/env bash
# Runs llama.cpp beside Granary on stories15M, same machine, same thread count, rounds alternated:
#   llama.cpp: llama-bench (pp128, pp512, tg128) and llama-batched-bench (batch 1 and 16), f32 and Q8_0 GGUF files;
#   Granary:   granary bench-local at f32 and --quantization q8_0.
# llama.cpp comes from the npm package node-llama-cpp@3.22.1 (its source is the git bundle llama/gitRelease.bundle),
# built under $LLAMACPP_HOME (default ~/.cache/granary-llamacpp) with the CPU backend only. Nothing of it enters the
# repository. The GGUF files are made with llama-convert-llama2c-to-ggml (from the llama2.c originals that
# scripts/fetch-stories15m.sh keeps) and llama-quantize.
# --reference writes tests/data/stories15M/reference/ref_greedy_tokens_llamacpp_q8_0.json (scripts/llamacpp-greedy.c).
#   scripts/bench-llamacpp.sh [MODEL_DIR]          # default models/stories15M; ROUNDS=3 THREADS=2
#   scripts/bench-llamacpp.sh --build-only | --reference [MODEL_DIR]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
home=${LLAMACPP_HOME:-$HOME/.cache/granary-llamacpp}
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
mode=bench
[[ ${1:-} == --build-only ]] && { mode=build; shift; }
[[ ${1:-} == --reference ]] && { mode=reference; shift; }
model=${1:-$repo/models/stories15M}
bin=$home/src/build/bin

build() {
  mkdir -p "$home"
  if [[ ! -d $home/src ]]; then
    ( cd "$home" && npm pack node-llama-cpp@3.22.1 --silent >/dev/null )
    tar xzf "$home/node-llama-cpp-3.22.1.tgz" -C "$home" package/llama/gitRelease.bundle
    git clone -q "$home/package/llama/gitRelease.bundle" "$home/src"
  fi
  if [[ ! -x $bin/llama-bench ]]; then
    echo "building llama.cpp in $home/src/build (log: $home/build.log)"
    { cmake -S "$home/src" -B "$home/src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF &&
      nice -n 10 cmake --build "$home/src/build" -j "$threads" --target llama-bench llama-batched-bench llama-quantize \
        llama-convert-llama2c-to-ggml; } >"$home/build.log" 2>&1 || { tail -20 "$home/build.log"; exit 1; }
  fi
  if [[ ! -x $home/llamacpp-greedy ]]; then
    gcc -O2 -o "$home/llamacpp-greedy" "$repo/scripts/llamacpp-greedy.c" -I"$home/src/include" -I"$home/src/ggml/include" \
      -L"$bin" -lllama -lggml -lggml-base -Wl,-rpath,"$bin"
  fi
}

ggufs() {
  local originals=$model/llama2c
  [[ -f $originals/stories15M.bin ]] || { echo "no llama2.c originals in $originals (run scripts/fetch-stories15m.sh)" >&2; exit 1; }
  if [[ ! -f $home/stories15M-f32.gguf ]]; then
    # The vocabulary from llama.cpp's own Llama SPM vocab file: llama2.c's tokenizer.bin has empty and duplicate
    # pieces, which llama.cpp refuses to load.
    gunzip -c "$repo/tests/data/tokenizers/ggml-vocab-llama-spm.gguf.gz" >"$home/ggml-vocab-llama-spm.gguf"
    "$bin/llama-convert-llama2c-to-ggml" --copy-vocab-from-model "$home/ggml-vocab-llama-spm.gguf" \
      --llama2c-model "$originals/stories15M.bin" --llama2c-output-model "$home/stories15M-f32.gguf" >/dev/null 2>&1
  fi
  [[ -f $home/stories15M-q8_0.gguf ]] || "$bin/llama-quantize" "$home/stories15M-f32.gguf" "$home/stories15M-q8_0.gguf" q8_0 >/dev/null 2>&1
}

build
[[ $mode == build ]] && exit 0
ggufs
if [[ $mode == reference ]]; then
  "$home/llamacpp-greedy" "$home/stories15M-q8_0.gguf" "Once upon a time" 64 "$threads" 2>/dev/null \
    >"$repo/tests/data/stories15M/reference/ref_greedy_tokens_llamacpp_q8_0.json"
  exit 0
fi
granary=(dotnet "$repo/silo/Granary.Silo/bin/Release/net10.0/granary.dll")
nice -n 10 dotnet build "$repo/silo/Granary.Silo" -c Release >/dev/null
# Everything at nice 10: the machine is shared, and both engines get the same priority.
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), threads $threads"
for round in $(seq "$rounds"); do
  for q in f32 q8_0; do
    echo "## round $round llama.cpp $q (load $(cut -d' ' -f1 /proc/loadavg))"
    nice -n 10 "$bin/llama-bench" -m "$home/stories15M-$q.gguf" -t "$threads" -p 128,255,512 -n 128 -r 3 2>/dev/null | grep -E "^\|"
    nice -n 10 "$bin/llama-batched-bench" -m "$home/stories15M-$q.gguf" -t "$threads" -c 4096 -no-kvu -npp 128 -ntg 128 -npl 1,16 2>/dev/null | grep -E "^\|"
    echo "## round $round Granary $q (load $(cut -d' ' -f1 /proc/loadavg))"
    quant=(); [[ $q == q8_0 ]] && quant=(--quantization q8_0)
    # stories15M's context is 256 tokens: pp512 runs past it, as llama-bench's does (RoPE goes on).
    nice -n 10 "${granary[@]}" bench-local --model "$model" --threads "$threads" --batch 1,16 --prompt 128 --new 128 --prefill 128,255,512 \
      --max-model-len 640 --allow-long-max-model-len "${quant[@]}" 2>/dev/null
  done
done
