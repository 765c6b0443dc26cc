using System.IO.Compression;
using System.Text;

namespace Granary.Tokenizers.Tests;

/// <summary>Paths to reference data copied to the test output, and readers for llama.cpp's vocab test files.</summary>
internal static class TestData
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "data");

    public static string Path_(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>llama.cpp's vectors for tests/data/tokenizers/NAME.gguf.</summary>
    public static List<(string Text, int[] Ids)> ReadVocabTests(string baseName) => Granary.Tests.Shared.LlamaCppVocabTests.Read(Path_("tokenizers"), baseName);

    private static readonly Dictionary<string, ITokenizer> s_gguf = new();

    /// <summary>Loads tests/data/tokenizers/NAME.gguf.gz (cached across tests).</summary>
    public static ITokenizer Gguf(string baseName)
    {
        lock (s_gguf)
        {
            if (s_gguf.TryGetValue(baseName, out var t)) return t;
            using var fs = File.OpenRead(Path_("tokenizers", baseName + ".gz"));
            using var gz = new GZipStream(fs, CompressionMode.Decompress);
            t = TokenizerLoader.FromGguf(gz);
            s_gguf[baseName] = t;
            return t;
        }
    }

    public static string Show(IEnumerable<int> ids) => "[" + string.Join(", ", ids) + "]";
}
