using System.Runtime.InteropServices;

namespace Granary.Engine;

/// <summary>
/// What sampling reads of a step whose logits rank is in another process (a rank of a static launch, or another silo
/// of a replica): each row's k largest logits (<see cref="TopKReply"/>) when the step asked for k candidates, the rows
/// whole as float32 when it asked for -1, nothing when it asked for none. The executors that drive ranks elsewhere keep
/// one and answer <see cref="IModelExecutor.ReadLogits"/> and <see cref="IModelExecutor.TopLogits"/> from it.
/// </summary>
public sealed class LogitsReply(int vocabSize)
{
    private byte[] _bytes = [];
    private int _length, _rows, _candidates;

    /// <summary>A buffer (reused from step to step) for the next step's reply, to receive into.</summary>
    /// <param name="candidates">k of a top-k reply, or -1 for whole rows.</param>
    public Span<byte> Receive(int rows, int candidates)
    {
        int bytes = candidates > 0 ? TopKReply.Bytes(rows, candidates) : candidates < 0 ? rows * vocabSize * sizeof(float) : 0;
        if (_bytes.Length < bytes) _bytes = new byte[bytes];
        (_length, _rows, _candidates) = (bytes, rows, candidates);
        return _bytes.AsSpan(0, bytes);
    }

    /// <summary>Takes a reply that arrived as an array of its own (a grain call's answer).</summary>
    public void Take(byte[] reply, int rows, int candidates) => (_bytes, _length, _rows, _candidates) = (reply, reply.Length, rows, candidates);

    public void ReadLogits(int logitRow, Span<float> destination)
    {
        if (_candidates > 0) throw new InvalidOperationException("the step fetched only the largest logits of each row (SampleCandidates was not -1)");
        if (_candidates == 0) throw new InvalidOperationException("the step fetched no logits (SampleCandidates was 0)");
        MemoryMarshal.Cast<byte, float>(_bytes.AsSpan(0, _length)).Slice(logitRow * vocabSize, vocabSize).CopyTo(destination);
    }

    public void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        var reply = _bytes.AsSpan(0, _length);
        if (_candidates < 0) Granary.Compute.TopLogits.SelectRows(MemoryMarshal.Cast<byte, float>(reply), _rows, vocabSize, k, ids, values, logSumExp);
        else if (_candidates == 0) throw new InvalidOperationException("the step fetched no logits (SampleCandidates was 0)");
        else if (k != _candidates) throw new InvalidOperationException($"the step fetched the {_candidates} largest logits of each row, not {k}");
        else TopKReply.Read(reply, _rows, k, ids, values, logSumExp);
    }
}
