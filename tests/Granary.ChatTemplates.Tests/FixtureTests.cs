using System.Text.Json;

namespace Granary.ChatTemplates.Tests;

/// <summary>The model fixtures' chat templates against the text transformers rendered (reference.json).</summary>
public class FixtureTests
{
    public static TheoryData<string> Fixtures() => new() { "llama-tiny", "llama3-tiny-bf16", "mixtral-tiny", "qwen2-tiny" };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void RendersLikeTransformers(string fixture)
    {
        string dir = Path.Combine(ReferenceData.DataDir, "fixtures", fixture);
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "reference.json")));
        var chat = reference.RootElement.GetProperty("chat");

        var loaded = ChatTemplate.FromModelDirectory(dir);

        Assert.NotNull(loaded);
        Assert.Equal(chat.GetProperty("text").GetString(), loaded.Render(ReferenceData.Messages(chat.GetProperty("messages")), addGenerationPrompt: true));
    }
}
