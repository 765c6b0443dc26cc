using System.Text.RegularExpressions;

namespace Granary.Tokenizers.PreTokenization;

/// <summary>
/// Splits on the matches of a regex (HF <c>Split</c>; one regex of llama.cpp's pre-tokenizer lists, which keep
/// both matches and the text between them, i.e. <see cref="SplitBehavior.Isolated"/>). Matching is confined to the
/// piece: look-arounds and anchors do not see neighbouring pieces, as in both reference implementations.
/// </summary>
internal sealed class RegexSplitPreTokenizer(Regex regex, SplitBehavior behavior, bool invert) : PreTokenizer
{
    public override void Split(string text, bool isFirstSegment, List<string> output)
    {
        if (text.Length == 0) return;
        // Pieces as (start, length, isDelimiter), covering the text.
        var pieces = new List<(int Start, int Length, bool Delim)>();
        int pos = 0;
        foreach (var m in regex.EnumerateMatches(text.AsSpan()))
        {
            if (m.Length == 0) continue;
            if (m.Index > pos) pieces.Add((pos, m.Index - pos, invert));
            pieces.Add((m.Index, m.Length, !invert));
            pos = m.Index + m.Length;
        }
        if (pos < text.Length) pieces.Add((pos, text.Length - pos, invert));

        switch (behavior)
        {
            case SplitBehavior.Isolated:
                foreach (var p in pieces) output.Add(text.Substring(p.Start, p.Length));
                break;
            case SplitBehavior.Removed:
                foreach (var p in pieces) if (!p.Delim) output.Add(text.Substring(p.Start, p.Length));
                break;
            case SplitBehavior.MergedWithPrevious:
            {
                int start = 0;
                for (int i = 0; i < pieces.Count; i++)
                {
                    bool cutAfter = pieces[i].Delim || i + 1 == pieces.Count || pieces[i + 1].Delim == false;
                    int end = pieces[i].Start + pieces[i].Length;
                    if (cutAfter) { output.Add(text[start..end]); start = end; }
                }
                break;
            }
            case SplitBehavior.MergedWithNext:
            {
                int start = 0;
                for (int i = 0; i < pieces.Count; i++)
                {
                    int end = pieces[i].Start + pieces[i].Length;
                    bool cutAfter = i + 1 == pieces.Count || pieces[i + 1].Delim;
                    if (cutAfter) { output.Add(text[start..end]); start = end; }
                }
                break;
            }
            case SplitBehavior.Contiguous:
            {
                int start = 0;
                for (int i = 0; i < pieces.Count; i++)
                {
                    int end = pieces[i].Start + pieces[i].Length;
                    bool cutAfter = i + 1 == pieces.Count || !(pieces[i].Delim && pieces[i + 1].Delim);
                    if (cutAfter) { output.Add(text[start..end]); start = end; }
                }
                break;
            }
        }
    }
}
