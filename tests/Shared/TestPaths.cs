namespace Granary.Tests.Shared;

/// <summary>Where every test project finds the reference data, the stories15M weights and the granary CLI.</summary>
internal static class TestPaths
{
    /// <summary>tests/data, copied next to the test assembly.</summary>
    public static string Data => Path.Combine(AppContext.BaseDirectory, "data");

    public static string Fixture(string name) => Path.Combine(Data, "fixtures", name);

    /// <summary>The granary CLI built next to the tests (projects that run it reference the Silo project).</summary>
    public static string GranaryDll => Path.Combine(AppContext.BaseDirectory, "granary.dll");

    /// <summary>The repository the tests were built from (the folder with Granary.slnx above the test assembly).</summary>
    public static string Repository
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Granary.slnx"))) dir = dir.Parent;
            return dir?.FullName ?? ".";
        }
    }

    /// <summary>$GRANARY_STORIES15M, else models/stories15M at the repository root (scripts/test.sh fetches it).</summary>
    public static string Stories15M
    {
        get
        {
            string? fromEnv = Environment.GetEnvironmentVariable("GRANARY_STORIES15M");
            if (!string.IsNullOrEmpty(fromEnv)) return fromEnv;
            string path = Path.Combine(Repository, "models", "stories15M");
            Assert.True(File.Exists(Path.Combine(path, "config.json")), $"stories15M not found at {path}: run scripts/fetch-stories15m.sh {path} (the test command does)");
            return path;
        }
    }
}
