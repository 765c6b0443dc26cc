using System.Text;

namespace Granary.Tests.Shared;

/// <summary>llama.cpp's tokenizer test vectors (X.gguf.inp / X.gguf.out), shared by the test projects that check them.</summary>
internal static class LlamaCppVocabTests
{
    /// <summary>
    /// Reads the vectors exactly as llama.cpp's test-tokenizer-0 does: inputs separated by
    /// "\n__ggml_vocab_test__\n" (the file's last separator ends the last input), outputs one stripped line each.
    /// </summary>
    public static List<(string Text, int[] Ids)> Read(string directory, string baseName)
    {
        string raw = File.ReadAllText(Path.Combine(directory, baseName + ".inp"), new UTF8Encoding(false));
        string[] outLines = File.ReadAllLines(Path.Combine(directory, baseName + ".out"));
        const string separator = "\n__ggml_vocab_test__\n";
        var inputs = new List<string>();
        int pos = 0;
        while (pos < raw.Length)
        {
            int next = raw.IndexOf(separator, pos, StringComparison.Ordinal);
            if (next < 0) { inputs.Add(raw[pos..]); break; }
            inputs.Add(raw[pos..next]);
            pos = next + separator.Length;
        }
        if (inputs.Count != outLines.Length) throw new InvalidDataException($"{baseName}: {inputs.Count} inputs but {outLines.Length} expected outputs");
        var tests = new List<(string, int[])>();
        for (int i = 0; i < inputs.Count; i++)
        {
            string o = outLines[i].Trim();
            tests.Add((inputs[i], o.Length == 0 ? [] : o.Split(' ').Select(int.Parse).ToArray()));
        }
        return tests;
    }
}
