using Granary.Models.Checkpoints;

namespace Granary.Models.Llama;

/// <summary>How a model's heads, KV heads and vocabulary divide among tensor-parallel ranks, and the checks that they can.</summary>
public static class TensorParallelPlan
{
    /// <summary>Throws one <see cref="ArgumentException"/> listing every violation, one line each, saying what to change.</summary>
    public static void Validate(ModelConfig config, ShardSpec shard)
    {
        int tp = shard.TpSize;
        if (tp < 1 || (uint)shard.TpRank >= (uint)tp) throw new ArgumentException($"tensor-parallel rank {shard.TpRank} is outside 0..{tp - 1}");
        var problems = Violations(config, tp).ToList();
        if (shard.FirstLayer < 0 || shard.EndLayer > config.NumLayers || shard.FirstLayer >= shard.EndLayer)
            problems.Add($"layers [{shard.FirstLayer}, {shard.EndLayer}) are not a non-empty part of the model's {config.NumLayers}");
        if (problems.Count > 0) throw new ArgumentException(string.Join(Environment.NewLine, problems));
    }

    /// <summary>Why <paramref name="tp"/> ranks cannot split this model, one line per reason (none when they can).</summary>
    public static IEnumerable<string> Violations(ModelConfig config, int tp)
    {
        if (tp < 1) { yield return $"--tp {tp}: the tensor-parallel size must be at least 1"; yield break; }
        if (config.NumHeads % tp != 0)
            yield return $"--tp {tp} does not divide the {config.NumHeads} attention heads; use a tensor-parallel size that divides {config.NumHeads}";
        else if (tp > config.NumKvHeads ? tp % config.NumKvHeads != 0 : config.NumKvHeads % tp != 0)
            yield return $"--tp {tp} and the {config.NumKvHeads} KV heads: one must divide the other; use a tensor-parallel size that divides or is a multiple of {config.NumKvHeads}";
        if (config.IntermediateSize % tp != 0)
            yield return $"--tp {tp} does not divide the MLP width {config.IntermediateSize}; use a tensor-parallel size that divides it";
        if (config.VocabSize % tp != 0)
            yield return $"--tp {tp} does not divide the vocabulary of {config.VocabSize} tokens; use a tensor-parallel size that divides it";
    }

    public static int LocalHeads(ModelConfig config, ShardSpec shard) => config.NumHeads / shard.TpSize;

    /// <summary>KV heads split across ranks, or, with more ranks than KV heads, one replicated head per rank (as vLLM does).</summary>
    public static (int Start, int Count) LocalKvHeads(ModelConfig config, ShardSpec shard)
    {
        int kv = config.NumKvHeads, tp = shard.TpSize;
        if (tp <= kv) return (shard.TpRank * (kv / tp), kv / tp);
        return (shard.TpRank / (tp / kv), 1);
    }

    public static (int Start, int Count) VocabSlice(int vocab, ShardSpec shard) => shard.Split(vocab);
}
