using System.Text.Json;

namespace Granary.Engine.Tests;

/// <summary>Paths of the reference data copied next to the tests, and the stories15M weights when fetched.</summary>
internal static class TestData
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "data");

    public static string Fixture(string name) => Path.Combine(Root, "fixtures", name);

    public static readonly string[] FixtureNames = ["llama-tiny", "qwen2-tiny", "llama3-tiny-bf16", "mixtral-tiny"];

    public static IEnumerable<object[]> Fixtures => FixtureNames.Select(n => new object[] { n });

    public static JsonElement Reference(string fixture) => JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixture(fixture), "reference.json"))).RootElement;

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    public static float[] Floats(JsonElement array) => array.EnumerateArray().Select(e => e.GetSingle()).ToArray();

    /// <summary>
    /// The stories15M folder made by scripts/fetch-stories15m.sh: $GRANARY_STORIES15M, else models/stories15M
    /// at the repository root. The test command fetches it first, so a missing folder fails the test.
    /// </summary>
    public static string Stories15M
    {
        get
        {
            string? fromEnv = Environment.GetEnvironmentVariable("GRANARY_STORIES15M");
            if (!string.IsNullOrEmpty(fromEnv)) return fromEnv;
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Granary.slnx"))) dir = dir.Parent;
            string path = Path.Combine(dir?.FullName ?? ".", "models", "stories15M");
            Assert.True(File.Exists(Path.Combine(path, "config.json")), $"stories15M not found at {path}: run scripts/fetch-stories15m.sh {path} (the test command does)");
            return path;
        }
    }

    public static float[] LogSoftmax(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        double z = max + Math.Log(sum);
        var result = new float[logits.Length];
        for (int i = 0; i < logits.Length; i++) result[i] = (float)(logits[i] - z);
        return result;
    }
}
