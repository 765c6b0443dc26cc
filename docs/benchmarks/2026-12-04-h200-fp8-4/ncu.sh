#!/bin/bash
# (The tiled kernel gemm_fp8_t32 exists only with tiled-gemm.patch or tiled-gemm-2.patch applied.)
# Nsight Compute on the FP8 products at 32 rows (test app `profile fp8`, step graphs off so that each op is exactly
# 6 x 64 launches of its kernel: q/k/v [0,384), o [384,768), gate/up [768,1152), down [1152,1536), lm_head [1536,1920)).
# KERNELS="t32 n32": the tiled kernel (default plan) and the old one (GRANARY_FP8_GEMM_V1=1). SKIPS: launches skipped.
# From /work/main's root with the build in .gpu-wt17 (carry it); logs to $OUT, tarred into $OUT/ncu.tgz.
set -u
P=.gpu-wt17; OUT=${OUT:-$PWD/gpu-logs}; L=$OUT/logs; mkdir -p $L
[ -d $P/app ] && [ -f $P/app/Granary.Cuda.Tests/Granary.Cuda.Tests.dll ] || tar -C $P -xJf $P/app.tar.xz
source $P/env.sh
export GRANARY_KERNEL_CACHE=/tmp/granary-kernels GRANARY_FP8_PLAN_LOG=1
T=$P/app/Granary.Cuda.Tests/Granary.Cuda.Tests.dll
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
echo "ncu: $NCU"; $NCU --version | tail -1
PD=""; $NCU --help | grep -q print-details && PD="--print-details all"
for kern in ${KERNELS:-t32 n32}; do
  v1=0; [ $kern = n32 ] && v1=1
  echo "== profile $kern $(date +%T)"; GRANARY_FP8_GEMM_V1=$v1 timeout 150 dotnet $T profile fp8 > $L/profile-fp8-$kern.log 2>&1
  grep -E "rows|q/k/v|o \+|gate/up|down|lm_head" $L/profile-fp8-$kern.log | grep -v MatMul
  for skip in ${SKIPS:-584 1736}; do
    echo "== ncu $kern skip $skip $(date +%T)"
    GRANARY_FP8_GEMM_V1=$v1 GRANARY_CUDA_GRAPHS=0 timeout 200 $NCU --clock-control none -k regex:gemm_fp8_$kern -s $skip -c 1 \
      --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats $PD \
      dotnet $T profile fp8 > $L/ncu-$kern-$skip.log 2>&1
    echo rc $?
    grep -E "gemm_fp8_|Grid Size|Block Size|Registers|Duration|DRAM Throughput|Memory Throughput|Compute \(SM\) Th|Warp Cycles Per Issued|Issued Warp|No Eligible|Eligible Warps|Achieved Occupancy|L1/TEX Hit|L2 Hit|Mem Busy|Max Bandwidth|Stall|stall" $L/ncu-$kern-$skip.log | head -60
  done
done
tar -C $OUT -czf $OUT/ncu.tgz logs
