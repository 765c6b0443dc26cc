namespace Granary.Client.Tests;

/// <summary>Where the stories15M weights, its llama2.c references, the fixtures and the granary CLI are.</summary>
internal static class TestData
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "data");

    public static string Fixture(string name) => Path.Combine(Root, "fixtures", name);

    /// <summary>The granary CLI built next to the tests (the Silo project is referenced).</summary>
    public static string GranaryDll => Path.Combine(AppContext.BaseDirectory, "granary.dll");

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

    /// <summary>The prompt llama2.c was run with: BOS + "Once upon a time".</summary>
    public static readonly int[] StoryPromptIds = [1, 9038, 2501, 263, 931];

    public const string StoryPrompt = "Once upon a time";

    /// <summary>Tokens the reference story continues the prompt with (llama2.c, greedy).</summary>
    public const int StoryTokens = 60;

    /// <summary>llama2.c's greedy continuation of the prompt, 60 tokens (ref_greedy_text_llama2c.txt without the prompt).</summary>
    public static string StoryContinuation
    {
        get
        {
            string story = File.ReadAllText(Path.Combine(Root, "stories15M", "reference", "ref_greedy_text_llama2c.txt")).TrimEnd('\n');
            Assert.StartsWith(StoryPrompt, story);
            return story[StoryPrompt.Length..];
        }
    }
}
