namespace Granary.ChatTemplates.Tests;

/// <summary>Hostile or broken templates end in a ChatTemplateException, never a crash or a hang.</summary>
public class RobustnessTests
{
    [Fact]
    public void DeepExpressionNestingIsAnError() =>
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}"));

    [Fact]
    public void DeepUnaryNestingIsAnError() =>
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("{{ " + string.Concat(Enumerable.Repeat("not ", 5000)) + "x }}"));

    [Fact]
    public void DeepBlockNestingIsAnError() =>
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(string.Concat(Enumerable.Repeat("{% if x %}", 5000))));

    [Fact]
    public void InfiniteMacroRecursionIsAnError()
    {
        var t = ChatTemplate.Parse("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        var ex = Assert.Throws<ChatTemplateException>(() => t.Render([], false, null, null));
        Assert.Contains("recursion", ex.Message);
    }

    [Theory]
    [InlineData("{{")]
    [InlineData("{%")]
    [InlineData("{% if")]
    [InlineData("{{ 'abc")]
    [InlineData("{{ \"\\")]
    [InlineData("{{ x | }}")]
    [InlineData("{{ x[ }}")]
    [InlineData("{{ {1: }}")]
    [InlineData("{% for %}")]
    [InlineData("{% for x in y %}")]
    [InlineData("{% set x = %}")]
    [InlineData("{% macro %}")]
    [InlineData("{{ x @ y }}")]
    [InlineData("{% raw %}never closed")]
    public void TruncatedOrInvalidSourceIsASyntaxError(string source)
    {
        var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(source));
        Assert.NotNull(ex.Line);
        Assert.NotNull(ex.Column);
    }

    [Theory]
    [InlineData("{{ missing | int }}")]
    [InlineData("{{ 1 // 0 }}")]
    [InlineData("{{ none | tojson }}{{ missing | tojson }}")]
    [InlineData("{% for a, b in [1] %}{% endfor %}")]
    [InlineData("{{ 5() }}")]
    [InlineData("{{ 'x'.nosuch() }}")]
    [InlineData("{% set x.y = 1 %}")]
    [InlineData("{{ namespace(1) }}")]
    public void RuntimeFailuresAreChatTemplateExceptions(string source)
    {
        var t = ChatTemplate.Parse(source);
        Assert.Throws<ChatTemplateException>(() => t.Render([], false, null, null));
    }
}
