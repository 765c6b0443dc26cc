#!/usr/bin/env bash
# Runs llama.cpp beside Granary on stories15M, same machine, same thread count, rounds alternated:
#   llama.cpp: llama-bench (pp128, pp512, tg128) and llama-batched-bench (batch 1 and 16), f32 and Q8_0 GGUF files;
#   Granary:   granary bench-local at f32 and --quantization q8_0.
# llama.cpp comes from the npm package node-llama-cpp@3.22.1 (its source is the git bundle llama/gitRelease.bundle),
# built under $LLAMACPP_HOME (default ~/.cache/granary-llamacpp) with the CPU backend only. Nothing of it enters the
# repository. The GGUF files are made with llama-convert-llama2c-to-ggml (from the llama2.c originals that
# scripts/fetch-stories15m.sh keeps) and llama-quantize.
#   scripts/bench-llamacpp.sh [MODEL_DIR]          # default models/stories15M; ROUNDS=3 THREADS=2
#   scripts/bench-llamacpp.sh --build-only
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
home=${LLAMACPP_HOME:-$HOME/.cache/granary-llamacpp}
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
build_only=0
[[ ${1:-} == --build-only ]] && { build_only=1; shift; }
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
    cmake -S "$home/src" -B "$home/src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
    nice -n 10 cmake --build "$home/src/build" -j "$threads" --target llama-bench llama-batched-bench llama-quantize \
      llama-convert-llama2c-to-ggml llama-simple llama-tokenize >/dev/null
  fi
}

ggufs() {
  local originals=$model/llama2c
  [[ -f $originals/stories15M.bin ]] || { echo "no llama2.c originals in $originals (run scripts/fetch-stories15m.sh)" >&2; exit 1; }
  if [[ ! -f $home/stories15M-f32.gguf ]]; then
    "$bin/llama-convert-llama2c-to-ggml" --copy-vocab-from-model "$originals/tokenizer.bin" \
      --llama2c-model "$originals/stories15M.bin" --llama2c-output-model "$home/stories15M-f32.gguf" >/dev/null
  fi
  [[ -f $home/stories15M-q8_0.gguf ]] || "$bin/llama-quantize" "$home/stories15M-f32.gguf" "$home/stories15M-q8_0.gguf" q8_0 >/dev/null 2>&1
}

build
[[ $build_only == 1 ]] && exit 0
ggufs
granary=(dotnet "$repo/silo/Granary.Silo/bin/Release/net10.0/granary.dll")
dotnet build "$repo/silo/Granary.Silo" -c Release >/dev/null
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), threads $threads"
for round in $(seq "$rounds"); do
  for q in f32 q8_0; do
    echo "## round $round llama.cpp $q (load $(cut -d' ' -f1 /proc/loadavg))"
    "$bin/llama-bench" -m "$home/stories15M-$q.gguf" -t "$threads" -p 128,512 -n 128 -r 3 2>/dev/null | grep -E "^\|"
    "$bin/llama-batched-bench" -m "$home/stories15M-$q.gguf" -t "$threads" -c 4096 -no-kvu -npp 128 -ntg 128 -npl 1,16 2>/dev/null | grep -E "^\|"
    echo "## round $round Granary $q (load $(cut -d' ' -f1 /proc/loadavg))"
    quant=(); [[ $q == q8_0 ]] && quant=(--quantization q8_0)
    "${granary[@]}" bench-local --model "$model" --threads "$threads" --batch 1,16 --prompt 128 --new 128 "${quant[@]}" 2>/dev/null
  done
done
