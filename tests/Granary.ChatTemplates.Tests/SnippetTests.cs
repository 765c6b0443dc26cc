using System.Text.Json;

namespace Granary.ChatTemplates.Tests;

/// <summary>Single language features and syntax errors against Jinja2 (expected.json "snippets").</summary>
public class SnippetTests
{
    public static TheoryData<int, string> Snippets()
    {
        var data = new TheoryData<int, string>();
        int i = 0;
        foreach (var s in ReferenceData.Snippets.EnumerateArray()) data.Add(i++, s.GetProperty("template").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void MatchesJinja2(int index, string source)
    {
        var s = ReferenceData.Snippets[index];
        var vars = ReferenceData.Variables(s.GetProperty("variables"));
        var error = s.GetProperty("error");

        if (error.ValueKind == JsonValueKind.Null)
        {
            Assert.Equal(s.GetProperty("expected").GetString(), ChatTemplate.Parse(source).Render([], false, null, null, vars));
            return;
        }
        string type = error.GetProperty("type").GetString()!;
        if (type is "TemplateSyntaxError" or "TemplateAssertionError")
        {
            var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(source));
            Assert.Equal(error.GetProperty("lineno").GetInt32(), ex.Line);
            Assert.NotNull(ex.Column);
            Assert.Contains($"line {ex.Line}, column {ex.Column}", ex.Message);
        }
        else
        {
            var template = ChatTemplate.Parse(source);
            var ex = Assert.Throws<ChatTemplateException>(() => template.Render([], false, null, null, vars));
            Assert.Equal(error.GetProperty("message").GetString(), ex.Message);
        }
    }
}
