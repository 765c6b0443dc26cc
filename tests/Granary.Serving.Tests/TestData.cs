namespace Granary.Serving.Tests;

/// <summary>Where the stories15M weights and the fixtures are.</summary>
internal static class TestData
{
    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "data", "fixtures", name);

    /// <summary>$GRANARY_STORIES15M, else models/stories15M at the repository root (scripts/test.sh fetches it).</summary>
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
}
