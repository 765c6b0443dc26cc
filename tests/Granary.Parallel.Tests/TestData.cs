using System.Text.Json;
using Granary.Tests.Shared;

namespace Granary.Parallel.Tests;

/// <summary>Paths of the reference fixtures copied next to the tests, stories15M and the granary CLI.</summary>
internal static class TestData
{
    public static string Root => TestPaths.Data;

    public static string Fixture(string name) => TestPaths.Fixture(name);

    /// <summary>A fixture name, or "stories15M" for the stories15M folder.</summary>
    public static string Model(string name) => name == "stories15M" ? Stories15M : Fixture(name);

    public static JsonElement Reference(string fixture) => JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixture(fixture), "reference.json"))).RootElement;

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>The fixture's reference prompts, or two fixed prompts for stories15M.</summary>
    public static int[][] Prompts(string name) => name == "stories15M"
        ? [[1, 9038, 2501, 263, 931], [1, 365, 2354, 750]]
        : Reference(name).GetProperty("prompts").EnumerateArray().Select(p => Ints(p.GetProperty("ids"))).ToArray();

    public static string Stories15M => TestPaths.Stories15M;

    public static string GranaryDll => TestPaths.GranaryDll;
}
