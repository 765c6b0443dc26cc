using Granary.Compute;
using Granary.Compute.Fp8;
using Granary.Models.Checkpoints;

namespace Granary.Models.Llama;

/// <summary>
/// Uploads the slice of each checkpoint tensor that one rank needs: rows (output features) or columns
/// (input features) of a matrix, read straight from the memory-mapped file so no rank reads more than its
/// share. Every tensor's shape is checked against the config first. Matrices go through
/// <see cref="IBackend.UploadWeight"/>, which may quantize them; FP8 matrices as the checkpoint reads them, codes then
/// per-row scales (<see cref="Fp8Weights"/>). Counts the bytes the backend holds.
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
        var bytes = new byte[cols == 0 ? info.DType.ByteCount(count) : SliceBytes(info.DType, count, cols)];
        checkpoint.CopyRows(name, start, count, bytes);
        return cols == 0 ? Upload(info.DType, bytes) : UploadWeight(name, info.DType, bytes, cols);
    }

    /// <summary>Columns [start, start + count) of every row of a [rows, cols] matrix.</summary>
    public DeviceBuffer Columns(string name, long rows, long cols, long start, long count)
    {
        var info = checkpoint.Require(name, rows, cols);
        var bytes = new byte[SliceBytes(info.DType, rows, count)];
        checkpoint.CopyColumns(name, start, count, bytes);
        return UploadWeight(name, info.DType, bytes, count);
    }

    /// <summary>
    /// Row slices of several matrices of <paramref name="cols"/> columns (q, k and v; gate and up) stacked in one
    /// upload, and views of the parts (see <see cref="IBackend.Slice"/>); separate uploads and no stack when the
    /// matrices differ in element type. FP8 parts stack as one FP8 upload: the codes of every part, then the scales of
    /// every part, in the same order.
    /// </summary>
    public (DeviceBuffer? Stack, DeviceBuffer[] Parts) StackedRows(long cols, params (string Name, long Rows, long Start, long Count)[] parts)
    {
        var types = parts.Select(p => checkpoint.Require(p.Name, p.Rows, cols).DType).ToArray();
        if (types.Any(t => t != types[0])) return (null, parts.Select(p => Rows(p.Name, p.Rows, cols, p.Start, p.Count)).ToArray());
        long total = parts.Sum(p => p.Count);
        var bytes = new byte[SliceBytes(types[0], total, cols)];
        if (types[0] == DType.F8E4M3)
        {
            long codesAt = 0, scalesAt = total * cols;
            foreach (var p in parts)
            {
                var part = new byte[Fp8Weights.ByteCount(p.Count, cols)];
                checkpoint.CopyRows(p.Name, p.Start, p.Count, part);
                long codes = p.Count * cols;
                part.AsSpan(0, checked((int)codes)).CopyTo(bytes.AsSpan(checked((int)codesAt)));
                part.AsSpan(checked((int)codes)).CopyTo(bytes.AsSpan(checked((int)scalesAt)));
                codesAt += codes;
                scalesAt += p.Count * sizeof(float);
            }
        }
        else
        {
            long at = 0;
            foreach (var p in parts)
            {
                long n = types[0].ByteCount(p.Count * cols);
                checkpoint.CopyRows(p.Name, p.Start, p.Count, bytes.AsSpan(checked((int)at), checked((int)n)));
                at += n;
            }
        }
        var stack = UploadWeight(string.Join(" + ", parts.Select(p => p.Name)), types[0], bytes, cols);
        var views = new DeviceBuffer[parts.Length];
        long offset = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            views[i] = backend.Slice(stack, offset, parts[i].Count * cols);
            offset += parts[i].Count * cols;
        }
        return (stack, views);
    }

    /// <summary>
    /// A whole matrix as the checkpoint has it, never quantized (the MoE router, which llama.cpp keeps unquantized too);
    /// an FP8 or Q8_0 one widened to float32, since backends hold those only as weights.
    /// </summary>
    public DeviceBuffer Whole(string name, long rows, long cols)
    {
        var info = checkpoint.Require(name, rows, cols);
        var bytes = new byte[SliceBytes(info.DType, rows, cols)];
        checkpoint.CopyRows(name, 0, rows, bytes);
        if (info.DType is DType.F8E4M3 or DType.Q8_0) // a GGUF file's router may be Q8_0, which backends also take only as weights
        {
            float[] values = info.DType == DType.F8E4M3 ? Fp8Weights.Dequantize(bytes, cols) : HostConversions.ToFloat(DType.Q8_0, bytes);
            return Upload(DType.F32, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        }
        return Upload(info.DType, bytes);
    }

    /// <summary>A small vector (norm weight, bias slice) converted to the backend's activation type, in which it is applied.</summary>
    public DeviceBuffer Vector(string name, long length, long start, long count)
    {
        var info = checkpoint.Require(name, length);
        var bytes = new byte[count * info.DType.Size()];
        checkpoint.CopyRows(name, start, count, bytes);
        var floats = HostConversions.ToFloat(info.DType, bytes);
        return Upload(backend.ActivationType, HostConversions.FromFloat(floats, backend.ActivationType));
    }

    /// <summary>Bytes of rows x cols elements as the checkpoint reads them (an FP8 slice carries its rows' scales).</summary>
    private static long SliceBytes(DType dtype, long rows, long cols) =>
        dtype == DType.F8E4M3 ? Fp8Weights.ByteCount(rows, cols) : dtype.ByteCount(rows * cols);

    private DeviceBuffer Upload(DType dtype, byte[] bytes)
    {
        Bytes += bytes.Length;
        return backend.Upload(dtype, bytes);
    }

    private DeviceBuffer UploadWeight(string name, DType dtype, byte[] bytes, long rowLength)
    {
        if (!backend.SupportsWeights(dtype)) throw new NotSupportedException($"{checkpoint.Directory}: {backend.Name} cannot run {dtype} weights (tensor '{name}')");
        DeviceBuffer buffer;
        try
        {
            buffer = backend.UploadWeight(dtype, bytes, rowLength);
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException($"{checkpoint.Directory}: tensor '{name}': {e.Message}", e);
        }
        Bytes += buffer.ByteLength;
        return buffer;
    }
}
