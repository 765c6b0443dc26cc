namespace Granary.Models.Checkpoints;

/// <summary>Counts the tensors of a <see cref="Checkpoint"/> read so far (each once, however many slices are copied) and reports it.</summary>
internal sealed class ReadTracker(IReadOnlyList<ITensorStore> files, IProgress<TensorProgress> progress)
{
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);
    private readonly int[] _readInFile = new int[files.Count];
    private readonly long _totalBytes = files.Sum(f => f.Tensors.Sum(t => t.ByteLength));
    private readonly Lock _lock = new();
    private long _doneBytes;
    private int _lastFile = -1;

    public void Read(ITensorStore file, SafetensorsTensor tensor)
    {
        TensorProgress report;
        lock (_lock)
        {
            if (!_read.Add(tensor.Name)) return;
            int index = IndexOf(file);
            _doneBytes += tensor.ByteLength;
            bool fileDone = ++_readInFile[index] == file.Tensors.Count;
            _lastFile = index;
            report = new TensorProgress(file.Path, index, files.Count, _doneBytes, _totalBytes, fileDone);
        }
        progress.Report(report);
    }

    /// <summary>
    /// Reading is over (the checkpoint closes): when some tensors were never read (a model that does not use them,
    /// a rank that holds only its share), reports what was read as the whole, so that a progress bar ends.
    /// </summary>
    public void Finish()
    {
        TensorProgress report;
        lock (_lock)
        {
            if (_lastFile < 0 || _doneBytes == _totalBytes) return;
            report = new TensorProgress(files[_lastFile].Path, _lastFile, files.Count, _doneBytes, _doneBytes, FileDone: true);
        }
        progress.Report(report);
    }

    private int IndexOf(ITensorStore file)
    {
        for (int i = 0; i < files.Count; i++)
            if (ReferenceEquals(files[i], file)) return i;
        throw new ArgumentException($"{file.Path} is not a file of this checkpoint", nameof(file));
    }
}
