using System.Runtime.InteropServices;

namespace Granary.Engine;

/// <summary>
/// The k largest logits of each logit row as they cross from the rank or silo holding the logits to the one that
/// samples, when no row needs its whole vocabulary (<see cref="Granary.Compute.BatchLayout.SampleCandidates"/> k > 0):
/// ids [rows, k] as int32, then values [rows, k], then each row's log-sum-exp, little-endian. Far smaller than the
/// rows themselves (12 bytes a row at k = 1 against 4 a vocabulary entry).
/// </summary>
public static class TopKReply
{
    public static int Bytes(int rows, int k) => rows * k * 8 + rows * 4;

    public static Span<int> Ids(Span<byte> reply, int rows, int k) => MemoryMarshal.Cast<byte, int>(reply[..(rows * k * 4)]);

    public static Span<float> Values(Span<byte> reply, int rows, int k) => MemoryMarshal.Cast<byte, float>(reply.Slice(rows * k * 4, rows * k * 4));

    public static Span<float> LogSumExp(Span<byte> reply, int rows, int k) => MemoryMarshal.Cast<byte, float>(reply.Slice(rows * k * 8, rows * 4));

    /// <summary>Copies a reply's three parts out.</summary>
    public static void Read(ReadOnlySpan<byte> reply, int rows, int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        if (reply.Length < Bytes(rows, k)) throw new InvalidDataException($"a top-{k} reply for {rows} rows needs {Bytes(rows, k)} bytes, got {reply.Length}");
        int n = rows * k;
        MemoryMarshal.Cast<byte, int>(reply[..(n * 4)]).CopyTo(ids);
        MemoryMarshal.Cast<byte, float>(reply.Slice(n * 4, n * 4)).CopyTo(values);
        MemoryMarshal.Cast<byte, float>(reply.Slice(n * 8, rows * 4)).CopyTo(logSumExp);
    }
}
