using System.Runtime.InteropServices;
using Granary.Compute;

namespace Granary.Engine;

/// <summary>
/// The compact binary messages rank 0 sends to the other ranks of a multi-process group (and a session grain to
/// the silos holding its other ranks): a fixed 24-byte header (kind and counts; for a step, the rows, sequences,
/// logit rows, block-table width and <see cref="BatchLayout.SampleCandidates"/>) and, for a step, its batch layout as
/// little-endian int32 arrays (token ids, positions, KV slots, row sequences, logit rows, block tables).
/// </summary>
public static class StepPlan
{
    public const int HeaderBytes = 24;

    public enum Kind { KvCache = 1, Step = 2, Stop = 3, Setup = 4 }

    public static void WriteHeader(Span<byte> header, Kind kind, int a = 0, int b = 0, int c = 0, int d = 0, int e = 0)
    {
        var ints = MemoryMarshal.Cast<byte, int>(header[..HeaderBytes]);
        ints[0] = (int)kind; ints[1] = a; ints[2] = b; ints[3] = c; ints[4] = d; ints[5] = e;
    }

    public static (Kind Kind, int A, int B, int C, int D, int E) ReadHeader(ReadOnlySpan<byte> header)
    {
        var ints = MemoryMarshal.Cast<byte, int>(header[..HeaderBytes]);
        return ((Kind)ints[0], ints[1], ints[2], ints[3], ints[4], ints[5]);
    }

    public static int BodyBytes(int rows, int sequences, int logitRows, int maxBlocks) => 4 * (4 * rows + logitRows + sequences * maxBlocks);

    /// <summary>Writes a step's header and body (growing <paramref name="body"/> when needed); returns the body length.</summary>
    public static int Write(BatchLayout batch, Span<byte> header, ref byte[] body)
    {
        int rows = batch.Rows, sequences = batch.Sequences, logits = batch.LogitRowCount, maxBlocks = batch.MaxBlocksPerSequence;
        int length = BodyBytes(rows, sequences, logits, maxBlocks);
        if (body.Length < length) body = new byte[length];
        WriteHeader(header, Kind.Step, rows, sequences, logits, maxBlocks, batch.SampleCandidates);
        var ints = MemoryMarshal.Cast<byte, int>(body.AsSpan(0, length));
        int at = 0;
        Put(ints, ref at, batch.TokenIds.AsSpan(0, rows));
        Put(ints, ref at, batch.Positions.AsSpan(0, rows));
        Put(ints, ref at, batch.SlotMapping.AsSpan(0, rows));
        Put(ints, ref at, batch.RowSequence.AsSpan(0, rows));
        Put(ints, ref at, batch.LogitRows.AsSpan(0, logits));
        Put(ints, ref at, batch.BlockTables.AsSpan(0, sequences * maxBlocks));
        return length;
    }

    /// <summary>Fills <paramref name="batch"/> (replaced when too small or of another block-table stride) from a step's body.</summary>
    public static void Read(ReadOnlySpan<byte> body, int rows, int sequences, int logits, int maxBlocks, int sampleCandidates, ref BatchLayout? batch)
    {
        if (batch is null || batch.MaxRows < rows || batch.MaxBlocksPerSequence != maxBlocks || batch.BlockTables.Length < sequences * maxBlocks)
            batch = new BatchLayout(Math.Max(rows, batch?.MaxRows ?? 0), Math.Max(sequences, 1), maxBlocks);
        var ints = MemoryMarshal.Cast<byte, int>(body);
        int at = 0;
        Take(ints, ref at, batch.TokenIds.AsSpan(0, rows));
        Take(ints, ref at, batch.Positions.AsSpan(0, rows));
        Take(ints, ref at, batch.SlotMapping.AsSpan(0, rows));
        Take(ints, ref at, batch.RowSequence.AsSpan(0, rows));
        Take(ints, ref at, batch.LogitRows.AsSpan(0, logits));
        Take(ints, ref at, batch.BlockTables.AsSpan(0, sequences * maxBlocks));
        batch.Commit(rows, sequences, logits);
        batch.SampleCandidates = sampleCandidates;
    }

    private static void Put(Span<int> destination, ref int at, ReadOnlySpan<int> values)
    {
        values.CopyTo(destination[at..]);
        at += values.Length;
    }

    private static void Take(ReadOnlySpan<int> source, ref int at, Span<int> target)
    {
        source.Slice(at, target.Length).CopyTo(target);
        at += target.Length;
    }
}
