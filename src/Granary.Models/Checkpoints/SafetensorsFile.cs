using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.Json;
using Granary.Compute;

namespace Granary.Models.Checkpoints;

/// <summary>
/// One safetensors file, memory-mapped read-only. The header is read and validated on open; tensor data
/// is only touched when a caller reads it, so opening a large shard costs a header read, and a caller that
/// reads a slice of a tensor only pages in that slice.
/// </summary>
/// <remarks>
/// Format: 8-byte little-endian header length N, N bytes of JSON
/// (<c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}</c>), then the data
/// section; offsets are relative to the data section.
/// </remarks>
public sealed unsafe class SafetensorsFile : IDisposable, ITensorStore
{
    /// <summary>Largest header accepted (the reference implementation's limit).</summary>
    public const long MaxHeaderLength = 100_000_000;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _data; // start of the data section; null once disposed
    private readonly Dictionary<string, SafetensorsTensor> _byName;

    /// <summary>Path of the file, as given to <see cref="Open"/>.</summary>
    public string Path { get; }

    /// <summary>Offset of the data section in the file (8 + header length).</summary>
    public long DataOffset { get; }

    /// <summary>Size of the data section in bytes.</summary>
    public long DataLength { get; }

    /// <summary>The <c>__metadata__</c> entries (empty when the header has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensors in header order.</summary>
    public IReadOnlyList<SafetensorsTensor> Tensors { get; }

    private SafetensorsFile(string path, long dataOffset, long dataLength, IReadOnlyDictionary<string, string> metadata,
        List<SafetensorsTensor> tensors, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* data)
    {
        Path = path;
        DataOffset = dataOffset;
        DataLength = dataLength;
        Metadata = metadata;
        Tensors = tensors;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        _map = map;
        _view = view;
        _data = data;
    }

    /// <summary>
    /// Opens and validates a safetensors file. Throws <see cref="InvalidDataException"/> (header length beyond
    /// the file, malformed header JSON, tensor bytes outside the data section, byte count not matching the shape)
    /// or <see cref="NotSupportedException"/> (a dtype other than F32, BF16, F16, I32), naming the file and tensor.
    /// </summary>
    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: safetensors file not found", path);

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw new InvalidDataException($"{path}: file is {fileLength} bytes, too short for a safetensors header");

        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BitConverter.IsLittleEndian
            ? BitConverter.ToUInt64(lengthBytes)
            : System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw new InvalidDataException(
                $"{path}: header length {headerLength} bytes goes beyond the end of the file ({fileLength} bytes): truncated or not a safetensors file");
        if (headerLength > MaxHeaderLength)
            throw new InvalidDataException($"{path}: header length {headerLength} bytes exceeds the limit of {MaxHeaderLength}");
        if (headerLength < 2)
            throw new InvalidDataException($"{path}: header length {headerLength} is too small for a JSON object");

        var header = new byte[(int)headerLength];
        stream.ReadExactly(header);
        long dataOffset = 8 + (long)headerLength;
        long dataLength = fileLength - dataOffset;

        var (metadata, tensors) = ParseHeader(header, path, dataLength);

        // A file without data (no tensors, or only empty ones) cannot be mapped; nothing needs to be.
        if (dataLength == 0)
            return new SafetensorsFile(path, dataOffset, 0, metadata, tensors, null, null, null);

