using System.Runtime.InteropServices;
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
    private byte[] _reply = [];
    private int _replyRows, _replyCandidates;

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
        Wait(calls);
    }

    public void Execute(BatchLayout batch)
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
            calls[i] = _remotes[i].StepAsync(message);
            // A silo that fails its part must not leave this silo's ranks waiting in a collective for its ranks.
            calls[i].ContinueWith(t => _local.Abort($"a silo of the replica failed its part of a step: {t.Exception!.InnerException!.Message}"),
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        try
        {
            _local.Threads.Run(batch);
        }
        catch
        {
            try
            {
                Task.WaitAll(calls);
            }
            catch (AggregateException) { }
            throw;
        }
        var replies = Wait(calls);
        if (_logitsIndex >= 0)
        {
            _reply = replies[_logitsIndex];
            (_replyRows, _replyCandidates) = (batch.LogitRowCount, batch.SampleCandidates);
        }
    }

    public void ReadLogits(int logitRow, Span<float> destination)
    {
        if (_logitsIndex < 0)
        {
            _local.Threads.ReadLogits(logitRow, destination);
            return;
        }
        if (_replyCandidates >= 0) throw new InvalidOperationException("the step fetched only the largest logits of each row (SampleCandidates was not -1)");
        MemoryMarshal.Cast<byte, float>(_reply.AsSpan()).Slice(logitRow * VocabSize, VocabSize).CopyTo(destination);
    }

    public void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        if (_logitsIndex < 0)
        {
            _local.Threads.TopLogits(k, ids, values, logSumExp);
            return;
        }
        if (_replyCandidates < 0)
        {
            Granary.Compute.TopLogits.SelectRows(MemoryMarshal.Cast<byte, float>(_reply.AsSpan()), _replyRows, VocabSize, k, ids, values, logSumExp);
            return;
        }
        if (k != _replyCandidates) throw new InvalidOperationException($"the step fetched the {_replyCandidates} largest logits of each row, not {k}");
        TopKReply.Read(_reply, _replyRows, k, ids, values, logSumExp);
    }

    /// <summary>The replies of calls that ended; a failed call becomes a <see cref="CommunicatorException"/> naming the silo.</summary>
    private T[] Wait<T>(Task<T>[] calls)
    {
        try
        {
            // The engine's step thread is the replica's own (not a pool thread): it waits for the silos' parts here.
            return Task.WhenAll(calls).WaitAsync(_callTimeout).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not CommunicatorException)
        {
            _local.Abort(e.Message);
            throw new CommunicatorException($"replica {_replicaId}: a silo of the replica failed its part: {e.Message}", e);
        }
    }

    private void Wait(Task[] calls) => Wait(calls.Select(async c => { await c.ConfigureAwait(false); return true; }).ToArray());

    public void Dispose() => _local.Dispose();
}
