namespace Granary.Models.Llama2c;

/// <summary>
/// Derives BPE merges from a SentencePiece BPE vocabulary, the way Hugging Face's <c>SentencePieceExtractor</c>
/// does when converting a slow Llama tokenizer: for every piece, each split into two pieces that are both in the
/// vocabulary is a merge (splits of one piece ordered by the ids of the left, then the right part); merges are
/// ranked by the merged piece's score, highest first, ties kept in vocabulary order.
/// </summary>
public static class SentencePieceMerges
{
    /// <summary>The ranked merges of a vocabulary given as pieces (index = id) and their scores.</summary>
    public static List<(string Left, string Right)> Extract(IReadOnlyList<string> pieces, IReadOnlyList<float> scores)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        ArgumentNullException.ThrowIfNull(scores);
        if (pieces.Count != scores.Count)
            throw new ArgumentException($"{pieces.Count} pieces but {scores.Count} scores");

        var ids = new Dictionary<string, int>(pieces.Count, StringComparer.Ordinal);
        for (int i = 0; i < pieces.Count; i++)
            if (!ids.TryAdd(pieces[i], i))
                throw new ArgumentException($"piece '{pieces[i]}' appears twice (ids {ids[pieces[i]]} and {i})");

        var merges = new List<(string Left, string Right, float Score)>();
        var local = new List<(string Left, string Right, int LeftId, int RightId)>();
        for (int i = 0; i < pieces.Count; i++)
        {
            string piece = pieces[i];
            local.Clear();
            for (int k = 1; k < piece.Length; k++)
            {
                // Splits are by code point, as in Python: never between the halves of a surrogate pair.
                if (char.IsLowSurrogate(piece[k])) continue;
                string left = piece[..k], right = piece[k..];
                if (ids.TryGetValue(left, out int l) && ids.TryGetValue(right, out int r))
                    local.Add((left, right, l, r));
            }
            local.Sort((a, b) => a.LeftId != b.LeftId ? a.LeftId.CompareTo(b.LeftId) : a.RightId.CompareTo(b.RightId));
            foreach (var m in local) merges.Add((m.Left, m.Right, scores[i]));
        }
        // OrderByDescending is a stable sort, like Python's sorted(..., reverse=True).
        return merges.OrderByDescending(m => m.Score).Select(m => (m.Left, m.Right)).ToList();
    }
}
