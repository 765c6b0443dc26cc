using Granary.Grains.Contracts;
using Granary.Compute;
using Granary.Engine;
using Granary.Models.Llama;

namespace Granary.Grains;

/// <summary>
/// The executor of a replica whose ranks span silos, on the silo of its rank 0: each step it sends the step plan
/// (<see cref="StepPlan"/>, a compact binary body) to the lead rank grain of every other silo of the replica, one
/// grain call per silo whatever its number of ranks, runs this silo's ranks meanwhile (the ranks' collectives link them all over TCP), and takes from
/// the silo of the logits rank only what sampling needs (<see cref="StepReply"/>). A silo that fails its part cuts
/// the replica's links, so that no rank waits for it: the step fails, and the gateway resumes the requests elsewhere.
/// </summary>
internal sealed class SpanningExecutor : IModelExecutor
{
    private readonly string _replicaId;
    private readonly ParallelPlan _plan;
    private readonly LocalRanks _local;
    private readonly IReadOnlyList<IRankGrain> _remotes;
    private readonly int _logitsIndex;
    private readonly TimeSpan _callTimeout;
    private readonly byte[] _header = new byte[StepPlan.HeaderBytes];
    private byte[] _body = new byte[4096];
    private readonly LogitsReply _reply;

    /// <param name="remotes">The lead rank grain of each other silo of the replica.</param>
    /// <param name="logitsIndex">Which of <paramref name="remotes"/> holds the logits rank, or -1 when this silo does.</param>
    public SpanningExecutor(string replicaId, ParallelPlan plan, LocalRanks local, IReadOnlyList<IRankGrain> remotes, int logitsIndex, TimeSpan callTimeout)
    {
        _replicaId = replicaId;
        _plan = plan;
        _local = local;
        _remotes = remotes;
        _logitsIndex = logitsIndex;
        _callTimeout = callTimeout;
        _reply = new LogitsReply(plan.Config.VocabSize);
        var first = local.Grains[0].Shard;
        MaxRows = first.Model.MaxRows;
        MaxPositions = first.Model.MaxPositions;
        KvBytesPerToken = plan.MaxKvBytesPerToken(first.Backend.ActivationType.Size());
    }

    public int VocabSize => _plan.Config.VocabSize;
    public int MaxRows { get; }
    public int MaxPositions { get; }
    public long KvBytesPerToken { get; }

    public void AllocateKvCache(int blocks, int blockSize)
    {
        var calls = _remotes.Select(r => r.AllocateKvCacheAsync(blocks, blockSize)).ToArray();
        _local.AllocateKvCache(blocks, blockSize);
        // Once, while the replica loads (off the request path).
        WhenAll(calls).GetAwaiter().GetResult();
    }

    /// <summary>The CLI's synchronous path; the serving loop calls <see cref="ExecuteAsync"/>.</summary>
    public void Execute(BatchLayout batch) => ExecuteAsync(batch).AsTask().GetAwaiter().GetResult();

    public async ValueTask ExecuteAsync(BatchLayout batch)
    {
        if (_local.AbortReason is { } reason) throw new CommunicatorException($"replica {_replicaId} lost its links earlier: {reason}");
        int length = StepPlan.Write(batch, _header, ref _body);
        // A new array per step: Orleans serializes the argument after the call returns, so a reused buffer could change under it.
        var message = new byte[StepPlan.HeaderBytes + length];
        _header.CopyTo(message, 0);
        _body.AsSpan(0, length).CopyTo(message.AsSpan(StepPlan.HeaderBytes));
        var calls = new Task<byte[]>[_remotes.Count];
        for (int i = 0; i < calls.Length; i++)
        {
            // Started on the thread pool: Orleans' own awaits inside the call must not queue behind this step on the engine's thread.
            var remote = _remotes[i];
            calls[i] = Task.Run(() => remote.StepAsync(message));
            // A silo that fails its part must not leave this silo's ranks waiting in a collective for its ranks.
            _ = calls[i].ContinueWith(t => _local.Abort($"a silo of the replica failed its part of a step: {t.Exception!.InnerException!.Message}"),
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        Exception? failed = null;
        try
        {
            _local.Threads.Run(batch);
        }
        catch (Exception e)
        {
            failed = e;
        }
        // Wait for the calls even when this silo's part failed (the other silos must be done with the step); that
        // failure is the one to report.
        try
        {
            await WhenAll(calls);
        }
        catch (CommunicatorException) when (failed is not null) { }
        if (failed is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
        if (_logitsIndex >= 0) _reply.Take(calls[_logitsIndex].Result, batch.LogitRowCount, batch.SampleCandidates);
    }

    public void ReadLogits(int logitRow, Span<float> destination)
    {
        if (_logitsIndex < 0) _local.Threads.ReadLogits(logitRow, destination);
        else _reply.ReadLogits(logitRow, destination);
    }

    public void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        if (_logitsIndex < 0) _local.Threads.TopLogits(k, ids, values, logSumExp);
        else _reply.TopLogits(k, ids, values, logSumExp);
    }

    /// <summary>Waits for the calls; a failed or late one becomes a <see cref="CommunicatorException"/>, after cutting the replica's links.</summary>
    private async Task WhenAll(Task[] calls)
    {
        try
        {
            await Task.WhenAll(calls).WaitAsync(_callTimeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not CommunicatorException)
        {
            _local.Abort(e.Message);
            throw new CommunicatorException($"replica {_replicaId}: a silo of the replica failed its part: {e.Message}", e);
        }
    }

    public void Dispose() => _local.Dispose();
}
