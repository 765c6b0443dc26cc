namespace Granary.Models.Checkpoints;

/// <summary>
/// The longest sequence (prompt plus output) a model is run with: the requested max model length, or the checkpoint's
/// context (max_position_embeddings). Asking for more than the context is refused unless allowed explicitly, as vLLM
/// refuses it without VLLM_ALLOW_LONG_MAX_MODEL_LEN: RoPE goes on past the trained positions (llama.cpp runs there by
/// default), but what the model says there is untested.
/// </summary>
public static class ContextLength
{
    /// <summary>The max model length to run <paramref name="config"/>'s model with.</summary>
    /// <param name="requested">Tokens asked for; 0 for the checkpoint's context.</param>
    /// <param name="allowBeyondContext">Whether <paramref name="requested"/> may exceed the checkpoint's context.</param>
    /// <exception cref="ArgumentException">A negative length, or one past the context without <paramref name="allowBeyondContext"/>.</exception>
    public static int Resolve(ModelConfig config, int requested, bool allowBeyondContext)
    {
        if (requested < 0) throw new ArgumentException($"--max-model-len must be 0 (the model's context) or more, got {requested}");
        if (requested == 0) return config.MaxPositionEmbeddings;
        if (requested > config.MaxPositionEmbeddings && !allowBeyondContext)
            throw new ArgumentException($"--max-model-len {requested} is longer than the model's context of {config.MaxPositionEmbeddings} tokens (max_position_embeddings); "
                + "add --allow-long-max-model-len to run past the positions it was trained on");
        return requested;
    }
}
