using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Engine;

namespace Granary.Cuda.Tests;

/// <summary>
/// The NCCL communicator on one GPU, as a group of one (NCCL refuses two ranks on one GPU): its calls go on the
/// stream in order with the kernels, a step graph captures and replays them, and the device timing adds up. The steps
/// stage host data and end with EndStep only, never a sync, as a rank other than the logits rank does: they must
/// still reuse the staging ring's addresses, or no step would replay. Then two
/// ranks sharing the GPU agree on the host-staged collectives and sum correctly through them.
/// </summary>
internal static class NcclChecks
{
    public static int Run(TextWriter log)
    {
        int failures = 0;
        void Expect(bool ok, string what)
        {
            if (!ok) failures++;
            log.WriteLine($"  {(ok ? "ok  " : "FAIL")} {what}");
        }

        using (var gpu = new CudaBackend(new CudaBackendOptions { Float32Activations = true }))
        using (var nccl = new NcclCommunicator(gpu, 0, 1, NcclCommunicator.CreateUniqueId(), timeOnDevice: true))
        {
            const int N = 1000;
            var x = gpu.Allocate(DType.F32, N);
            var one = gpu.Allocate(DType.F32, N);
            var gathered = gpu.Allocate(DType.F32, N);
            var picked = gpu.Allocate(DType.F32, N);
            gpu.CopyFromHost(Enumerable.Repeat(1f, N).ToArray(), one);
            long replaysBefore = gpu.GraphReplays;
            const int Steps = 6;
            for (int step = 0; step < Steps; step++)
            {
                // A step of kernels and collectives: x += 1, all-reduce x (a group of one: unchanged), gather it, then
                // copy its one row through a staged row list.
                gpu.Add(x, one, N);
                nccl.AllReduceSum(x, N);
                nccl.AllGather(x, gathered, N);
                gpu.GatherRows(gathered, picked, N, [0]);
                gpu.EndStep();
            }
            var result = new float[N];
            gpu.CopyToHost(picked, result);
            Expect(result.All(v => v == Steps), $"{Steps} steps of add, all-reduce, all-gather and a staged gather give {Steps} everywhere (got {result[0]}..{result[^1]})");
            Expect(gpu.GraphReplays > replaysBefore, $"step graphs captured the NCCL calls and replayed them ({gpu.GraphReplays - replaysBefore} replays)");
            var elapsed = nccl.Elapsed;
            Expect(elapsed > TimeSpan.Zero, $"device time of {2 * Steps} NCCL calls: {elapsed.TotalMicroseconds:F0} us");
            foreach (var b in new[] { x, one, gathered, picked }) b.Dispose();
        }

        // A group that breaks: a wait for the device ends when the group's links are aborted, or after the step
        // timeout, instead of lasting as long as a collective whose peer is gone (here: a second of GEMMs).
        Expect(WaitEnds(log, abortLinks: true), "an aborted group ends the wait for the device with the links' reason");
        Expect(WaitEnds(log, abortLinks: false), "a step that outlasts the timeout ends the wait, and the backend refuses new work");

        // A member that never joins (lost between the agreement and the join): the join ends instead of hanging.
        Expect(JoinEnds(log, abortLinks: true), "a join whose links are aborted ends with the links' reason");
        Expect(JoinEnds(log, abortLinks: false), "a join whose other member never comes ends after the timeout");

        // Two ranks on one GPU: the host-staged collectives, bf16 buffers.
        using var group = new InProcessGroup(2);
        var sums = RankLoader.LoadAll(2, r =>
        {
            using var backend = new CudaBackend();
            using var communicator = GroupCommunicator.Create(backend, group.Transport(r), [0, 1], TimeSpan.FromSeconds(60), out string how);
            using var buffer = backend.Allocate(backend.ActivationType, 4);
            backend.CopyFromHost([r + 1f, 2f, 3f, 4f], buffer);
            communicator.AllReduceSum(buffer, 4);
            var host = new float[4];
            backend.CopyToHost(buffer, host);
            return (How: how, Type: communicator.GetType().Name, Sum: host);
        }, _ => { }, group.Abort);
        Expect(sums.All(s => s.Type == nameof(HostStagedCommunicator)), $"two ranks on one GPU chose: {sums[0].How}");
        Expect(sums.All(s => s.Sum.SequenceEqual([3f, 4f, 6f, 8f])), $"their all-reduce sums: [{string.Join(", ", sums[0].Sum)}]");
        log.WriteLine(failures == 0 ? "nccl: all passed" : $"nccl: {failures} FAILED");
        return failures;
    }

