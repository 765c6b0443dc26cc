using Granary.Models.Llama2c;

namespace Granary.Checkpoints.Tests;

/// <summary>
/// The stories15M folder the tests look at, converted once per test class: freshly from the llama2.c originals when
/// they are at hand (so the converter itself is tested), else the fetched folder; null when neither is.
/// </summary>
public sealed class Stories15MFolder : IDisposable
{
    private readonly TempDir? _tmp;

    public string? Directory { get; }

    public Stories15MFolder()
    {
        if (Stories15M.Llama2cDirectory is { } src)
        {
            _tmp = new TempDir();
            Directory = Path.Combine(_tmp.Path, "stories15M");
            Llama2cConverter.Convert(Path.Combine(src, "stories15M.bin"), Path.Combine(src, "tokenizer.bin"), Directory);
        }
        else
            Directory = Stories15M.Directory;
    }

    public void Dispose() => _tmp?.Dispose();
}
