using Granary.Compute;
using Granary.Models.Checkpoints;

namespace Granary.Checkpoints.Tests;

/// <summary>What a progress bar is told while a safetensors file is written and while a checkpoint's tensors are read.</summary>
public class TensorProgressTests
{
    [Fact]
    public void WritingReportsEachTensorAndTheFileDone()
    {
        using var tmp = new TempDir();
        var progress = new Collected();
        string path = tmp.File("model.safetensors");
        Write(path, progress);
        Assert.Equal([(24L, false), (36L, false), (40L, true)], progress.Reports.Select(p => (p.DoneBytes, p.FileDone)));
        Assert.All(progress.Reports, p => Assert.Equal((path, 0, 1, 40L), (p.File, p.FileIndex, p.FileCount, p.TotalBytes)));
    }

    [Fact]
    public void ReadingCountsEachTensorOnceAndEndsWhenTheCheckpointCloses()
    {
        using var tmp = new TempDir();
        Write(tmp.File("model.safetensors"), null);
        var progress = new Collected();
        using (var checkpoint = Checkpoint.Open(tmp.Path))
        {
            checkpoint.ReportReads(progress);
            _ = checkpoint.Bytes("a");
            checkpoint.CopyRows("a", 0, 1, new byte[12]); // the same tensor again: not counted twice
            _ = checkpoint.Bytes("b");
            Assert.Equal([(24L, 40L, false), (36L, 40L, false)], progress.Reports.Select(p => (p.DoneBytes, p.TotalBytes, p.FileDone)));
        }
        // "c" was never read: closing reports what was read as the whole, so that a bar ends.
        Assert.Equal((36L, 36L, true), (progress.Reports[^1].DoneBytes, progress.Reports[^1].TotalBytes, progress.Reports[^1].FileDone));
        Assert.Equal(3, progress.Reports.Count);
    }

    private static void Write(string path, IProgress<TensorProgress>? progress) => new SafetensorsWriter()
        .Add("a", DType.F32, [2, 3], new byte[24])
        .Add("b", DType.F32, [3], new byte[12])
        .Add("c", DType.F32, [1], new byte[4])
        .Write(path, progress);

    /// <summary>Keeps every report, synchronously (<see cref="Progress{T}"/> would post them).</summary>
    private sealed class Collected : IProgress<TensorProgress>
    {
        public List<TensorProgress> Reports { get; } = [];

        public void Report(TensorProgress value) => Reports.Add(value);
    }
}
