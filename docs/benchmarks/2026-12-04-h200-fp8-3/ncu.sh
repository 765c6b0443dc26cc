set -u
P=.gpu-wt17; OUT=${OUT:-$PWD/gpu-logs}; mkdir -p $OUT
tar -C $P -xJf $P/app.tar.xz; source $P/env.sh
export GRANARY_KERNEL_CACHE=/tmp/granary-kernels GRANARY_FP8_PLAN_LOG=1
T=$P/app/Granary.Cuda.Tests/Granary.Cuda.Tests.dll
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu | head -1)
for skip in ${SKIPS:-384 768 1536}; do
  echo "== skip $skip $(date +%T)"
  timeout 170 $NCU --clock-control none -k regex:gemm_fp8_t32 -s $skip -c 1 --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats \
    dotnet $T profile fp8 > $OUT/ncu-$skip.log 2>&1
  echo rc $?
  grep -E "gemm_fp8_t32|Grid Size|Dynamic Shared|Duration|DRAM Throughput|Memory Throughput|Compute \(SM\)|Stall|Warp Cycles Per Issued|Issued Warp|No Eligible|Achieved Occupancy|L1/TEX Hit|L2 Hit|Mem Busy|Max Bandwidth|One or More" $OUT/ncu-$skip.log | head -40
done