    /// <summary>Rank 0 of a group of two whose rank 1 never joins: the constructor must throw, soon after the abort or the timeout.</summary>
    private static bool JoinEnds(TextWriter log, bool abortLinks)
    {
        using var gpu = new CudaBackend(new CudaBackendOptions { Float32Activations = true });
        using var group = new InProcessGroup(2);
        if (abortLinks) ThreadPool.QueueUserWorkItem(_ => { Thread.Sleep(200); group.Abort("rank 1 was lost (a test)"); });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            using var nccl = new NcclCommunicator(gpu, 0, 2, NcclCommunicator.CreateUniqueId(), links: group.Transport(0),
                stepTimeout: abortLinks ? TimeSpan.FromSeconds(60) : TimeSpan.FromSeconds(1));
            log.WriteLine("    the group formed without its rank 1");
            return false;
        }
        catch (CommunicatorException e)
        {
            log.WriteLine($"    the join ended after {clock.ElapsedMilliseconds} ms: {e.Message}");
            return clock.Elapsed < TimeSpan.FromSeconds(abortLinks ? 1 : 2) && e.Message.Contains(abortLinks ? "rank 1 was lost" : "did not form", StringComparison.Ordinal);
        }
    }

    /// <summary>Queues about a second of work, then waits for it: the wait must end early with a <see cref="CommunicatorException"/>.</summary>
    private static bool WaitEnds(TextWriter log, bool abortLinks)
    {
        using var gpu = new CudaBackend(new CudaBackendOptions { Float32Activations = true });
        using var group = new InProcessGroup(1);
        using var nccl = new NcclCommunicator(gpu, 0, 1, NcclCommunicator.CreateUniqueId(), links: group.Transport(0),
            stepTimeout: abortLinks ? TimeSpan.FromSeconds(60) : TimeSpan.FromMilliseconds(100));
        const int Rows = 4096, Dim = 8192;
        using var x = gpu.Allocate(DType.F32, (long)Rows * Dim);
        using var w = gpu.Allocate(DType.F32, (long)Dim * Dim);
        using var y = gpu.Allocate(DType.F32, (long)Rows * Dim);
        gpu.Synchronize();
        for (int i = 0; i < 100; i++) gpu.MatMul(x, w, null, y, Rows, Dim, Dim);
        gpu.EndStep();
        if (abortLinks) ThreadPool.QueueUserWorkItem(_ => { Thread.Sleep(50); group.Abort("rank 1 was lost (a test)"); });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            gpu.Synchronize();
            log.WriteLine($"    the wait lasted until the work was done ({clock.ElapsedMilliseconds} ms)");
            return false;
        }
        catch (CommunicatorException e)
        {
            log.WriteLine($"    the wait ended after {clock.ElapsedMilliseconds} ms: {e.Message}");
            bool refuses = false;
            try
            {
                gpu.Add(y, y, 1);
            }
            catch (CommunicatorException)
            {
                refuses = true;
            }
            return clock.Elapsed < TimeSpan.FromMilliseconds(500) && refuses
                && e.Message.Contains(abortLinks ? "rank 1 was lost" : "did not finish", StringComparison.Ordinal);
        }
    }
}
