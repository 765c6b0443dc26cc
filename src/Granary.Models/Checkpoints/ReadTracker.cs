namespace Granary.Models.Checkpoints;

/// <summary>Counts the tensors of a <see cref="Checkpoint"/> read so far (each once, however many slices are copied) and reports it.</summary>
internal sealed class ReadTracker(IReadOnlyList<SafetensorsFile> files, IProgress<TensorProgress> progress)
{
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);
    private readonly int[] _readInFile = new int[files.Count];
    private readonly long _totalBytes = files.Sum(f => f.Tensors.Sum(t => t.ByteLength));
    private readonly Lock _lock = new();
    private long _doneBytes;

    public void Read(SafetensorsFile file, SafetensorsTensor tensor)
    {
        TensorProgress report;
        lock (_lock)
        {
            if (!_read.Add(tensor.Name)) return;
            int index = IndexOf(file);
            _doneBytes += tensor.ByteLength;
            bool fileDone = ++_readInFile[index] == file.Tensors.Count;
            report = new TensorProgress(file.Path, index, files.Count, _doneBytes, _totalBytes, fileDone);
        }
        progress.Report(report);
    }

    private int IndexOf(SafetensorsFile file)
    {
        for (int i = 0; i < files.Count; i++)
            if (ReferenceEquals(files[i], file)) return i;
        throw new ArgumentException($"{file.Path} is not a file of this checkpoint", nameof(file));
    }
}
