namespace Granary.Models.Llama;

/// <summary>
/// Mixtral's sparse MLP: softmax over the router logits, the top-k experts per token with their
/// probabilities renormalized, then each expert runs on the rows routed to it and its output is added
/// back scaled. Routing runs on the host (a few floats per token); the expert math on the backend.
/// </summary>
internal sealed class MixtureRouter(int experts, int topK, int maxRows)
{
    private readonly float[] _logits = new float[maxRows * experts];
    private readonly int[] _choice = new int[maxRows * topK];
    private readonly float[] _weight = new float[maxRows * topK];
    private readonly int[] _rows = new int[maxRows];
    private readonly float[] _scales = new float[maxRows];

    public void Run(LlamaModel model, LayerWeights layer, int rows)
    {
        var backend = model.Backend;
        var w = model.Work;
        int hidden = model.Config.HiddenSize;
        backend.MatMul(w.Normed, layer.Router!, null, w.RouterLogits!, rows, hidden, experts);
        backend.CopyToHost(w.RouterLogits!, _logits.AsSpan(0, rows * experts));
        for (int r = 0; r < rows; r++) Route(r);

        backend.Zero(w.MlpOut, (long)rows * hidden);
        for (int e = 0; e < experts; e++)
        {
            int count = 0;
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < topK; j++)
                {
                    if (_choice[r * topK + j] != e) continue;
                    _rows[count] = r;
                    _scales[count++] = _weight[r * topK + j];
                }
            }
            if (count == 0) continue;
            backend.GatherRows(w.Normed, w.ExpertIn!, hidden, _rows.AsSpan(0, count));
            model.Mlp(layer.Experts[e], w.ExpertIn!, w.ExpertOut!, count);
            backend.ScaleAddRows(w.ExpertOut!, w.MlpOut, hidden, _rows.AsSpan(0, count), _scales.AsSpan(0, count));
        }
    }

    /// <summary>Top-k of softmax(logits) renormalized to sum 1; ties go to the lower expert index, as torch.topk does.</summary>
    private void Route(int row)
    {
        var logits = _logits.AsSpan(row * experts, experts);
        float max = float.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        var choice = _choice.AsSpan(row * topK, topK);
        var weight = _weight.AsSpan(row * topK, topK);
        for (int j = 0; j < topK; j++)
        {
            int best = -1;
            for (int e = 0; e < experts; e++)
            {
                if (choice[..j].Contains(e)) continue;
                if (best < 0 || logits[e] > logits[best]) best = e;
            }
            choice[j] = best;
            weight[j] = MathF.Exp(logits[best] - max);
        }
        float sum = 0;
        foreach (float x in weight) sum += x;
        for (int j = 0; j < topK; j++) weight[j] /= sum;
    }
}
