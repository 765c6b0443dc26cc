namespace Granary.Models.Checkpoints;

/// <summary>Shape arithmetic shared by the reader, the writer and the checkpoint.</summary>
internal static class ShapeMath
{
    /// <summary>Product of the dimensions (1 for a scalar); throws <see cref="OverflowException"/> past long.</summary>
    public static long ElementCount(ReadOnlySpan<long> shape)
    {
        long n = 1;
        foreach (long d in shape) n = checked(n * d);
        return n;
    }

    /// <summary>"[a, b, c]", the way shapes appear in every error message.</summary>
    public static string Format(ReadOnlySpan<long> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
