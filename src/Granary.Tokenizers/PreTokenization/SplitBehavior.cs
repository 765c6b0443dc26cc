namespace Granary.Tokenizers.PreTokenization;

/// <summary>What happens to the matched delimiter of a split (HF <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior
{
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}
