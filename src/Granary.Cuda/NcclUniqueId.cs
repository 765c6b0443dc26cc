using System.Runtime.CompilerServices;

namespace Granary.Cuda;

/// <summary>NCCL's 128-byte group id: rank 0 creates it and the launcher hands the same bytes to every rank.</summary>
[InlineArray(128)]
public struct NcclUniqueId
{
    private byte _element;

    /// <summary>The id as bytes (to send to the other ranks).</summary>
    public readonly byte[] ToArray() => ((ReadOnlySpan<byte>)this).ToArray();

    /// <summary>Rebuilds an id from the 128 bytes rank 0 sent.</summary>
    public static NcclUniqueId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != 128) throw new ArgumentException($"an NCCL unique id is 128 bytes, got {bytes.Length}", nameof(bytes));
        var id = new NcclUniqueId();
        bytes.CopyTo(id);
        return id;
    }
}
