using Granary.Models.Checkpoints;

namespace Granary.Models.Llama;

/// <summary>
/// How a model spreads over TP x PP ranks: world rank = stage * TpSize + tensor-parallel rank (TP ranks
/// of a stage are neighbours, as in vLLM), each stage a contiguous run of layers. Rank 0 drives the
/// group; the first rank of the last stage holds the gathered logits.
/// </summary>
public sealed class ParallelPlan
{
    private readonly int[] _stageStart;

    private ParallelPlan(ModelConfig config, int tp, int pp, int[] stageLayers)
    {
        Config = config;
        TpSize = tp;
        PpSize = pp;
        StageLayers = stageLayers;
        _stageStart = new int[pp + 1];
        for (int s = 0; s < pp; s++) _stageStart[s + 1] = _stageStart[s] + stageLayers[s];
    }

    /// <summary>
    /// Checks the layout before anything is loaded; all violations are reported together in one
    /// <see cref="ArgumentException"/>, one line each saying what to change.
    /// </summary>
    /// <param name="partition">Layers per stage (vLLM's VLLM_PP_LAYER_PARTITION), or null for the default split.</param>
    /// <param name="worldSize">Ranks the launcher started (WORLD_SIZE or the topology file), or null when TP x PP decides.</param>
    public static ParallelPlan Create(ModelConfig config, int tp, int pp, IReadOnlyList<int>? partition = null, int? worldSize = null)
    {
        var problems = new List<string>();
        if (worldSize is { } world && tp * pp != world)
            problems.Add($"TP {tp} x PP {pp} = {tp * pp} ranks, but {world} were started (WORLD_SIZE / topology file): set --tp/TP_SIZE and --pp/PP_SIZE so that their product is {world}");
        problems.AddRange(TensorParallelPlan.Violations(config, tp));
        int layers = config.NumLayers;
        if (pp < 1) problems.Add($"--pp {pp}: the pipeline-parallel size must be at least 1");
        else if (partition is not null)
        {
            if (partition.Count != pp)
                problems.Add($"--pp-partition {string.Join(',', partition)} has {partition.Count} stages but --pp is {pp}: give {pp} layer counts");
            if (partition.Any(n => n < 1))
                problems.Add($"--pp-partition {string.Join(',', partition)}: every stage needs at least one layer");
            if (partition.Sum() != layers)
                problems.Add($"--pp-partition {string.Join(',', partition)} covers {partition.Sum()} layers; the model has {layers}: make the counts add up to {layers}");
        }
        else if (pp > layers)
            problems.Add($"--pp {pp} needs at least {pp} layers; the model has {layers}: use --pp {layers} or less");
        if (problems.Count > 0) throw new ArgumentException(string.Join(Environment.NewLine, problems));
        return new ParallelPlan(config, tp, pp, partition is null ? DefaultPartition(layers, pp) : [.. partition]);
    }

    /// <summary>
    /// vLLM's split: layers / pp per stage, the remainder given one each to the stages before the last
    /// (which also carries the LM head), e.g. 3 layers over 2 stages = 2,1; 8 over 3 = 3,3,2.
    /// </summary>
    public static int[] DefaultPartition(int layers, int pp)
    {
        var parts = Enumerable.Repeat(layers / pp, pp).ToArray();
        for (int i = 2; i < layers % pp + 2; i++) parts[pp - i]++;
        return parts;
    }

    /// <summary>Parses "3,2,3" (--pp-partition / VLLM_PP_LAYER_PARTITION).</summary>
    public static int[] ParsePartition(string text) =>
        text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(p => int.TryParse(p, out int n) ? n : throw new ArgumentException($"--pp-partition '{text}': '{p}' is not a layer count; write e.g. 3,2,3"))
            .ToArray();

    public ModelConfig Config { get; }
    public int TpSize { get; }
    public int PpSize { get; }
    public int WorldSize => TpSize * PpSize;

    /// <summary>Layers of each stage.</summary>
    public IReadOnlyList<int> StageLayers { get; }

    /// <summary>The rank whose model ends with the full logits (first TP rank of the last stage).</summary>
    public int LogitsRank => (PpSize - 1) * TpSize;

    public int StageOf(int rank) => rank / TpSize;
    public int TpRankOf(int rank) => rank % TpSize;

    public ShardSpec Shard(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)rank, (uint)WorldSize, nameof(rank));
        int stage = StageOf(rank);
        return new ShardSpec(TpRankOf(rank), TpSize, _stageStart[stage], _stageStart[stage + 1], stage == 0, stage == PpSize - 1, stage, PpSize);
    }

    /// <summary>World ranks of one stage's tensor-parallel group, in TP order.</summary>
    public int[] TpGroup(int stage) => Enumerable.Range(stage * TpSize, TpSize).ToArray();

    /// <summary>World ranks of the pipeline through one TP rank, in stage order.</summary>
    public int[] PpGroup(int tpRank) => Enumerable.Range(0, PpSize).Select(s => s * TpSize + tpRank).ToArray();

    /// <summary>KV cache bytes per token slot on <paramref name="rank"/> with activations of <paramref name="elementSize"/> bytes.</summary>
    public long KvBytesPerToken(int rank, int elementSize)
    {
        var shard = Shard(rank);
        return 2L * shard.LayerCount * TensorParallelPlan.LocalKvHeads(Config, shard).Count * Config.HeadDim * elementSize;
    }

    /// <summary>The busiest rank's KV bytes per token slot (what sizes the cache).</summary>
    public long MaxKvBytesPerToken(int elementSize) => Enumerable.Range(0, WorldSize).Max(r => KvBytesPerToken(r, elementSize));

    /// <summary>One rank's share in words, e.g. "stage 0/2 layers 0-2 (3), tp 1/2: heads 4-7 of 8, KV heads 1 of 2, vocab 320-639".</summary>
    public string Describe(int rank)
    {
        var shard = Shard(rank);
        int heads = TensorParallelPlan.LocalHeads(Config, shard);
        var (kvStart, kvCount) = TensorParallelPlan.LocalKvHeads(Config, shard);
        var (vocabStart, vocabCount) = TensorParallelPlan.VocabSlice(Config.VocabSize, shard);
        string kv = kvCount == 1 ? $"KV head {kvStart}" : $"KV heads {kvStart}-{kvStart + kvCount - 1}";
        if (TpSize > Config.NumKvHeads) kv += " (replicated)";
        int firstHead = shard.TpRank * heads;
        string q = heads == 1 ? $"head {firstHead}" : $"heads {firstHead}-{firstHead + heads - 1}";
        string ends = (shard.IsFirstStage ? " +embedding" : "") + (shard.IsLastStage ? " +lm head" : "");
        return $"stage {shard.PpRank}/{PpSize} layers {shard.FirstLayer}-{shard.EndLayer - 1} ({shard.LayerCount}){ends}, tp {shard.TpRank}/{TpSize}: " +
               $"{q} of {Config.NumHeads}, {kv} of {Config.NumKvHeads}, vocab {vocabStart}-{vocabStart + vocabCount - 1}";
    }

    public override string ToString() => $"TP {TpSize} x PP {PpSize} = {WorldSize} ranks, layers per stage {string.Join(',', StageLayers)}";
}
