using Granary.Compute.Cpu;

namespace Granary.Compute.Tests;

/// <summary>The CPU worker pool under back-to-back jobs of changing sizes, as a decode step issues them.</summary>
public class WorkerPoolTests
{
    /// <summary>One instance reconfigured before each run, as the backend keeps its jobs.</summary>
    private sealed class CountingJob : CpuJob
    {
        public readonly int[] Counts = new int[64];
        public int Chunks;
        public int OutOfRange;

        public override void Execute(int chunk)
        {
            if ((uint)chunk >= (uint)Chunks) Interlocked.Increment(ref OutOfRange);
            else Interlocked.Increment(ref Counts[chunk]);
        }
    }

    [Fact]
    public async Task EveryChunkOfEveryJobRunsOnceAndNoneBeyondItsCount()
    {
        using var pool = new WorkerPool(4);
        var job = new CountingJob();
        var runs = Task.Run(() =>
        {
            for (int i = 0; i < 100_000; i++)
            {
                int chunks = i % 2 == 0 ? 2 : 37;
                job.Chunks = chunks;
                Array.Clear(job.Counts);
                pool.Run(job, chunks);
                for (int c = 0; c < chunks; c++)
                {
                    if (job.Counts[c] != 1) throw new Exception($"run {i}: chunk {c} of {chunks} ran {job.Counts[c]} times");
                }
                if (job.OutOfRange != 0) throw new Exception($"run {i}: a chunk beyond the job's {chunks} ran");
            }
        });
        var finished = await Task.WhenAny(runs, Task.Delay(TimeSpan.FromMinutes(2)));
        Assert.True(finished == runs, "the pool stopped returning (a run waited for a chunk count it never saw)");
        await runs;
    }
}
