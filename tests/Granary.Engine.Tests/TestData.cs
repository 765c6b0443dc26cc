using System.Text.Json;
using Granary.Tests.Shared;

namespace Granary.Engine.Tests;

/// <summary>Paths of the reference data copied next to the tests, and the stories15M weights when fetched.</summary>
internal static class TestData
{
    public static string Root => TestPaths.Data;

    public static string Fixture(string name) => TestPaths.Fixture(name);

    public static readonly string[] FixtureNames = ["llama-tiny", "qwen2-tiny", "llama3-tiny-bf16", "mixtral-tiny"];

    public static IEnumerable<object[]> Fixtures => FixtureNames.Select(n => new object[] { n });

    public static JsonElement Reference(string fixture) => JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixture(fixture), "reference.json"))).RootElement;

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    public static float[] Floats(JsonElement array) => array.EnumerateArray().Select(e => e.GetSingle()).ToArray();

    public static string Stories15M => TestPaths.Stories15M;

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
