using System.Text.RegularExpressions;

namespace Granary.Tokenizers.Normalization;

/// <summary>Replaces every occurrence of a string or regex (HF <c>Replace</c>).</summary>
internal sealed class ReplaceNormalizer : Normalizer
{
    private readonly string? _literal;
    private readonly Regex? _regex;
    private readonly string _content;

    public ReplaceNormalizer(string? literal, Regex? regex, string content)
    {
        _literal = literal;
        _regex = regex;
        _content = content;
    }

    public override string Normalize(string text) =>
        _literal is not null ? (_literal.Length == 0 ? text : text.Replace(_literal, _content, StringComparison.Ordinal))
        : _regex!.Replace(text, _content.Replace("$", "$$"));
}
