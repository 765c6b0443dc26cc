#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: fetches what the tests need (stories15M through npm),
# builds in Release and runs every test project, then prints the totals as "N passed, N failed, N skipped".
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

command -v dotnet >/dev/null || { echo "the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# --- redis-server for the multi-process cluster tests (tests/Granary.Grains.Tests) ------------------------------
# The tests start (and kill) their own redis-server processes on free loopback ports, never a system service;
# they only need the binary. CI runs as root on Debian with the Debian mirror reachable.
command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server)
# --- end redis-server ------------------------------------------------------------------------------------

models=${GRANARY_MODELS:-$repo/models}
export GRANARY_STORIES15M=${GRANARY_STORIES15M:-$models/stories15M}
bash scripts/fetch-stories15m.sh "$GRANARY_STORIES15M"

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
dotnet test Granary.slnx -c Release --logger "trx" --results-directory "$results" -- RunConfiguration.TestSessionTimeout=3000000 || status=$?

# --- openai npm client against `granary serve` (tests/openai-node) ---
# Starts the Release build of the server on stories15M, completes and streams a chat with the official client.
npm_status=0
if ( cd tests/openai-node && npm ci --no-audit --no-fund --loglevel=error >/dev/null ); then
  GRANARY_DLL="$repo/silo/Granary.Silo/bin/Release/net10.0/granary.dll" node tests/openai-node/test.mjs || npm_status=$?
else
  echo "npm ci failed in tests/openai-node" >&2; npm_status=1
fi
# --- end of the openai npm step ---

# Totals from the trx files: a skipped test (no GPU, a tool absent) is counted in total but not in executed.
passed=0; failed=0; skipped=0; total=0
counter() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$2"; }
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  t=$(counter total "$counters"); e=$(counter executed "$counters"); p=$(counter passed "$counters")
  f=$(( $(counter failed "$counters") + $(counter error "$counters") + $(counter timeout "$counters") + $(counter aborted "$counters") ))
  passed=$((passed + ${p:-0})); failed=$((failed + f)); total=$((total + ${t:-0})); skipped=$((skipped + ${t:-0} - ${e:-0}))
done
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$total" -eq 0 ]; then echo "no test ran" >&2; exit 1; fi
if [ "$npm_status" -ne 0 ]; then echo "the openai npm test failed" >&2; exit 1; fi
if [ "$failed" -ne 0 ] || [ "$status" -ne 0 ]; then exit 1; fi
