using System.IO.Compression;
using System.Text;

namespace Granary.Tokenizers.Tests;

/// <summary>Paths to reference data copied to the test output, and readers for llama.cpp's vocab test files.</summary>
internal static class TestData
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "data");

    public static string Path_(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>Reads X.gguf.inp/.out exactly as llama.cpp's test-tokenizer-0 does: inputs separated by
    /// "\n__ggml_vocab_test__\n" (the file's last separator ends the last input), outputs one stripped line each.</summary>
    public static List<(string Text, int[] Ids)> ReadVocabTests(string baseName)
    {
        string raw = File.ReadAllText(Path_("tokenizers", baseName + ".inp"), new UTF8Encoding(false));
        string[] outLines = File.ReadAllLines(Path_("tokenizers", baseName + ".out"));
        const string sep = "\n__ggml_vocab_test__\n";
        var inputs = new List<string>();
        int pos = 0;
        while (pos < raw.Length)
        {
            int next = raw.IndexOf(sep, pos, StringComparison.Ordinal);
            if (next < 0) { inputs.Add(raw[pos..]); break; }
            inputs.Add(raw[pos..next]);
            pos = next + sep.Length;
        }
        Assert.Equal(inputs.Count, outLines.Length);
        var tests = new List<(string, int[])>();
        for (int i = 0; i < inputs.Count; i++)
        {
            string o = outLines[i].Trim();
            int[] ids = o.Length == 0 ? [] : o.Split(' ').Select(int.Parse).ToArray();
            tests.Add((inputs[i], ids));
        }
        return tests;
    }

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
