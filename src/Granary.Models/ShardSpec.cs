namespace Granary.Models;

/// <summary>
/// Which part of a model one rank holds: its tensor-parallel slice (rank <see cref="TpRank"/> of
/// <see cref="TpSize"/>) of the decoder layers [<see cref="FirstLayer"/>, <see cref="EndLayer"/>) of its
/// pipeline stage (<see cref="PpRank"/> of <see cref="PpSize"/>). The first stage also holds the
/// embedding, the last the final norm and LM head.
/// </summary>
public sealed record ShardSpec(int TpRank, int TpSize, int FirstLayer, int EndLayer, bool IsFirstStage, bool IsLastStage, int PpRank = 0, int PpSize = 1)
{
    /// <summary>The whole model on one rank.</summary>
    public static ShardSpec Whole(int layers) => new(0, 1, 0, layers, true, true);

    public int LayerCount => EndLayer - FirstLayer;

    /// <summary>The [start, start + count) share of <paramref name="total"/> items that this TP rank holds (even split).</summary>
    public (int Start, int Count) Split(int total)
    {
        int count = total / TpSize;
        return (TpRank * count, count);
    }
}
