using System.Text.Json;

namespace Granary.Parallel.Tests;

/// <summary>Paths of the reference fixtures copied next to the tests, stories15M and the granary CLI.</summary>
internal static class TestData
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "data");

    public static string Fixture(string name) => Path.Combine(Root, "fixtures", name);

    /// <summary>A fixture name, or "stories15M" for the stories15M folder.</summary>
    public static string Model(string name) => name == "stories15M" ? Stories15M : Fixture(name);

    public static JsonElement Reference(string fixture) => JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixture(fixture), "reference.json"))).RootElement;

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>The fixture's reference prompts, or two fixed prompts for stories15M.</summary>
    public static int[][] Prompts(string name) => name == "stories15M"
        ? [[1, 9038, 2501, 263, 931], [1, 365, 2354, 750]]
        : Reference(name).GetProperty("prompts").EnumerateArray().Select(p => Ints(p.GetProperty("ids"))).ToArray();

    /// <summary>$GRANARY_STORIES15M, else models/stories15M at the repository root.</summary>
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

    /// <summary>The granary CLI built next to the tests (the Silo project is referenced).</summary>
    public static string GranaryDll => Path.Combine(AppContext.BaseDirectory, "granary.dll");
}
