using System.Text;
using System.Text.Json;
using Granary.Compute;

namespace Granary.Models.Checkpoints;

/// <summary>
/// Writes a safetensors file: add entries, then <see cref="Write"/>. Tensors are laid out without holes,
/// larger element types first (as the reference implementation does, so every tensor is aligned to its
/// element size), in the order they were added otherwise; the header is padded with spaces so the data
/// section starts on an 8-byte boundary.
/// </summary>
public sealed class SafetensorsWriter
{
    private sealed record Entry(string Name, string DTypeName, int ElementSize, long[] Shape, long ByteLength, Action<Stream> WriteData);

    private readonly List<Entry> _entries = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>The <c>__metadata__</c> map; empty by default (then no <c>__metadata__</c> entry is written).</summary>
    public IDictionary<string, string> Metadata { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Adds a tensor; <paramref name="data"/> must hold exactly product(shape) * dtype size bytes.</summary>
    public SafetensorsWriter Add(string name, DType dtype, long[] shape, ReadOnlyMemory<byte> data)
    {
        long expected = ExpectedBytes(name, dtype, shape);
        if (data.Length != expected)
            throw new ArgumentException($"tensor '{name}': {data.Length} bytes given, shape {ShapeMath.Format(shape)} of {dtype} needs {expected}", nameof(data));
        return AddEntry(new Entry(name, dtype.SafetensorsName(), dtype.Size(), shape, expected, s => s.Write(data.Span)));
    }

    /// <summary>
    /// Adds a tensor whose bytes are produced on <see cref="Write"/> by <paramref name="writeData"/>, which must
    /// write exactly product(shape) * dtype size bytes to the stream it is given (so large tensors need not be held in memory).
    /// </summary>
    public SafetensorsWriter Add(string name, DType dtype, long[] shape, Action<Stream> writeData)
    {
        ArgumentNullException.ThrowIfNull(writeData);
        long expected = ExpectedBytes(name, dtype, shape);
        return AddEntry(new Entry(name, dtype.SafetensorsName(), dtype.Size(), shape, expected, writeData));
    }

    /// <summary>
    /// Adds an entry written exactly as given, with any safetensors dtype name (e.g. "F64", "I8") and no check
    /// that the byte count matches the shape: for files of types Granary does not load, and for tests that need
    /// malformed files.
    /// </summary>
    public SafetensorsWriter AddRaw(string name, string dtypeName, long[] shape, ReadOnlyMemory<byte> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(dtypeName);
        ArgumentNullException.ThrowIfNull(shape);
        int size = dtypeName switch
        {
            "F64" or "I64" or "U64" => 8,
            "F32" or "I32" or "U32" => 4,
            "F16" or "BF16" or "I16" or "U16" => 2,
            _ => 1,
        };
        return AddEntry(new Entry(name, dtypeName, size, (long[])shape.Clone(), data.Length, s => s.Write(data.Span)));
    }

    private static long ExpectedBytes(string name, DType dtype, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        foreach (long d in shape)
            if (d < 0) throw new ArgumentException($"tensor '{name}': negative dimension in shape {ShapeMath.Format(shape)}", nameof(shape));
        return checked(ShapeMath.ElementCount(shape) * dtype.Size());
    }

    private SafetensorsWriter AddEntry(Entry e)
    {
        ArgumentException.ThrowIfNullOrEmpty(e.Name);
        if (e.Name == "__metadata__")
            throw new ArgumentException("'__metadata__' is reserved for the metadata map", nameof(e.Name));
        if (!_names.Add(e.Name))
            throw new ArgumentException($"tensor '{e.Name}' was already added", nameof(e.Name));
        _entries.Add(e with { Shape = (long[])e.Shape.Clone() });
        return this;
    }

    /// <summary>
    /// Writes the file. It is written next to <paramref name="path"/> and renamed into place at the end, so an
    /// interrupted write never leaves a partial file under the final name. <paramref name="progress"/>, when
    /// given, is told after each tensor.
    /// </summary>
    public void Write(string path, IProgress<TensorProgress>? progress = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        // OrderBy is stable: equal element sizes keep the order they were added in.
        var ordered = _entries.OrderByDescending(e => e.ElementSize).ToList();
        byte[] header = BuildHeader(ordered);
        long total = ordered.Sum(e => e.ByteLength), done = 0;
        int remaining = ordered.Count;

        string tmp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> len = stackalloc byte[8];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
                stream.Write(len);
                stream.Write(header);
                foreach (var e in ordered)
                {
                    long before = stream.Position;
                    e.WriteData(stream);
                    long written = stream.Position - before;
                    if (written != e.ByteLength)
                        throw new InvalidOperationException($"tensor '{e.Name}': wrote {written} bytes, expected {e.ByteLength}");
                    done += written;
                    progress?.Report(new TensorProgress(path, 0, 1, done, total, FileDone: --remaining == 0));
                }
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    private byte[] BuildHeader(List<Entry> ordered)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (Metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in Metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in ordered)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DTypeName);
                w.WriteStartArray("shape");
                foreach (long d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + e.ByteLength);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += e.ByteLength;
            }
            w.WriteEndObject();
        }
        // Pad with spaces so that 8 + header length is a multiple of 8.
        int padded = (int)((buffer.Length + 7) / 8 * 8);
        while (buffer.Length < padded) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }
}
