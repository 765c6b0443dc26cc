using System.Text.Json;

namespace Granary.ChatTemplates.Tests;

/// <summary>
/// Real models' chat templates (tests/data/chat_templates/*.jinja) against the output of the real Jinja2 with
/// transformers' settings, recorded by make_expected.py in expected.json.
/// </summary>
public class RealTemplateTests
{
    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in ReferenceData.Cases.EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    private static readonly Dictionary<string, ChatTemplate> Parsed = new();

    private static ChatTemplate Load(string file)
    {
        lock (Parsed)
        {
            if (!Parsed.TryGetValue(file, out var t))
                Parsed[file] = t = ChatTemplate.Parse(File.ReadAllText(Path.Combine(ReferenceData.ChatTemplatesDir, file)));
            return t;
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesJinja2(string name)
    {
        var c = ReferenceData.Cases.EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var template = Load(c.GetProperty("template").GetString()!);
        var messages = ReferenceData.Messages(c.GetProperty("messages"));
        var extra = ReferenceData.Variables(c.GetProperty("extra"));
        bool agp = c.GetProperty("add_generation_prompt").GetBoolean();
        string? bos = ReferenceData.StringOrNull(c.GetProperty("bos_token"));
        string? eos = ReferenceData.StringOrNull(c.GetProperty("eos_token"));

        string Render() => template.Render(messages, agp, bos, eos, extra, FixedTimeProvider.Instance);

        var error = c.GetProperty("error");
        if (error.ValueKind == JsonValueKind.Null)
        {
            Assert.Equal(c.GetProperty("expected").GetString(), Render());
        }
        else
        {
            var ex = Assert.Throws<ChatTemplateException>(Render);
            Assert.Equal(error.GetProperty("message").GetString(), ex.Message);
        }
    }

    [Fact]
    public void CoversEveryTemplateFile()
    {
        var files = Directory.GetFiles(ReferenceData.ChatTemplatesDir, "*.jinja").Select(Path.GetFileName).Order().ToList();
        var used = ReferenceData.Cases.EnumerateArray().Select(c => c.GetProperty("template").GetString()).Distinct().Order().ToList();
        Assert.True(files.Count >= 14, $"expected at least 14 templates, found {files.Count}");
        Assert.Equal(files, used);
    }
}
