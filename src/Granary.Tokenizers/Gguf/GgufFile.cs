using System.Text;

namespace Granary.Tokenizers.Gguf;

/// <summary>
/// The header of a GGUF file (versions 2 and 3): metadata key/values and tensor descriptions.
/// Tensor data is not read; <see cref="DataOffset"/> says where it starts (aligned to <see cref="Alignment"/>).
/// </summary>
public sealed class GgufFile
{
    private const uint Magic = 0x46554747; // "GGUF" little-endian
    private const long MaxStringBytes = 1L << 30;
    private const long MaxArrayElements = int.MaxValue;

    private GgufFile(string source, uint version, Dictionary<string, GgufValue> metadata, List<GgufTensorInfo> tensors, long dataOffset, uint alignment)
    {
        Source = source;
        Version = version;
        Metadata = metadata;
        Tensors = tensors;
        DataOffset = dataOffset;
        Alignment = alignment;
    }

    /// <summary>The file name (or the name given for a stream), used in error messages.</summary>
    public string Source { get; }

    /// <summary>Format version (2 or 3).</summary>
    public uint Version { get; }

    /// <summary>All metadata key/values, in file order.</summary>
    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }

    /// <summary>Tensor descriptions, in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Absolute offset of the tensor data section.</summary>
    public long DataOffset { get; }

    /// <summary>Alignment of tensor data (<c>general.alignment</c>, default 32).</summary>
    public uint Alignment { get; }

    /// <summary>Reads the header of the GGUF file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid GGUF v2/v3 file.</exception>
    public static GgufFile Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"GGUF file not found: {path}", path);
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(fs, path);
    }

    /// <summary>Reads a GGUF header from a stream (need not be seekable); <paramref name="sourceName"/> names it in errors.</summary>
    /// <exception cref="InvalidDataException">The stream is not a valid GGUF v2/v3 file.</exception>
    public static GgufFile Read(Stream stream, string sourceName = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(stream);
        var r = new Reader(stream, sourceName);
        try
        {
            if (r.U32() != Magic) throw r.Error("not a GGUF file (bad magic)");
            uint version = r.U32();
            if (version is not (2 or 3)) throw r.Error($"unsupported GGUF version {version} (2 and 3 are supported)");
            long tensorCount = r.Count("tensor count");
            long kvCount = r.Count("metadata count");

            var metadata = new Dictionary<string, GgufValue>((int)Math.Min(kvCount, 4096), StringComparer.Ordinal);
            for (long i = 0; i < kvCount; i++)
            {
                string key = r.String("metadata key");
                var type = (GgufValueType)r.U32();
                metadata[key] = r.Value(type, key);
            }

            uint alignment = 32;
            if (metadata.TryGetValue("general.alignment", out var al))
            {
                long a = al.AsInt64();
                if (a <= 0 || (a & (a - 1)) != 0) throw r.Error($"general.alignment {a} is not a power of two");
                alignment = (uint)a;
            }

            var tensors = new List<GgufTensorInfo>((int)Math.Min(tensorCount, 65536));
            for (long i = 0; i < tensorCount; i++)
            {
                string name = r.String("tensor name");
                uint nDims = r.U32();
                if (nDims > 8) throw r.Error($"tensor '{name}' has {nDims} dimensions");
                var dims = new ulong[nDims];
                for (int d = 0; d < nDims; d++) dims[d] = r.U64();
                uint ggmlType = r.U32();
                ulong offset = r.U64();
                tensors.Add(new GgufTensorInfo(name, dims, ggmlType, offset));
            }

            long dataOffset = (r.Position + alignment - 1) / alignment * alignment;
            return new GgufFile(sourceName, version, metadata, tensors, dataOffset, alignment);
        }
        catch (EndOfStreamException)
        {
            throw r.Error("unexpected end of file");
        }
    }

    /// <summary>Gets a metadata value, or null when absent.</summary>
    public GgufValue? Get(string key) => Metadata.TryGetValue(key, out var v) ? v : null;

    /// <summary>Gets a string metadata value, or null when absent.</summary>
    /// <exception cref="InvalidDataException">The key exists with another type.</exception>
    public string? GetString(string key) => Get(key) is { } v ? (v.Value as string ?? throw TypeError(key, v, "string")) : null;

    /// <summary>Gets an integer metadata value, or null when absent.</summary>
    /// <exception cref="InvalidDataException">The key exists with a non-integer type.</exception>
    public long? GetInt64(string key)
    {
        if (Get(key) is not { } v) return null;
        try { return v.AsInt64(); } catch (Exception e) when (e is InvalidCastException or OverflowException) { throw TypeError(key, v, "integer"); }
    }

    /// <summary>Gets a bool metadata value, or null when absent.</summary>
    /// <exception cref="InvalidDataException">The key exists with a non-bool type.</exception>
    public bool? GetBool(string key)
    {
        if (Get(key) is not { } v) return null;
        try { return v.AsBool(); } catch (InvalidCastException) { throw TypeError(key, v, "bool"); }
    }

    /// <summary>Gets a typed array metadata value, or null when absent.</summary>
    /// <exception cref="InvalidDataException">The key exists with another type.</exception>
    public T[]? GetArray<T>(string key) => Get(key) is { } v ? (v.Value as T[] ?? throw TypeError(key, v, typeof(T).Name + "[]")) : null;

    private InvalidDataException TypeError(string key, GgufValue v, string expected) =>
        new($"{Source}: GGUF key '{key}' is {v.Type}{(v.Type == GgufValueType.Array ? $"[{v.ElementType}]" : "")}, expected {expected}");

    /// <summary>Little-endian reader that counts the bytes consumed (the stream may not be seekable).</summary>
    private sealed class Reader(Stream stream, string source)
    {
        private readonly BinaryReader _r = new(stream, Encoding.UTF8, leaveOpen: true);
        private readonly long? _length = stream.CanSeek ? stream.Length : null;
        public long Position;

        public InvalidDataException Error(string message) => new($"{source}: invalid GGUF: {message} (at byte {Position})");

        public uint U32() { Position += 4; return _r.ReadUInt32(); }
        public ulong U64() { Position += 8; return _r.ReadUInt64(); }

        public long Count(string what)
        {
            ulong n = U64();
            if (n > MaxArrayElements || (_length is { } len && (long)n > len - Position)) throw Error($"{what} {n} is out of range");
            return (long)n;
        }

        public string String(string what)
        {
            ulong n = U64();
            if (n > MaxStringBytes || (_length is { } len && (long)n > len - Position)) throw Error($"{what}: string length {n} is out of range");
            byte[] bytes = _r.ReadBytes((int)n);
            if (bytes.Length != (int)n) throw new EndOfStreamException();
            Position += (long)n;
            return Encoding.UTF8.GetString(bytes);
        }

        public GgufValue Value(GgufValueType type, string key)
        {
            if (type == GgufValueType.Array)
            {
                var et = (GgufValueType)U32();
                long n = Count($"array length of '{key}'");
                return new GgufValue(type, ArrayOf(et, n, key), et);
            }
            return new GgufValue(type, Scalar(type, key));
        }

        private object Scalar(GgufValueType type, string key)
        {
            switch (type)
            {
                case GgufValueType.UInt8: Position += 1; return _r.ReadByte();
                case GgufValueType.Int8: Position += 1; return _r.ReadSByte();
                case GgufValueType.UInt16: Position += 2; return _r.ReadUInt16();
                case GgufValueType.Int16: Position += 2; return _r.ReadInt16();
                case GgufValueType.UInt32: return U32();
                case GgufValueType.Int32: Position += 4; return _r.ReadInt32();
                case GgufValueType.Float32: Position += 4; return _r.ReadSingle();
                case GgufValueType.Bool: Position += 1; return _r.ReadByte() != 0;
                case GgufValueType.String: return String($"value of '{key}'");
                case GgufValueType.UInt64: return U64();
                case GgufValueType.Int64: Position += 8; return _r.ReadInt64();
                case GgufValueType.Float64: Position += 8; return _r.ReadDouble();
                default: throw Error($"key '{key}' has unknown value type {(uint)type}");
            }
        }

        private object ArrayOf(GgufValueType et, long n, string key)
        {
            int count = (int)n;
            switch (et)
            {
                case GgufValueType.String:
                {
                    var a = new string[count];
                    for (int i = 0; i < count; i++) a[i] = String($"element {i} of '{key}'");
                    return a;
                }
                case GgufValueType.Array:
                {
                    var a = new GgufValue[count];
                    for (int i = 0; i < count; i++) a[i] = Value(GgufValueType.Array, key);
                    return a;
                }
                case GgufValueType.UInt8: return Fill<byte>(count);
                case GgufValueType.Int8: return Fill<sbyte>(count);
                case GgufValueType.UInt16: return Fill<ushort>(count);
                case GgufValueType.Int16: return Fill<short>(count);
                case GgufValueType.UInt32: return Fill<uint>(count);
                case GgufValueType.Int32: return Fill<int>(count);
                case GgufValueType.Float32: return Fill<float>(count);
                case GgufValueType.UInt64: return Fill<ulong>(count);
                case GgufValueType.Int64: return Fill<long>(count);
                case GgufValueType.Float64: return Fill<double>(count);
                case GgufValueType.Bool:
                {
                    var raw = Fill<byte>(count);
                    var a = new bool[count];
                    for (int i = 0; i < count; i++) a[i] = raw[i] != 0;
                    return a;
                }
                default: throw Error($"key '{key}' has unknown array element type {(uint)et}");
            }
        }

        private T[] Fill<T>(int count) where T : unmanaged
        {
            int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            if (_length is { } len && (long)count * size > len - Position) throw Error($"array of {count} elements runs past the end of the file");
            var a = new T[count];
            var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan());
            _r.BaseStream.ReadExactly(bytes); // BinaryReader does not buffer ahead, so reading the base stream is safe
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("GGUF reading requires a little-endian machine");
            Position += bytes.Length;
            return a;
        }
    }
}