        var map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read,
            HandleInheritability.None, leaveOpen: true);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* basePtr = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
            byte* data = basePtr + view.PointerOffset + dataOffset;
            return new SafetensorsFile(path, dataOffset, dataLength, metadata, tensors, map, view, data);
        }
        catch
        {
            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    /// <summary>Parses and validates the JSON header against a data section of <paramref name="dataLength"/> bytes.</summary>
    private static (IReadOnlyDictionary<string, string>, List<SafetensorsTensor>) ParseHeader(byte[] header, string path, long dataLength)
    {
        // The spec pads the header with spaces; some writers pad with NULs, which JSON does not allow.
        int used = header.Length;
        while (used > 0 && header[used - 1] == 0) used--;

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header.AsMemory(0, used));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: malformed safetensors header JSON: {e.Message}", e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: safetensors header must be a JSON object, got {JsonFields.Describe(root)}");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new List<SafetensorsTensor>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in root.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw new InvalidDataException($"{path}: tensor '{prop.Name}' appears twice in the header");
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw new InvalidDataException($"{path}: '__metadata__' must be an object of strings");
                    foreach (var m in prop.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                tensors.Add(ParseEntry(prop.Name, prop.Value, path));
            }

            // Report missing bytes for the first tensor (in file order) that lies past the end: on a truncated
            // file that is where the data stops.
            foreach (var t in tensors.OrderBy(t => t.Begin))
            {
                if (t.End > dataLength)
                    throw new InvalidDataException(
                        $"{path}: tensor '{t.Name}' needs bytes [{t.Begin}, {t.End}) of the data section, but the file holds only {dataLength} bytes of data (truncated file?)");
            }
            return (metadata, tensors);
        }
    }

    private static SafetensorsTensor ParseEntry(string name, JsonElement e, string path)
    {
        string where = $"{path}: tensor '{name}'";
        if (e.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{where}: header entry must be an object, got {JsonFields.Describe(e)}");

        if (!e.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{where}: missing or non-string 'dtype'");
        string dtypeName = dtypeEl.GetString()!;
        DType dtype = dtypeName switch
        {
            "F32" => DType.F32,
            "BF16" => DType.BF16,
            "F16" => DType.F16,
            "I32" => DType.I32,
            "F8_E4M3" => DType.F8E4M3,
            _ => throw new NotSupportedException($"{where}: unsupported dtype '{dtypeName}' (supported: F32, BF16, F16, I32, F8_E4M3)"),
        };

        if (!e.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{where}: missing or non-array 'shape'");
        var shape = new long[shapeEl.GetArrayLength()];
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0)
                throw new InvalidDataException($"{where}: shape must be a list of non-negative integers, got {shapeEl.GetRawText()}");
            shape[i++] = v;
        }

        if (!e.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw new InvalidDataException($"{where}: 'data_offsets' must be a list [begin, end]");
        if (!offEl[0].TryGetInt64(out long begin) || !offEl[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new InvalidDataException($"{where}: invalid data_offsets {offEl.GetRawText()}");

        long expected;
        try
        {
            expected = checked(ShapeMath.ElementCount(shape) * dtype.Size());
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"{where}: shape {ShapeMath.Format(shape)} is too large");
        }
        if (end - begin != expected)
            throw new InvalidDataException(
                $"{where}: data_offsets [{begin}, {end}) hold {end - begin} bytes, but shape {ShapeMath.Format(shape)} of {dtype} needs {expected}");

        return new SafetensorsTensor(name, dtype, shape, begin, end);
    }

    /// <summary>Whether the file holds a tensor of that name.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Looks a tensor up by name.</summary>
    public bool TryGetTensor(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SafetensorsTensor? tensor) =>
        _byName.TryGetValue(name, out tensor);

    /// <summary>The tensor of that name; <see cref="KeyNotFoundException"/> naming the file when absent.</summary>
    public SafetensorsTensor GetTensor(string name) =>
        _byName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"{Path}: no tensor '{name}'");

    /// <summary>All bytes of a tensor, straight from the mapping (no copy). Valid until the file is disposed.</summary>
    public ReadOnlySpan<byte> Bytes(string name) => Bytes(GetTensor(name));

    /// <summary>All bytes of a tensor of this file (no copy).</summary>
    public ReadOnlySpan<byte> Bytes(SafetensorsTensor tensor)
    {
        if (tensor.ByteLength > int.MaxValue)
            throw new NotSupportedException(
                $"{Path}: tensor '{tensor.Name}' is {tensor.ByteLength} bytes, too large for one span; read it in slices");
        return Bytes(tensor, 0, (int)tensor.ByteLength);
    }

    /// <summary>Bytes [byteOffset, byteOffset + byteCount) of a tensor of this file (no copy).</summary>
    public ReadOnlySpan<byte> Bytes(SafetensorsTensor tensor, long byteOffset, int byteCount)
    {
        if (!_byName.TryGetValue(tensor.Name, out var own) || !ReferenceEquals(own, tensor))
            throw new ArgumentException($"{Path}: tensor '{tensor.Name}' does not belong to this file", nameof(tensor));
        if (byteOffset < 0 || byteCount < 0 || byteOffset + byteCount > tensor.ByteLength)
            throw new ArgumentOutOfRangeException(nameof(byteOffset),
                $"{Path}: bytes [{byteOffset}, {byteOffset + byteCount}) are outside tensor '{tensor.Name}' ({tensor.ByteLength} bytes)");
        if (byteCount == 0) return ReadOnlySpan<byte>.Empty;
        ObjectDisposedException.ThrowIf(_data == null, this);
        return new ReadOnlySpan<byte>(_data + tensor.Begin + byteOffset, byteCount);
    }

    /// <summary>Releases the mapping; spans obtained earlier must no longer be used.</summary>
    public void Dispose()
    {
        if (_view != null && _data != null)
        {
            _data = null;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
        _data = null;
        _view?.Dispose();
        _map?.Dispose();
    }
}
