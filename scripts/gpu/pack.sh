#!/bin/bash
# Packs what scripts/gpu/check-and-bench.sh needs on the GPU machine into .gpu (ignored by git), small enough to travel
# with the checkout (64 MiB in all): the .NET runtime (../shared/tools/gpu-pack.sh makes .gpu/dotnet.tar.xz once) and
# .gpu/app.tar.xz, the published silo and GPU check programs without what they do not need there (symbols, resources,
# the test platform's runners and coverage; the checks' deps.json, so that its host loads the folder's assemblies).
# On the GPU machine: tar -C .gpu -xJf .gpu/app.tar.xz && bash scripts/gpu/check-and-bench.sh (carry .gpu).
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
shared=${GRANARY_SHARED:-$repo/../shared}
mkdir -p .gpu
[ -s .gpu/dotnet.tar.xz ] || bash "$shared/tools/gpu-pack.sh" .gpu
cp "$shared/tools/gpu-env.sh" .gpu/env.sh
cp "$shared/tools/hf_baseline.py" .gpu/
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet publish silo/Granary.Silo/Granary.Silo.csproj -c Release -o "$work/app/Granary.Silo" -p:UseAppHost=false -nologo -v q
dotnet publish tests/Granary.Cuda.Tests/Granary.Cuda.Tests.csproj -c Release -o "$work/app/Granary.Cuda.Tests" -nologo -v q
for d in "$work"/app/*; do (cd "$d" && rm -rf cs de es fr it ja ko pl pt-BR ru tr zh-Hans zh-Hant && rm -f ./*.pdb ./*.xml); done
(cd "$work/app/Granary.Cuda.Tests" && rm -rf CodeCoverage alpine macos arm64 x86 x64 ubuntu InstrumentationEngine win* \
  && rm -f Microsoft.CodeCoverage* Microsoft.TestPlatform* Microsoft.VisualStudio* testhost* Mono.Cecil* Granary.Cuda.Tests.deps.json \
     Microsoft.CodeAnalysis*.dll Humanizer.dll System.Composition.*.dll)
tar -C "$work" -cf - app | xz -T0 -6 > .gpu/app.tar.xz
du -sh .gpu
