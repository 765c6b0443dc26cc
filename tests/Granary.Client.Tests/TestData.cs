using Granary.Tests.Shared;

namespace Granary.Client.Tests;

/// <summary>Where the stories15M weights, its llama2.c references, the fixtures and the granary CLI are.</summary>
internal static class TestData
{
    public static string Root => TestPaths.Data;

    public static string Fixture(string name) => TestPaths.Fixture(name);

    public static string GranaryDll => TestPaths.GranaryDll;

    public static string Stories15M => TestPaths.Stories15M;

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
