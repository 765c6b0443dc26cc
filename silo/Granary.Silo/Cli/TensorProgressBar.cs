using Granary.Models.Checkpoints;

namespace Granary.Silo.Cli;

/// <summary>Tensors loaded or written, on a <see cref="ProgressBar"/>: bytes over every file, and a line per file done.</summary>
internal sealed class TensorProgressBar(ProgressBar bar, string doneVerb) : IProgress<TensorProgress>
{
    public void Report(TensorProgress p)
    {
        string file = Path.GetFileName(p.File) + (p.FileCount > 1 ? $" ({p.FileIndex + 1}/{p.FileCount})" : "");
        string bytes = $"{p.DoneBytes / 1048576.0:F1}/{p.TotalBytes / 1048576.0:F1} MiB";
        bar.Report(p.DoneBytes, p.TotalBytes, p.FileDone ? $"{file} {doneVerb}, {bytes}" : $"{file} {bytes}", milestone: p.FileDone);
    }
}
