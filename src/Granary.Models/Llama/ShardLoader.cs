using Granary.Compute;
using Granary.Models.Checkpoints;

namespace Granary.Models.Llama;

/// <summary>
/// Uploads the slice of each checkpoint tensor that one rank needs: rows (output features) or columns
/// (input features) of a matrix, read straight from the memory-mapped file so no rank reads more than its
/// share. Every tensor's shape is checked against the config first. Counts the bytes it uploaded.
/// </summary>
internal sealed class ShardLoader(Checkpoint checkpoint, IBackend backend)
{
    /// <summary>Weight bytes uploaded so far.</summary>
    public long Bytes { get; private set; }

    public bool Contains(string name) => checkpoint.Contains(name);

    /// <summary>Rows [start, start + count) of a [rows, cols] matrix (or elements of a vector when cols is 0).</summary>
    public DeviceBuffer Rows(string name, long rows, long cols, long start, long count)
    {
        var info = cols == 0 ? checkpoint.Require(name, rows) : checkpoint.Require(name, rows, cols);
        var bytes = new byte[count * Math.Max(cols, 1) * info.DType.Size()];
        checkpoint.CopyRows(name, start, count, bytes);
        return Upload(info.DType, bytes);
    }

    /// <summary>Columns [start, start + count) of every row of a [rows, cols] matrix.</summary>
    public DeviceBuffer Columns(string name, long rows, long cols, long start, long count)
    {
        var info = checkpoint.Require(name, rows, cols);
        var bytes = new byte[rows * count * info.DType.Size()];
        checkpoint.CopyColumns(name, start, count, bytes);
        return Upload(info.DType, bytes);
    }

    public DeviceBuffer Whole(string name, long rows, long cols) => Rows(name, rows, cols, 0, rows);

    /// <summary>A small vector (norm weight, bias slice) converted to the backend's activation type, in which it is applied.</summary>
    public DeviceBuffer Vector(string name, long length, long start, long count)
    {
        var info = checkpoint.Require(name, length);
        var bytes = new byte[count * info.DType.Size()];
        checkpoint.CopyRows(name, start, count, bytes);
        var floats = HostConversions.ToFloat(info.DType, bytes);
        return Upload(backend.ActivationType, HostConversions.FromFloat(floats, backend.ActivationType));
    }

    private DeviceBuffer Upload(DType dtype, byte[] bytes)
    {
        Bytes += bytes.Length;
        return backend.Upload(dtype, bytes);
    }
}
