namespace Granary.Tokenizers;

/// <summary>Splits text into plain-text segments and added tokens: leftmost match first, the longest at a position.</summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    /// <summary>A piece of input: text (<see cref="TokenId"/> &lt; 0) or one added token.</summary>
    public readonly record struct Segment(int Start, int Length, int TokenId);

    public void Split(string text, bool parseSpecial, List<Segment> output)
    {
        int textStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            if (_byFirstChar.TryGetValue(text[i], out var candidates) && Match(text, i, candidates, parseSpecial) is { } tok)
            {
                int start = i, end = i + tok.Content.Length;
                if (tok.LStrip) while (start > textStart && char.IsWhiteSpace(text[start - 1])) start--;
                if (tok.RStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
                if (start > textStart) output.Add(new Segment(textStart, start - textStart, -1));
                output.Add(new Segment(start, end - start, tok.Id));
                textStart = i = end;
                continue;
            }
            i++;
        }
        if (textStart < text.Length) output.Add(new Segment(textStart, text.Length - textStart, -1));
    }

    private static AddedToken? Match(string text, int pos, AddedToken[] candidates, bool parseSpecial)
    {
        foreach (var t in candidates)
        {
            if (t.Special && !parseSpecial) continue;
            if (!text.AsSpan(pos).StartsWith(t.Content, StringComparison.Ordinal)) continue;
            if (t.SingleWord)
            {
                int end = pos + t.Content.Length;
                if ((pos > 0 && IsWordChar(text[pos - 1])) || (end < text.Length && IsWordChar(text[end]))) continue;
            }
            return t;
        }
        return null;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}
