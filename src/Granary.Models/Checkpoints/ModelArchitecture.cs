namespace Granary.Models.Checkpoints;

/// <summary>Model architectures Granary can load (Hugging Face <c>architectures[0]</c> / <c>model_type</c>).</summary>
public enum ModelArchitecture
{
    /// <summary>LlamaForCausalLM (<c>llama</c>).</summary>
    Llama,
    /// <summary>MistralForCausalLM (<c>mistral</c>).</summary>
    Mistral,
    /// <summary>Qwen2ForCausalLM (<c>qwen2</c>): bias on the q, k and v projections.</summary>
    Qwen2,
    /// <summary>MixtralForCausalLM (<c>mixtral</c>): sparse mixture-of-experts MLP.</summary>
    Mixtral,
}
