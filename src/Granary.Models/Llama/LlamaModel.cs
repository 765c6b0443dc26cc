using Granary.Compute;
using Granary.Models.Checkpoints;

namespace Granary.Models.Llama;

/// <summary>
/// The Llama family (Llama 2/3, Mistral, Qwen2 with q/k/v bias, Mixtral with top-k experts) for one
/// rank's shard, written only against <see cref="IBackend"/>. Megatron-style tensor parallelism: q/k/v
/// and gate/up are split by output rows, o and down by input columns with one all-reduce after each;
/// KV heads are split (or replicated when there are more ranks than KV heads); the embedding and LM
/// head are split by vocabulary. Pipeline parallelism: a stage holds a run of layers; the first stage
/// also holds the embedding, the last the final norm and LM head, and the residual stream goes from
/// stage to stage through the pipeline communicator.
/// </summary>
public sealed class LlamaModel : IDisposable
{
    private readonly IBackend _backend;
    private readonly ICommunicator? _tp;
    private readonly ICommunicator? _pp;
    private readonly LayerWeights[] _layers;
    private readonly DeviceBuffer? _embedding;
    private readonly DeviceBuffer? _finalNorm;
    private readonly DeviceBuffer? _lmHead;
    private readonly DeviceBuffer _rope;
    private readonly bool _ownsLmHead;
    private readonly int _vocabStart;
    private readonly int _vocabRows;
    private readonly Workspace _work;
    private readonly MixtureRouter? _router;

    private LlamaModel(ModelConfig config, ShardSpec shard, IBackend backend, ICommunicator? tp, ICommunicator? pp, ShardLoader loader, int maxRows, int maxPositions)
    {
        Config = config;
        Shard = shard;
        _backend = backend;
        _tp = shard.TpSize > 1 ? tp ?? throw new ArgumentException("a tensor-parallel shard needs a communicator", nameof(tp)) : null;
        _pp = shard.PpSize > 1 ? pp ?? throw new ArgumentException("a pipeline-parallel shard needs a communicator", nameof(pp)) : null;
        Heads = TensorParallelPlan.LocalHeads(config, shard);
        (KvHeadStart, KvHeads) = TensorParallelPlan.LocalKvHeads(config, shard);
        HeadDim = config.HeadDim;
        (_vocabStart, _vocabRows) = TensorParallelPlan.VocabSlice(config.VocabSize, shard);
        Intermediate = config.IntermediateSize / shard.TpSize;
        MaxRows = maxRows;
        MaxPositions = maxPositions;

        int hidden = config.HiddenSize;
        // Each stage loads only what it runs: a tied LM head on a last stage that is not also the first loads its own copy of the embedding rows.
        if (shard.IsFirstStage) _embedding = loader.Rows("model.embed_tokens.weight", config.VocabSize, hidden, _vocabStart, _vocabRows);
        _layers = new LayerWeights[shard.LayerCount];
        for (int i = 0; i < _layers.Length; i++) _layers[i] = LoadLayer(loader, shard.FirstLayer + i);
        if (shard.IsLastStage)
        {
            _finalNorm = loader.Vector("model.norm.weight", hidden, 0, hidden);
            if (config.TieWordEmbeddings || !loader.Contains("lm_head.weight"))
            {
                if (!config.TieWordEmbeddings) throw new InvalidDataException($"{loader}: missing tensor 'lm_head.weight' and tie_word_embeddings is false");
                _lmHead = _embedding ?? loader.Rows("model.embed_tokens.weight", config.VocabSize, hidden, _vocabStart, _vocabRows);
                _ownsLmHead = _embedding is null;
            }
            else
            {
                _lmHead = loader.Rows("lm_head.weight", config.VocabSize, hidden, _vocabStart, _vocabRows);
                _ownsLmHead = true;
            }
        }
        WeightBytes = loader.Bytes;
        _rope = backend.Upload(DType.F32, System.Runtime.InteropServices.MemoryMarshal.AsBytes(RopeTable.Build(config.Rope, HeadDim, maxPositions).AsSpan()));
        _work = new Workspace(backend, this);
        if (config.NumExperts > 0) _router = new MixtureRouter(config.NumExperts, config.NumExpertsPerToken, maxRows);
    }

