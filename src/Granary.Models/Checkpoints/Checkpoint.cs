using System.Text.Json;
using Granary.Compute;

namespace Granary.Models.Checkpoints;

/// <summary>
/// The weights of a Hugging Face checkpoint folder: <c>model.safetensors</c>, or the shards listed by
/// <c>model.safetensors.index.json</c>, or else every <c>*.safetensors</c> file of the folder. Files are
/// memory-mapped; only the bytes a caller reads are paged in, so a tensor-parallel rank that copies its
/// slices does not read the whole model. A Llama-family GGUF file opens too (<see cref="GgufCheckpoint"/>), its
/// tensors under their Hugging Face names and in their layout. FP8 (F8_E4M3) weights read with their scale tensors
/// (<see cref="Fp8Scale"/>): as <see cref="DType.F8E4M3"/> in the <see cref="Granary.Compute.Fp8.Fp8Weights"/> layout,
/// or as float32 when their scales are per block; the scale tensors stay readable by name.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    /// <summary>Name of the single-file weights.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>Name of the shard index (<c>{"weight_map": {tensor: shard file}}</c>).</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<ITensorStore> _files;
    private readonly Dictionary<string, (ITensorStore File, SafetensorsTensor Tensor)> _tensors;
    private readonly Dictionary<string, Fp8Scale> _fp8;

    /// <summary>The checkpoint folder.</summary>
    public string Directory { get; }

    /// <summary>The safetensors files opened, in the order they were opened.</summary>
    public IReadOnlyList<string> Files => _files.Select(f => f.Path).ToList();

    private ReadTracker? _tracker;

    /// <summary>From now on, tells <paramref name="progress"/> of each tensor the first time it is read (a model loading); null stops it.</summary>
    public void ReportReads(IProgress<TensorProgress>? progress) => _tracker = progress is null ? null : new ReadTracker(_files, progress);

    /// <summary>Names of every tensor of the checkpoint, FP8 weights' scale tensors included.</summary>
    public IReadOnlyCollection<string> TensorNames => _tensors.Keys;

    private Checkpoint(string directory, List<ITensorStore> files, Dictionary<string, (ITensorStore, SafetensorsTensor)> tensors)
    {
        Directory = directory;
        _files = files;
        _tensors = tensors;
        _fp8 = Fp8Scale.Find(tensors, directory);
    }

    /// <summary>
    /// Opens the weights of a checkpoint folder. Errors name the folder or the file at fault: no weights found,
    /// a shard listed in the index that is missing or lacks the tensors the index places in it, a tensor present
    /// in two files, or any error of <see cref="SafetensorsFile.Open"/>.
    /// </summary>
    public static Checkpoint Open(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (GgufCheckpoint.IsGguf(directory))
        {
            var gguf = GgufCheckpoint.Open(directory);
            var store = new List<ITensorStore>();
            var entries = new Dictionary<string, (ITensorStore, SafetensorsTensor)>(StringComparer.Ordinal);
            AddFile(gguf, store, entries);
            return new Checkpoint(directory, store, entries);
        }
        if (!System.IO.Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{directory}: checkpoint folder not found");

        string index = Path.Combine(directory, IndexFileName);
        string single = Path.Combine(directory, SingleFileName);
        var files = new List<ITensorStore>();
        var tensors = new Dictionary<string, (ITensorStore, SafetensorsTensor)>(StringComparer.Ordinal);
        try
        {
            if (File.Exists(index))
                OpenSharded(directory, index, files, tensors);
            else if (File.Exists(single))
                AddFile(SafetensorsFile.Open(single), files, tensors);
            else
            {
                var all = System.IO.Directory.GetFiles(directory, "*.safetensors").Order(StringComparer.Ordinal).ToList();
                if (all.Count == 0)
                    throw new FileNotFoundException(
                        $"{directory}: no weights found (expected {SingleFileName}, {IndexFileName} or *.safetensors files)");
                foreach (string f in all) AddFile(SafetensorsFile.Open(f), files, tensors);
            }
            return new Checkpoint(directory, files, tensors);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    private static void OpenSharded(string directory, string indexPath, List<ITensorStore> files,
        Dictionary<string, (ITensorStore, SafetensorsTensor)> tensors)
    {
        using var doc = JsonFields.ParseFile(indexPath);
        var root = JsonFields.RootObject(doc, indexPath);
        var weightMap = JsonFields.OptionalObject(root, "weight_map", indexPath) ?? throw JsonFields.Missing(indexPath, "weight_map");

        // Shard file -> tensors the index places in it, shards in the order first listed.
        var byShard = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var entry in weightMap.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw JsonFields.WrongType(indexPath, $"weight_map.{entry.Name}", "a file name", entry.Value);
            string shard = entry.Value.GetString()!;
            if (shard.Length == 0 || Path.IsPathRooted(shard) || shard.Split('/', '\\').Contains(".."))
                throw new InvalidDataException($"{indexPath}: tensor '{entry.Name}' is mapped to an invalid file name '{shard}'");
            if (!byShard.TryGetValue(shard, out var list)) byShard[shard] = list = [];
            list.Add(entry.Name);
        }
        if (byShard.Count == 0)
            throw new InvalidDataException($"{indexPath}: 'weight_map' lists no tensors");

        foreach (var (shard, names) in byShard)
        {
            string shardPath = Path.Combine(directory, shard);
            if (!File.Exists(shardPath))
                throw new FileNotFoundException(
                    $"{indexPath}: shard '{shard}' (holding tensor '{names[0]}' and {names.Count - 1} more) is missing from {directory}", shardPath);
            var file = SafetensorsFile.Open(shardPath);
            AddFile(file, files, tensors);
            foreach (string name in names)
                if (!file.Contains(name))
                    throw new InvalidDataException($"{shardPath}: tensor '{name}' is listed in {IndexFileName} for this shard but the file does not contain it");
        }
    }

    private static void AddFile(ITensorStore file, List<ITensorStore> files, Dictionary<string, (ITensorStore, SafetensorsTensor)> tensors)
    {
        files.Add(file);
        foreach (var t in file.Tensors)
        {
            if (tensors.TryGetValue(t.Name, out var other))
                throw new InvalidDataException($"{file.Path}: tensor '{t.Name}' is also in {other.Item1.Path}");
            tensors.Add(t.Name, (file, t));
        }
    }

    /// <summary>Whether <paramref name="path"/> is a GGUF file (by its extension) rather than a checkpoint folder.</summary>
    public static bool IsGguf(string path) => GgufCheckpoint.IsGguf(path);

    /// <summary>Whether the checkpoint has a tensor of that name.</summary>
    public bool Contains(string tensorName) => _tensors.ContainsKey(tensorName);

    /// <summary>
    /// Name, dtype, shape and file of a tensor; <see cref="InvalidDataException"/> naming the folder when absent. An FP8
    /// weight's dtype is the one it reads as: F8E4M3 with per-tensor or per-channel scales, F32 with block scales.
    /// </summary>
    public TensorInfo Info(string tensorName)
    {
        var (file, t) = Lookup(tensorName);
        var dtype = _fp8.TryGetValue(tensorName, out var fp8) ? fp8.ReadType : t.DType;
        return new TensorInfo(t.Name, dtype, (long[])t.Shape.Clone(), file.Path);
    }

    /// <summary>
    /// Validated access: the tensor must exist and have exactly <paramref name="expectedShape"/>. Throws
    /// InvalidDataException("&lt;file&gt;: tensor '&lt;name&gt;' has shape [a, b], expected [c, d]") or
    /// ("&lt;dir&gt;: missing tensor '&lt;name&gt;'").
    /// </summary>
    public TensorInfo Require(string tensorName, params long[] expectedShape)
    {
        var info = Info(tensorName);
        if (!info.Shape.AsSpan().SequenceEqual(expectedShape))
            throw new InvalidDataException(
                $"{info.File}: tensor '{tensorName}' has shape {ShapeMath.Format(info.Shape)}, expected {ShapeMath.Format(expectedShape)}");
        return info;
    }

    /// <summary>
    /// Raw bytes of a whole tensor, straight from the memory mapping (no copy); valid until the checkpoint is
    /// disposed. Tensors over 2 GiB do not fit a span: read them with <see cref="CopyRows"/>. An FP8 weight's bytes are its
    /// codes alone, without its scales.
    /// </summary>
    public unsafe ReadOnlySpan<byte> Bytes(string tensorName)
    {
        var (file, t) = Lookup(tensorName);
        _tracker?.Read(file, t);
        if (t.ByteLength > int.MaxValue) throw new NotSupportedException($"{file.Path}: tensor '{t.Name}' is {t.ByteLength} bytes, too large for one span; read it in slices");
        return file.Bytes(t, 0, (int)t.ByteLength);
    }

    /// <summary>
    /// Copies rows [rowStart, rowStart + rowCount) of a tensor into <paramref name="dest"/>, a row being one index
    /// of dimension 0 (one element of a 1-D tensor; a whole output feature of a 2-D weight): the slice a
    /// tensor-parallel rank holds of a weight split by output features. <paramref name="dest"/> must be exactly
    /// rowCount * (bytes per row) long. Only the bytes of those rows are read. An FP8 weight of K columns with per-tensor or
    /// per-channel scales gives the rows' codes then their scales (Fp8Weights.ByteCount(rowCount, K) bytes); one with block
    /// scales, its rows dequantized to float32.
    /// </summary>
    public void CopyRows(string tensorName, long rowStart, long rowCount, Span<byte> dest)
    {
        var (file, t) = Lookup(tensorName);
        if (t.Shape.Length == 0)
            throw new ArgumentException($"{file.Path}: tensor '{tensorName}' is a scalar and has no rows", nameof(tensorName));
        long rows = t.Shape[0];
        CheckRange(file, t, "rows", rowStart, rowCount, rows);
        if (_fp8.TryGetValue(tensorName, out var fp8))
        {
            CheckDest(file, t, fp8.ByteCount(rowCount, t.Shape[1]), dest);
            TrackFp8(file, t, fp8);
            fp8.CopyRows(file, t, rowStart, rowCount, dest);
            return;
        }
        long rowBytes = t.DType.ByteCount(ShapeMath.ElementCount(t.Shape.AsSpan(1)));
        CheckDest(file, t, rowCount * rowBytes, dest);
        _tracker?.Read(file, t);
        if (dest.Length == 0) return;
        file.Bytes(t, rowStart * rowBytes, dest.Length).CopyTo(dest);
    }

    /// <summary>
    /// Copies columns [colStart, colStart + colCount) of every row of a 2-D tensor into <paramref name="dest"/>
    /// (row-major, [rows, colCount]): the slice a tensor-parallel rank holds of a weight split by input features.
    /// <paramref name="dest"/> must be exactly rows * colCount * (element size) long. Only those bytes are read. An FP8
    /// weight of N rows gives those columns' codes of every row then every row's scale (Fp8Weights.ByteCount(N, colCount)
    /// bytes), or with block scales the columns dequantized to float32.
    /// </summary>
    public void CopyColumns(string tensorName, long colStart, long colCount, Span<byte> dest)
    {
        var (file, t) = Lookup(tensorName);
        if (t.Shape.Length != 2)
            throw new ArgumentException(
                $"{file.Path}: tensor '{tensorName}' has shape {ShapeMath.Format(t.Shape)}; column slices need a 2-D tensor", nameof(tensorName));
        long rows = t.Shape[0], cols = t.Shape[1];
        CheckRange(file, t, "columns", colStart, colCount, cols);
        if (_fp8.TryGetValue(tensorName, out var fp8))
        {
            CheckDest(file, t, fp8.ByteCount(rows, colCount), dest);
            TrackFp8(file, t, fp8);
            fp8.CopyColumns(file, t, colStart, colCount, dest);
            return;
        }
        if (colStart % t.DType.BlockLength() != 0 || colCount % t.DType.BlockLength() != 0)
            throw new NotSupportedException($"{file.Path}: columns [{colStart}, {colStart + colCount}) of {t.DType} tensor '{tensorName}' do not fall on its blocks of {t.DType.BlockLength()}");
        long sliceBytes = t.DType.ByteCount(colCount);
        CheckDest(file, t, rows * sliceBytes, dest);
        _tracker?.Read(file, t);
        if (dest.Length == 0) return;
        long rowBytes = t.DType.ByteCount(cols), startBytes = t.DType.ByteCount(colStart);
        for (long r = 0; r < rows; r++)
            file.Bytes(t, r * rowBytes + startBytes, (int)sliceBytes).CopyTo(dest.Slice((int)(r * sliceBytes), (int)sliceBytes));
    }

    /// <summary>An FP8 weight's read counts its scale tensor as read too.</summary>
    private void TrackFp8(ITensorStore file, SafetensorsTensor weight, Fp8Scale fp8)
    {
        _tracker?.Read(file, weight);
        _tracker?.Read(fp8.File, fp8.Tensor);
    }

    private static void CheckRange(ITensorStore file, SafetensorsTensor t, string what, long start, long count, long total)
    {
        if (start < 0 || count < 0 || start > total - count)
            throw new ArgumentOutOfRangeException(nameof(start),
                $"{file.Path}: {what} [{start}, {start + count}) are outside tensor '{t.Name}' of shape {ShapeMath.Format(t.Shape)}");
    }

    private static void CheckDest(ITensorStore file, SafetensorsTensor t, long needed, Span<byte> dest)
    {
        if (dest.Length != needed)
            throw new ArgumentException(
                $"{file.Path}: slice of tensor '{t.Name}' is {needed} bytes, destination is {dest.Length}", nameof(dest));
    }

    private (ITensorStore File, SafetensorsTensor Tensor) Lookup(string tensorName)
    {
        ArgumentNullException.ThrowIfNull(tensorName);
        return _tensors.TryGetValue(tensorName, out var entry)
            ? entry
            : throw new InvalidDataException($"{Directory}: missing tensor '{tensorName}'");
    }

    /// <summary>Unmaps every file (and ends the progress reports); spans obtained earlier must no longer be used.</summary>
    public void Dispose()
    {
        _tracker?.Finish();
        foreach (var f in _files) f.Dispose();
    }
}
