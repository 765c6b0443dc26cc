namespace Granary.Tokenizers.PreTokenization;

/// <summary>Applies pre-tokenizers in order, each to every piece of the previous one (HF <c>Sequence</c>;
/// also llama.cpp's list of regexes).</summary>
internal sealed class SequencePreTokenizer(IReadOnlyList<PreTokenizer> steps) : PreTokenizer
{
    public override bool IsByteLevel => steps.Any(s => s.IsByteLevel);

    public override void Split(string text, bool isFirstSegment, List<string> output)
    {
        var current = new List<string> { text };
        var next = new List<string>();
        foreach (var step in steps)
        {
            next.Clear();
            for (int i = 0; i < current.Count; i++) step.Split(current[i], isFirstSegment && i == 0, next);
            (current, next) = (next, current);
        }
        output.AddRange(current);
    }
}
