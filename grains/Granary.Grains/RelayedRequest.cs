using Granary.Cluster.Placement;
using Granary.Engine;
using Granary.Grains.Contracts;
using Granary.Grains.Placement;
using Granary.Serving;
using Microsoft.Extensions.Logging;

namespace Granary.Grains;

/// <summary>
/// One request on its way through a gateway: sent to a replica's session grain, its events relayed into the
/// client's <see cref="GenerationHandle"/>. When the replica fails mid-answer (its silo died, its session stopped,
/// the stream broke), the request goes on on another replica from where it stood: each choice's generated tokens
/// are re-prefilled behind the prompt and the text continues after the characters the client already has, so a
/// streaming client sees one uninterrupted answer. A request that cannot be resumed ends with an error event.
/// </summary>
internal sealed partial class RelayedRequest
{
    private readonly ClusterGateway _gateway;
    private readonly GenerationRequest _request;
    private readonly long _cost;
    private readonly GenerationHandle _handle;
    private readonly CancellationToken _cancellation;
    private readonly List<int>[] _generated;
    private readonly int[] _sentChars;
    private readonly bool[] _finished;
    private readonly long _started = System.Diagnostics.Stopwatch.GetTimestamp();
    private bool _firstToken = true;
    // Whether the replica relaying now runs on another silo, so that this gateway counts the request (ClusterGateway.CountsHere).
    private bool _countsHere;

    /// <param name="cost">What the router booked for the request on a replica, given back after each try.</param>
    public RelayedRequest(ClusterGateway gateway, GenerationRequest request, long cost, GenerationHandle handle, CancellationToken cancellation)
    {
        _gateway = gateway;
        _request = request;
        _cost = cost;
        _handle = handle;
        _cancellation = cancellation;
        _generated = [.. Enumerable.Range(0, request.Sequences).Select(_ => new List<int>())];
        _sentChars = new int[request.Sequences];
        _finished = new bool[request.Sequences];
    }

    /// <summary>Relays the request to the end; never throws (failures become the handle's error event).</summary>
    public async Task RunAsync(ReplicaPlacement first)
    {
        var tried = new HashSet<string>();
        var replica = first;
        string? failure = null;
        try
        {
            for (int attempt = 0; ; attempt++)
            {
                bool busy = false;
                try
                {
                    if (await RelayFromAsync(replica).ConfigureAwait(false))
                    {
                        _handle.Writer.TryComplete();
                        return;
                    }
                    busy = true; // the replica's queue was full
                }
                catch (Exception e) when (IsReplicaFailure(e) && !_cancellation.IsCancellationRequested)
                {
                    failure = e.Message;
                    _gateway.Router.MarkFailed(replica.Id);
                    LogReplicaFailed(_gateway.Logger, replica.Id, e.Message, _generated.Sum(g => g.Count));
                }
                finally
                {
                    _gateway.Router.Release(replica.Id, _request.Sequences, _cost);
                }
                tried.Add(replica.Id);
                if (attempt >= _gateway.MaxResumes)
                {
                    if (busy) FailBusy();
                    else Fail($"the replica answering it failed and it could not be resumed after {attempt + 1} tries: {failure}");
                    return;
                }
                // A busy replica's request goes to another one with room now, or back to the client as 429; a
                // failed one's waits for a replica to be ready to resume it.
                var next = await _gateway.WaitForReplicaAsync(_request, _cost, tried, busy ? TimeSpan.Zero : _gateway.ResumeWait, _cancellation).ConfigureAwait(false);
                if (next is null)
                {
                    if (busy) FailBusy();
                    else Fail($"the replica answering it failed ({failure}) and no other replica is ready to resume it");
                    return;
                }
                replica = next;
                if (!busy) LogResuming(_gateway.Logger, replica.Id);
            }
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
            _handle.Writer.TryComplete(); // the client left; the session aborted its part when the stream closed
        }
        catch (Exception e)
        {
            Fail($"internal error relaying the request: {e.Message}");
        }
    }

    /// <summary>Streams the request's remaining part from one replica; false when that replica's queue was full.</summary>
    private async Task<bool> RelayFromAsync(ReplicaPlacement replica)
    {
        var call = _generated.Any(g => g.Count > 0) || _finished.Any(f => f)
            ? _request with { Resume = [.. Enumerable.Range(0, _request.Sequences).Select(i => new ChoiceResume(i, [.. _generated[i]], _sentChars[i], _finished[i]))] }
            : _request;
        _countsHere = _gateway.CountsHere(replica);
        if (_countsHere) _gateway.AddRemoteSequences(_request.Sequences);
        try
        {
            return await RelayEventsAsync(replica, call).ConfigureAwait(false);
        }
        finally
        {
            if (_countsHere) _gateway.AddRemoteSequences(-_request.Sequences);
        }
    }

    private async Task<bool> RelayEventsAsync(ReplicaPlacement replica, GenerationRequest call)
    {
        await foreach (var reply in _gateway.CallSessionAsync(replica, call, _cancellation).ConfigureAwait(false))
        {
            if (reply.Busy is not null) return false;
            var e = reply.Event!;
            if (e.Error is not null)
            {
                if (e.IsBadRequest)
                {
                    _handle.Writer.TryWrite(e);
                    return true;
                }
                throw new ReplicaFailedException(e.Error);
            }
            Track(e);
            _handle.Writer.TryWrite(e);
        }
        if (_finished.Any(f => !f)) throw new ReplicaFailedException("its answer stream ended before every choice finished");
        return true;
    }

    private void Track(GenerationEvent e)
    {
        _generated[e.Index].AddRange(e.TokenIds);
        _sentChars[e.Index] += e.Text.Length;
        if (e.FinishReason is not null) _finished[e.Index] = true;
        if (!_countsHere) return;
        var metrics = _gateway.Metrics;
        metrics.AddTokens(0, e.TokenIds.Length);
        if (_firstToken && e.TokenIds.Length > 0)
        {
            metrics.TimeToFirstToken.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(_started).TotalSeconds);
            _firstToken = false;
        }
    }

    private void FailBusy() => Fail($"every replica of {_gateway.ModelName} has a full queue; try again shortly", isBusy: true);

    private void Fail(string message, bool isBusy = false)
    {
        _handle.Writer.TryWrite(new GenerationEvent { Error = message, IsBusy = isBusy });
        _handle.Writer.TryComplete();
    }

    /// <summary>
    /// Failures of the replica, not of the request: its silo died or is unreachable (Orleans' own exceptions, a call
    /// timing out), its session stopped or was placed again, or it ended the request with a failure of its own.
    /// </summary>
    private static bool IsReplicaFailure(Exception e) => e is ReplicaFailedException or ReplicaNotServingException or PinnedSiloUnavailableException
        or ObjectDisposedException or TimeoutException or OrleansException or IOException;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {Replica} failed a request after {Tokens} tokens ({Reason}); resuming it on another replica")]
    private static partial void LogReplicaFailed(ILogger logger, string replica, string reason, int tokens);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming a request on replica {Replica}")]
    private static partial void LogResuming(ILogger logger, string replica);
}
