namespace Granary.Tokenizers.PreTokenization;

/// <summary>HF <c>Metaspace</c> pre-tokenizer: spaces become ▁, a ▁ is prepended ("always", or "first" for the
/// start of the input only), then the text is split before each ▁.</summary>
internal sealed class MetaspacePreTokenizer(char replacement, string prependScheme, bool split) : PreTokenizer
{
    public override void Split(string text, bool isFirstSegment, List<string> output)
    {
        text = text.Replace(' ', replacement);
        bool needsPrefix = text.Length == 0 || text[0] != replacement;
        if (needsPrefix && (prependScheme == "always" || (prependScheme == "first" && isFirstSegment))) text = replacement + text;
        if (!split)
        {
            if (text.Length > 0) output.Add(text);
            return;
        }
        int start = 0;
        for (int i = 1; i < text.Length; i++)
        {
            if (text[i] == replacement)
            {
                output.Add(text[start..i]);
                start = i;
            }
        }
        if (start < text.Length) output.Add(text[start..]);
    }
}
