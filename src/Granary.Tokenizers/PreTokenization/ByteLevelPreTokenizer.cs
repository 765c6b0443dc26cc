using System.Text.RegularExpressions;

namespace Granary.Tokenizers.PreTokenization;

/// <summary>HF <c>ByteLevel</c> pre-tokenizer: optional prefix space, optional GPT-2 regex split; the model maps
/// the bytes of each piece through the GPT-2 alphabet.</summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    private static readonly RegexSplitPreTokenizer s_gpt2 = new(PreTokenizerPatterns.Compile(PreTokenizerPatterns.Gpt2WithTrailingSpace), SplitBehavior.Isolated, false);

    public override bool IsByteLevel => true;

    public override void Split(string text, bool isFirstSegment, List<string> output)
    {
        if (addPrefixSpace && text.Length > 0 && text[0] != ' ') text = " " + text;
        if (useRegex) s_gpt2.Split(text, isFirstSegment, output);
        else if (text.Length > 0) output.Add(text);
    }
}
