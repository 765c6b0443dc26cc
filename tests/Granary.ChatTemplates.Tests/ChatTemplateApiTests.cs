using System.Text.Json;

namespace Granary.ChatTemplates.Tests;

/// <summary>Render's variables, error reporting and the clock behind strftime_now.</summary>
public class ChatTemplateApiTests
{
    private static readonly ChatMessage[] Conversation = [new("system", "sys"), new("user", "hi")];

    [Fact]
    public void ExposesMessagesAndTokensLikeTransformers()
    {
        var t = ChatTemplate.Parse("{{ messages | length }} {{ messages[1].role }}={{ messages[1]['content'] }} {{ bos_token }}{{ eos_token }} {{ add_generation_prompt }} {{ tools }} {{ documents is none }}");

        Assert.Equal("2 user=hi <s></s> False None True", t.Render(Conversation, false, "<s>", "</s>"));
    }

    [Fact]
    public void NullTokensAreUndefined()
    {
        var t = ChatTemplate.Parse("[{{ bos_token }}]{{ eos_token is defined }}");
        Assert.Equal("[]False", t.Render(Conversation, false, null, null));
    }

    [Fact]
    public void ExtraVariablesAcceptDotNetValues()
    {
        var t = ChatTemplate.Parse("{{ n + 1 }} {{ f }} {{ flag }} {{ list | join(',') }} {{ d.k }} {{ json.a[1] }} {{ tools | length }}");
        var extra = new Dictionary<string, object?>
        {
            ["n"] = 41,
            ["f"] = 2.5f,
            ["flag"] = true,
            ["list"] = new[] { "a", "b" },
            ["d"] = new Dictionary<string, object?> { ["k"] = "v" },
            ["json"] = JsonDocument.Parse("""{"a": [1, 2.0]}""").RootElement,
            ["tools"] = new List<object?> { new Dictionary<string, object?> { ["type"] = "function" } },
        };

        Assert.Equal("42 2.5 True a,b v 2.0 1", t.Render(Conversation, false, null, null, extra));
    }

    [Fact]
    public void UnsupportedExtraVariableTypeIsAnArgumentError()
    {
        var t = ChatTemplate.Parse("{{ x }}");
        Assert.Throws<ArgumentException>(() => t.Render(Conversation, false, null, null, new Dictionary<string, object?> { ["x"] = new Uri("http://x") }));
    }

    [Fact]
    public void RaiseExceptionKeepsTheMessageAndPosition()
    {
        var t = ChatTemplate.Parse("ok\n  {{ raise_exception('Conversation roles must alternate') }}");
        var ex = Assert.Throws<ChatTemplateException>(() => t.Render(Conversation, false, null, null));
        Assert.Equal("Conversation roles must alternate", ex.Message);
        Assert.Equal(2, ex.Line);
    }

    [Fact]
    public void SyntaxErrorHasLineAndColumn()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("a\nbb {{ x + }}"));
        Assert.Equal(2, ex.Line);
        Assert.Equal(11, ex.Column);
        Assert.Contains("(line 2, column 11)", ex.Message);
    }

    [Fact]
    public void StrftimeNowReadsTheGivenClock()
    {
        var t = ChatTemplate.Parse("{{ strftime_now('%d %b %Y %H:%M:%S %A %B %-d %j %p') }}");
        Assert.Equal("09 Mar 2025 14:05:07 Sunday March 9 068 PM", t.Render(Conversation, false, null, null, null, FixedTimeProvider.Instance));
    }

    [Fact]
    public void StrftimeNowDefaultsToTheSystemClock()
    {
        var t = ChatTemplate.Parse("{{ strftime_now('%Y') }}");
        string year = t.Render(Conversation, false, null, null);
        Assert.InRange(int.Parse(year), DateTime.Now.Year - 1, DateTime.Now.Year + 1);
    }

    [Fact]
    public void RendersConcurrently()
    {
        var t = ChatTemplate.Parse("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}");
        var results = new string[64];
        Parallel.For(0, results.Length, i =>
            results[i] = t.Render(Enumerable.Repeat(new ChatMessage("user", "x"), i).ToList(), false, null, null));
        for (int i = 0; i < results.Length; i++) Assert.Equal(i.ToString(), results[i]);
    }

    [Fact]
    public void CrLfSourceIsNormalized()
    {
        var t = ChatTemplate.Parse("{% if true %}\r\nA\r\n{% endif %}\r\n");
        Assert.Equal("A\n", t.Render(Conversation, false, null, null));
    }
}