    /// <summary>Loads the shard's slices of the checkpoint's tensors onto the backend.</summary>
    /// <param name="maxRows">Most tokens in one forward step (sizes the activation buffers).</param>
    /// <param name="maxPositions">Longest sequence (sizes the RoPE table); at most the model's context.</param>
    /// <param name="tp">The stage's tensor-parallel group (needed when <see cref="ShardSpec.TpSize"/> &gt; 1).</param>
    /// <param name="pp">The pipeline through this TP rank, group rank = stage (needed when <see cref="ShardSpec.PpSize"/> &gt; 1).</param>
    public static LlamaModel Load(ModelConfig config, Checkpoint checkpoint, IBackend backend, ShardSpec shard, int maxRows, int maxPositions, ICommunicator? tp = null, ICommunicator? pp = null)
    {
        TensorParallelPlan.Validate(config, shard);
        if (config.MlpBias) throw new NotSupportedException($"{checkpoint.Directory}/config.json: mlp_bias is not supported");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPositions, 1);
        if (shard.PpSize < 1 || (uint)shard.PpRank >= (uint)shard.PpSize || shard.IsFirstStage != (shard.PpRank == 0) || shard.IsLastStage != (shard.PpRank == shard.PpSize - 1))
            throw new ArgumentException($"pipeline stage {shard.PpRank} of {shard.PpSize} does not match first={shard.IsFirstStage} last={shard.IsLastStage}", nameof(shard));
        return new LlamaModel(config, shard, backend, tp, pp, new ShardLoader(checkpoint, backend), maxRows, maxPositions);
    }

    public ModelConfig Config { get; }
    public ShardSpec Shard { get; }

    /// <summary>Query heads on this rank.</summary>
    public int Heads { get; }
    /// <summary>KV heads on this rank and the first one's global index.</summary>
    public int KvHeads { get; }
    public int KvHeadStart { get; }
    public int HeadDim { get; }
    public int Intermediate { get; }
    public int MaxRows { get; }
    public int MaxPositions { get; }

    /// <summary>Weight bytes this rank holds.</summary>
    public long WeightBytes { get; }

    /// <summary>Activation (workspace) bytes this rank holds, sized for <see cref="MaxRows"/>.</summary>
    public long WorkspaceBytes => _work.Bytes;

    /// <summary>KV cache bytes per token slot on this rank (keys and values of every local layer).</summary>
    public long KvBytesPerToken => 2L * _layers.Length * KvHeads * HeadDim * _backend.ActivationType.Size();

    public int VocabSize => Config.VocabSize;

    public KvCache CreateKvCache(int blocks, int blockSize) => new(_backend, _layers.Length, blocks, blockSize, KvHeads * HeadDim);

    /// <summary>
    /// Runs the batch through the model, writing its keys and values into <paramref name="cache"/>;
    /// afterwards <see cref="ReadLogits"/> gives the logits of the batch's logit rows (on the last stage).
    /// A stage after the first receives the residual stream from the previous stage; a stage before the
    /// last sends it on.
    /// </summary>
    public void Forward(BatchLayout batch, KvCache cache)
    {
        int rows = batch.Rows;
        if (rows > MaxRows) throw new ArgumentOutOfRangeException(nameof(batch), $"{rows} rows exceed the {MaxRows} this model was sized for");
        for (int r = 0; r < rows; r++)
        {
            if ((uint)batch.Positions[r] >= (uint)MaxPositions) throw new ArgumentOutOfRangeException(nameof(batch), $"position {batch.Positions[r]} is beyond the context of {MaxPositions}");
        }
        var w = _work;
        int hidden = Config.HiddenSize;
        float eps = (float)Config.RmsNormEps;

        if (Shard.IsFirstStage)
        {
            _backend.Embedding(_embedding!, _vocabStart, _vocabRows, hidden, batch, w.Residual);
            AllReduce(w.Residual, (long)rows * hidden);
        }
        else _pp!.Receive(w.Residual, (long)rows * hidden, Shard.PpRank - 1);
        for (int i = 0; i < _layers.Length; i++)
        {
            Attend(_layers[i], batch, cache.Keys[i], cache.Values[i], cache.BlockSize);
            FeedForward(_layers[i], rows);
        }
        if (!Shard.IsLastStage)
        {
            _pp!.Send(w.Residual, (long)rows * hidden, Shard.PpRank + 1);
            LogitRows = 0;
            return;
        }
        int logitRows = batch.LogitRowCount;
        Projection head = new(_lmHead!, null, w.Logits, _vocabRows);
        if (EveryRowIsALogitRow(batch))
        {
            // Decode: the final norm joins the LM head's kernel.
            _backend.NormMatMul(w.Residual, _finalNorm!, eps, w.Normed, [head], rows, hidden);
        }
        else
        {
            _backend.RmsNorm(w.Residual, _finalNorm!, w.Normed, rows, hidden, eps);
            _backend.GatherRows(w.Normed, w.LastHidden, hidden, batch.LogitRows.AsSpan(0, logitRows));
            _backend.MatMul(w.LastHidden, [head], logitRows, hidden);
        }
        _tp?.AllGather(w.Logits, w.GatheredLogits!, (long)logitRows * _vocabRows);
        LogitRows = logitRows;
        _fedTokens = batch.FeedsTokens;
    }

    /// <summary>Rows of logits the last <see cref="Forward"/> produced.</summary>
    public int LogitRows { get; private set; }

    // Whether the last Forward fed its tokens from the top-k before it; the logit rows of the last BeginTopLogits, and
    // of the one before it while that one is unread (a step fed from it was launched before it was read).
    private bool _fedTokens;
    private int _lastTopRows = -1, _previousTopRows = -1;

    /// <summary>Copies the logits of one logit row (the full vocabulary) to the host (last stage only).</summary>
    public void ReadLogits(int row, Span<float> destination)
    {
        if (!Shard.IsLastStage) throw new InvalidOperationException($"pipeline stage {Shard.PpRank} has no logits; the last stage has");
        if ((uint)row >= (uint)LogitRows) throw new ArgumentOutOfRangeException(nameof(row));
        if (_tp is null)
        {
            _backend.CopyToHost(_work.Logits, destination[..VocabSize], (long)row * _vocabRows);
            return;
        }
        // The all-gather left each rank's [rows, vocab slice] block in rank order.
        long block = (long)LogitRows * _vocabRows;
        for (int rank = 0; rank < Shard.TpSize; rank++)
            _backend.CopyToHost(_work.GatheredLogits!, destination.Slice(rank * _vocabRows, _vocabRows), rank * block + (long)row * _vocabRows);
    }

    /// <summary>The <paramref name="k"/> largest logits of every logit row, with ids and log-sum-exp (last stage only; see <see cref="IBackend.TopK"/>).</summary>
    public void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        if (!Shard.IsLastStage) throw new InvalidOperationException($"pipeline stage {Shard.PpRank} has no logits; the last stage has");
        // After a step launched with its tokens fed from the last one's top-k, the results read are that last step's.
        int rows = _previousTopRows >= 0 ? _previousTopRows : LogitRows;
        _previousTopRows = -1;
        if (_tp is null) _backend.TopK(_work.Logits, rows, _vocabRows, 1, k, ids, values, logSumExp);
        else _backend.TopK(_work.GatheredLogits!, rows, _vocabRows, Shard.TpSize, k, ids, values, logSumExp);
    }

    /// <summary>Starts <see cref="TopLogits"/> without waiting (see <see cref="IBackend.BeginTopK"/>); last stage only, a no-op elsewhere.</summary>
    public void BeginTopLogits(int k)
    {
        if (!Shard.IsLastStage) return;
        _previousTopRows = _fedTokens ? _lastTopRows : -1;
        _lastTopRows = LogitRows;
        if (_tp is null) _backend.BeginTopK(_work.Logits, LogitRows, _vocabRows, 1, k);
        else _backend.BeginTopK(_work.GatheredLogits!, LogitRows, _vocabRows, Shard.TpSize, k);
    }

    private void Attend(LayerWeights layer, BatchLayout batch, DeviceBuffer keyCache, DeviceBuffer valueCache, int blockSize)
    {
        var w = _work;
        int rows = batch.Rows, hidden = Config.HiddenSize;
        int qDim = Heads * HeadDim, kvDim = KvHeads * HeadDim;
        _backend.NormMatMul(w.Residual, layer.InputNorm, (float)Config.RmsNormEps, w.Normed,
            [new(layer.Q, layer.QBias, w.Q, qDim), new(layer.K, layer.KBias, w.K, kvDim), new(layer.V, layer.VBias, w.V, kvDim)], rows, hidden);
        _backend.RopeAttention(w.Q, w.K, w.V, keyCache, valueCache, w.Context, Heads, KvHeads, HeadDim, blockSize, 1f / MathF.Sqrt(HeadDim), batch, _rope);
        AddProjection(w.Context, layer.O, layer.OBias, w.AttentionOut, rows, qDim);
    }

    private void FeedForward(LayerWeights layer, int rows)
    {
        var w = _work;
        int hidden = Config.HiddenSize;
        float eps = (float)Config.RmsNormEps;
        if (layer.Mlp is { } mlp)
        {
            _backend.NormGatedMatMul(w.Residual, layer.PostAttentionNorm, eps, w.Normed, mlp.Gate, mlp.Up, w.Gate, w.Up, rows, hidden, Intermediate);
            AddProjection(w.Gate, mlp.Down, null, w.MlpOut, rows, Intermediate);
            return;
        }
        _backend.RmsNorm(w.Residual, layer.PostAttentionNorm, w.Normed, rows, hidden, eps);
        _router!.Run(this, layer, rows);
        AddToResidual(w.MlpOut, rows);
    }

    /// <summary>
    /// residual += x * weight^T (+ bias), the sum inside the projection's kernel at float32. With tensor parallelism
    /// each rank's product is a partial sum: see <see cref="ClearResidualForPartialSum"/>.
    /// </summary>
    private void AddProjection(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer? bias, DeviceBuffer scratch, int rows, int inFeatures)
    {
        long length = ClearResidualForPartialSum(rows);
        _backend.MatMulAddResidual(x, weight, bias, scratch, _work.Residual, rows, inFeatures, Config.HiddenSize);
        AllReduce(_work.Residual, length);
    }

    /// <summary>residual += the sum over the TP ranks of <paramref name="partial"/> ([rows, hidden]).</summary>
    private void AddToResidual(DeviceBuffer partial, int rows)
    {
        long length = ClearResidualForPartialSum(rows);
        _backend.Add(_work.Residual, partial, length);
        AllReduce(_work.Residual, length);
    }

    /// <summary>
    /// With tensor parallelism, a rank's part of a sum is added to the residual and then the float32 residual itself is
    /// all-reduced: rank 0 adds its part to the residual, the others to zeros (cleared here). So the parts are never
    /// rounded to bf16 on the way, as they are not with one rank. Returns the residual's length.
    /// </summary>
    private long ClearResidualForPartialSum(int rows)
    {
        long length = (long)rows * Config.HiddenSize;
        if (_tp is not null && Shard.TpRank != 0) _backend.Zero(_work.Residual, length);
        return length;
    }

    private static bool EveryRowIsALogitRow(BatchLayout batch)
    {
        if (batch.LogitRowCount != batch.Rows) return false;
        for (int r = 0; r < batch.Rows; r++)
        {
            if (batch.LogitRows[r] != r) return false;
        }
        return true;
    }

    /// <summary>down(silu(gate(x)) * up(x)) of one expert; partial sums across TP ranks until the caller's all-reduce.</summary>
    internal void Mlp(ExpertWeights mlp, DeviceBuffer input, DeviceBuffer output, int rows)
    {
        var w = _work;
        int hidden = Config.HiddenSize;
        _backend.GatedMatMul(input, mlp.Gate, mlp.Up, w.Gate, w.Up, rows, hidden, Intermediate);
        _backend.MatMul(w.Gate, mlp.Down, null, output, rows, Intermediate, hidden);
    }

    internal IBackend Backend => _backend;
    internal Workspace Work => _work;

    private void AllReduce(DeviceBuffer buffer, long length) => _tp?.AllReduceSum(buffer, length);

    private LayerWeights LoadLayer(ShardLoader loader, int index)
    {
        var c = Config;
        string p = $"model.layers.{index}.";
        int hidden = c.HiddenSize, hd = HeadDim;
        long qRows = (long)c.NumHeads * hd, kvRows = (long)c.NumKvHeads * hd;
        long qStart = (long)Shard.TpRank * Heads * hd, qCount = (long)Heads * hd;
        long kvStart = (long)KvHeadStart * hd, kvCount = (long)KvHeads * hd;
        bool bias = c.AttentionBias;
        var (interStart, interCount) = (Shard.TpRank * (long)Intermediate, (long)Intermediate);
        ExpertWeights Dense(string gate, string up, string down)
        {
            var (gateUp, parts) = loader.StackedRows(hidden, (gate, c.IntermediateSize, interStart, interCount), (up, c.IntermediateSize, interStart, interCount));
            return new(parts[0], parts[1], loader.Columns(down, hidden, c.IntermediateSize, interStart, interCount), gateUp);
        }
        bool moe = c.NumExperts > 0;
        var (qkv, qkvParts) = loader.StackedRows(hidden, (p + "self_attn.q_proj.weight", qRows, qStart, qCount),
            (p + "self_attn.k_proj.weight", kvRows, kvStart, kvCount), (p + "self_attn.v_proj.weight", kvRows, kvStart, kvCount));
        return new LayerWeights
        {
            InputNorm = loader.Vector(p + "input_layernorm.weight", hidden, 0, hidden),
            PostAttentionNorm = loader.Vector(p + "post_attention_layernorm.weight", hidden, 0, hidden),
            Qkv = qkv,
            Q = qkvParts[0],
            K = qkvParts[1],
            V = qkvParts[2],
            QBias = bias ? loader.Vector(p + "self_attn.q_proj.bias", qRows, qStart, qCount) : null,
            KBias = bias ? loader.Vector(p + "self_attn.k_proj.bias", kvRows, kvStart, kvCount) : null,
            VBias = bias ? loader.Vector(p + "self_attn.v_proj.bias", kvRows, kvStart, kvCount) : null,
            O = loader.Columns(p + "self_attn.o_proj.weight", hidden, qRows, qStart, qCount),
            // The output projection's bias is added once: by rank 0, before the all-reduce sums the ranks.
            OBias = c.AttentionOutputBias && Shard.TpRank == 0 ? loader.Vector(p + "self_attn.o_proj.bias", hidden, 0, hidden) : null,
            Mlp = moe ? null : Dense(p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight"),
            Router = moe ? loader.Whole(p + "block_sparse_moe.gate.weight", c.NumExperts, hidden) : null,
            Experts = moe
                ? Enumerable.Range(0, c.NumExperts).Select(e => $"{p}block_sparse_moe.experts.{e}.").Select(e => Dense(e + "w1.weight", e + "w3.weight", e + "w2.weight")).ToArray()
                : [],
        };
    }

    public void Dispose()
    {
        foreach (var layer in _layers) layer.Dispose();
        _embedding?.Dispose();
        if (_ownsLmHead) _lmHead?.Dispose();
        _finalNorm?.Dispose();
        _rope.Dispose();
        _work.Dispose();
    }
}
