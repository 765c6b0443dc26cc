using System.Runtime.InteropServices;
using Granary.Cluster.Activations;
using Granary.Cluster.Placement;
using Granary.Cluster.Transport;
using Granary.Compute;
using Granary.Engine;
using Granary.Models.Llama;

namespace Granary.Grains;

/// <summary>
/// The executor of a replica whose ranks span silos, on the silo of its rank 0: each step it sends the step plan
/// (<see cref="StepPlan"/>, a compact binary body) to every other silo of the replica, one call per silo whatever its
/// number of ranks, runs this silo's ranks meanwhile (the ranks' collectives link them all over TCP), and takes from
/// the silo of the logits rank only what sampling needs (<see cref="StepReply"/>). A silo that fails its part cuts
/// the replica's links, so that no rank waits for it: the step fails, and the gateway resumes the requests elsewhere.
/// </summary>
internal sealed class SpanningExecutor : IModelExecutor
{
    private readonly string _replicaId;
    private readonly ParallelPlan _plan;
    private readonly LocalRanks _local;
    private readonly IReadOnlyList<string> _remoteUrls;
    private readonly string? _logitsUrl;
    private readonly int _logitsIndex;
    private readonly SiloClient _client;
    private readonly TimeSpan _callTimeout;
    private readonly byte[] _header = new byte[StepPlan.HeaderBytes];
    private byte[] _body = new byte[4096];
    private byte[] _message = new byte[4096];
    private byte[] _reply = [];
    private int _replyRows, _replyCandidates;

    /// <param name="remoteUrls">Endpoints of the other silos of the replica.</param>
    /// <param name="logitsUrl">Endpoint of the silo holding the logits rank, or null when it is this one.</param>
    public SpanningExecutor(string replicaId, ParallelPlan plan, LocalRanks local, IReadOnlyList<string> remoteUrls, string? logitsUrl, SiloClient client, TimeSpan callTimeout)
    {
        _replicaId = replicaId;
        _plan = plan;
        _local = local;
        _remoteUrls = remoteUrls;
        _logitsUrl = logitsUrl;
        _logitsIndex = logitsUrl is null ? -1 : remoteUrls.ToList().IndexOf(logitsUrl);
        _client = client;
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
        var body = new byte[8];
        MemoryMarshal.Write(body, blocks);
        MemoryMarshal.Write(body.AsSpan(4), blockSize);
        var calls = _remoteUrls.Select(url => _client.CallAsync(url, GrainIds.ReplicaType, _replicaId, GrainIds.KvCacheMethod, body, _callTimeout, CancellationToken.None)).ToArray();
        _local.AllocateKvCache(blocks, blockSize);
        Wait(calls);
    }

    public void Execute(BatchLayout batch)
    {
        if (_local.AbortReason is { } reason) throw new CommunicatorException($"replica {_replicaId} lost its links earlier: {reason}");
        int length = StepPlan.Write(batch, _header, ref _body);
        if (_message.Length < StepPlan.HeaderBytes + length) _message = new byte[StepPlan.HeaderBytes + length];
        _header.CopyTo(_message, 0);
        _body.AsSpan(0, length).CopyTo(_message.AsSpan(StepPlan.HeaderBytes));
        var message = _message.AsMemory(0, StepPlan.HeaderBytes + length);
        var calls = new Task<byte[]>[_remoteUrls.Count];
        for (int i = 0; i < calls.Length; i++)
        {
            string url = _remoteUrls[i];
            calls[i] = _client.CallAsync(url, GrainIds.ReplicaType, _replicaId, GrainIds.StepMethod, message, _callTimeout, CancellationToken.None);
            // A silo that fails its part must not leave this silo's ranks waiting in a collective for its ranks.
            calls[i].ContinueWith(t => _local.Abort($"silo {url} failed its part of a step: {t.Exception!.InnerException!.Message}"),
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        try
        {
            _local.Threads.Run(batch);
        }
        catch
        {
            // Wait for the calls even so: the message buffer is reused by the next step.
            try
            {
                Task.WaitAll(calls);
            }
            catch (AggregateException) { }
            throw;
        }
        var replies = Wait(calls);
        if (_logitsUrl is not null)
        {
            _reply = replies[_logitsIndex];
            (_replyRows, _replyCandidates) = (batch.LogitRowCount, batch.SampleCandidates);
        }
    }

    public void ReadLogits(int logitRow, Span<float> destination)
    {
        if (_logitsUrl is null)
        {
            _local.Threads.ReadLogits(logitRow, destination);
            return;
        }
        if (_replyCandidates >= 0) throw new InvalidOperationException("the step fetched only the largest logits of each row (SampleCandidates was not -1)");
        MemoryMarshal.Cast<byte, float>(_reply.AsSpan()).Slice(logitRow * VocabSize, VocabSize).CopyTo(destination);
    }

    public void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        if (_logitsUrl is null)
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
    private byte[][] Wait(Task<byte[]>[] calls)
    {
        try
        {
            return Task.WhenAll(calls).GetAwaiter().GetResult();
        }
        catch (GrainCallException e)
        {
            _local.Abort(e.Message);
            throw new CommunicatorException($"replica {_replicaId}: {e.Message}", e);
        }
    }

    public void Dispose() => _local.Dispose();
}
