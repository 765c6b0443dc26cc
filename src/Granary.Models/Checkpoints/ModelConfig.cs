using System.Text.Json;

namespace Granary.Models.Checkpoints;

/// <summary>
/// The architecture hyper-parameters of a Hugging Face checkpoint (<c>config.json</c>). Fields a config may leave
/// out take the defaults of the transformers configuration class of that architecture.
/// </summary>
public sealed class ModelConfig
{
    /// <summary>File name inside a checkpoint folder.</summary>
    public const string FileName = "config.json";

    private static readonly (string ClassName, string ModelType, ModelArchitecture Arch)[] Architectures =
    [
        ("LlamaForCausalLM", "llama", ModelArchitecture.Llama),
        ("MistralForCausalLM", "mistral", ModelArchitecture.Mistral),
        ("Qwen2ForCausalLM", "qwen2", ModelArchitecture.Qwen2),
        ("MixtralForCausalLM", "mixtral", ModelArchitecture.Mixtral),
    ];

    /// <summary>Model family (<c>architectures[0]</c>, or <c>model_type</c> when absent).</summary>
    public required ModelArchitecture Architecture { get; init; }

    /// <summary>Width of the residual stream (<c>hidden_size</c>).</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Width of the MLP (of each expert for Mixtral) (<c>intermediate_size</c>).</summary>
    public required int IntermediateSize { get; init; }

    /// <summary>Number of decoder layers (<c>num_hidden_layers</c>).</summary>
    public required int NumLayers { get; init; }

    /// <summary>Number of query heads (<c>num_attention_heads</c>).</summary>
    public required int NumHeads { get; init; }

    /// <summary>Number of key/value heads (<c>num_key_value_heads</c>; <see cref="NumHeads"/> when absent).</summary>
    public required int NumKvHeads { get; init; }

    /// <summary>Dimension of one head (<c>head_dim</c> when present and not null, else HiddenSize / NumHeads).</summary>
    public required int HeadDim { get; init; }

    /// <summary>Vocabulary size: rows of the embedding and of the output head (<c>vocab_size</c>).</summary>
    public required int VocabSize { get; init; }

    /// <summary>Epsilon of the RMS norms (<c>rms_norm_eps</c>; 1e-6, or 1e-5 for Mixtral, when absent).</summary>
    public required double RmsNormEps { get; init; }

    /// <summary>
    /// Context length the model was trained for (<c>max_position_embeddings</c>; when absent 2048 for Llama,
    /// 32768 for Qwen2, 131072 for Mistral and Mixtral).
    /// </summary>
    public required int MaxPositionEmbeddings { get; init; }

    /// <summary>Whether the output head shares the embedding matrix (<c>tie_word_embeddings</c>; false when absent).</summary>
    public required bool TieWordEmbeddings { get; init; }

    /// <summary>Whether the q, k and v projections have a bias: always for Qwen2; <c>attention_bias</c> for Llama; never otherwise.</summary>
    public required bool AttentionBias { get; init; }

    /// <summary>Whether the attention output projection (o_proj) has a bias: <c>attention_bias</c> for Llama (which biases all four projections); never otherwise.</summary>
    public required bool AttentionOutputBias { get; init; }

    /// <summary>Whether the MLP projections have a bias (Llama <c>mlp_bias</c>; false otherwise).</summary>
    public required bool MlpBias { get; init; }

    /// <summary>Number of experts per MoE layer (Mixtral <c>num_local_experts</c>, default 8); 0 for dense models.</summary>
    public required int NumExperts { get; init; }

    /// <summary>Experts each token is routed to (Mixtral <c>num_experts_per_tok</c>, default 2); 0 for dense models.</summary>
    public required int NumExpertsPerToken { get; init; }

    /// <summary><c>bos_token_id</c>, or null.</summary>
    public int? BosTokenId { get; init; }

    /// <summary><c>eos_token_id</c> (an int or a list in the file); empty when not set.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary>
    /// Sliding attention window in tokens (Mistral and Mixtral <c>sliding_window</c>; Qwen2 only when
    /// <c>use_sliding_window</c> is true); null for full attention.
    /// </summary>
    public int? SlidingWindow { get; init; }

    /// <summary>Weight type the checkpoint was saved in (<c>dtype</c> or <c>torch_dtype</c>, e.g. "bfloat16"), or null.</summary>
    public string? TorchDtype { get; init; }

    /// <summary>MLP activation (<c>hidden_act</c>; "silu" when absent).</summary>
    public string HiddenAct { get; init; } = "silu";

    /// <summary>Rotary embedding settings (<c>rope_parameters</c>, or <c>rope_theta</c> + <c>rope_scaling</c>).</summary>
    public required RopeConfig Rope { get; init; }

    /// <summary>Reads <c>config.json</c> of a checkpoint folder, or the metadata of a GGUF file.</summary>
    public static ModelConfig Load(string directory)
    {
        if (GgufCheckpoint.IsGguf(directory)) return GgufModelConfig.From(Granary.Tokenizers.Gguf.GgufFile.Read(directory));
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found (not a Hugging Face checkpoint folder?)", path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>
    /// Parses config.json text. Throws <see cref="NotSupportedException"/> for an architecture or RoPE type
    /// Granary does not implement and <see cref="InvalidDataException"/> for malformed JSON, a missing required
    /// field, a field of the wrong JSON type or inconsistent values; messages name <paramref name="sourceName"/>
    /// and the field.
    /// </summary>
    public static ModelConfig Parse(string json, string sourceName)
    {
        string src = sourceName;
        using var doc = JsonFields.Parse(json, src);
        var root = JsonFields.RootObject(doc, src);

        var arch = ParseArchitecture(root, src);
        int hidden = Positive("hidden_size", JsonFields.RequiredInt(root, "hidden_size", src), src);
        int intermediate = Positive("intermediate_size", JsonFields.RequiredInt(root, "intermediate_size", src), src);
        int layers = Positive("num_hidden_layers", JsonFields.RequiredInt(root, "num_hidden_layers", src), src);
        int heads = Positive("num_attention_heads", JsonFields.RequiredInt(root, "num_attention_heads", src), src);
        int kvHeads = Positive("num_key_value_heads", JsonFields.OptionalInt(root, "num_key_value_heads", src) ?? heads, src);
        int vocab = Positive("vocab_size", JsonFields.RequiredInt(root, "vocab_size", src), src);
        if (heads % kvHeads != 0)
            throw new InvalidDataException($"{src}: num_attention_heads ({heads}) is not a multiple of num_key_value_heads ({kvHeads})");

        int headDim;
        if (JsonFields.OptionalInt(root, "head_dim", src) is int hd)
            headDim = Positive("head_dim", hd, src);
        else if (hidden % heads == 0)
            headDim = hidden / heads;
        else
            throw new InvalidDataException($"{src}: hidden_size ({hidden}) is not a multiple of num_attention_heads ({heads}) and no head_dim is given");

        double eps = JsonFields.OptionalDouble(root, "rms_norm_eps", src) ?? (arch == ModelArchitecture.Mixtral ? 1e-5 : 1e-6);
        if (!(eps > 0))
            throw new InvalidDataException($"{src}: field 'rms_norm_eps' must be positive, got {eps}");
        int maxPos = Positive("max_position_embeddings", JsonFields.OptionalInt(root, "max_position_embeddings", src) ?? arch switch
        {
            ModelArchitecture.Llama => 2048,
            ModelArchitecture.Qwen2 => 32768,
            _ => 131072,
        }, src);

        bool llamaBias = arch == ModelArchitecture.Llama && (JsonFields.OptionalBool(root, "attention_bias", src) ?? false);
        bool mlpBias = arch == ModelArchitecture.Llama && (JsonFields.OptionalBool(root, "mlp_bias", src) ?? false);

        int experts = 0, perToken = 0;
        if (arch == ModelArchitecture.Mixtral)
        {
            experts = Positive("num_local_experts", JsonFields.OptionalInt(root, "num_local_experts", src) ?? 8, src);
            perToken = Positive("num_experts_per_tok", JsonFields.OptionalInt(root, "num_experts_per_tok", src) ?? 2, src);
            if (perToken > experts)
                throw new InvalidDataException($"{src}: num_experts_per_tok ({perToken}) exceeds num_local_experts ({experts})");
        }

        int? slidingWindow = arch switch
        {
            ModelArchitecture.Mistral or ModelArchitecture.Mixtral => JsonFields.OptionalInt(root, "sliding_window", src),
            ModelArchitecture.Qwen2 when JsonFields.OptionalBool(root, "use_sliding_window", src) == true =>
                JsonFields.OptionalInt(root, "sliding_window", src),
            _ => null,
        };
        if (slidingWindow is int sw) Positive("sliding_window", sw, src);

        return new ModelConfig
        {
            Architecture = arch,
            HiddenSize = hidden,
            IntermediateSize = intermediate,
            NumLayers = layers,
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = headDim,
            VocabSize = vocab,
            RmsNormEps = eps,
            MaxPositionEmbeddings = maxPos,
            TieWordEmbeddings = JsonFields.OptionalBool(root, "tie_word_embeddings", src) ?? false,
            AttentionBias = arch == ModelArchitecture.Qwen2 || llamaBias,
            AttentionOutputBias = llamaBias,
            MlpBias = mlpBias,
            NumExperts = experts,
            NumExpertsPerToken = perToken,
            BosTokenId = JsonFields.OptionalInt(root, "bos_token_id", src),
            EosTokenIds = JsonFields.IntOrIntList(root, "eos_token_id", src),
            SlidingWindow = slidingWindow,
            TorchDtype = JsonFields.OptionalString(root, "dtype", src) ?? JsonFields.OptionalString(root, "torch_dtype", src),
            HiddenAct = JsonFields.OptionalString(root, "hidden_act", src) ?? "silu",
            Rope = ParseRope(root, src),
        };
    }

    private static ModelArchitecture ParseArchitecture(JsonElement root, string src)
    {
        string supported = string.Join(", ", Architectures.Select(a => a.ClassName));
        if (JsonFields.TryGet(root, "architectures", out var archs))
        {
            if (archs.ValueKind != JsonValueKind.Array || archs.GetArrayLength() == 0 || archs[0].ValueKind != JsonValueKind.String)
                throw JsonFields.WrongType(src, "architectures", "a non-empty list of strings", archs);
            string name = archs[0].GetString()!;
            foreach (var a in Architectures)
                if (a.ClassName == name) return a.Arch;
            throw new NotSupportedException($"{src}: architecture '{name}' is not supported (supported: {supported})");
        }
        string? modelType = JsonFields.OptionalString(root, "model_type", src)
            ?? throw new InvalidDataException($"{src}: missing required field 'architectures' (or 'model_type')");
        foreach (var a in Architectures)
            if (a.ModelType == modelType) return a.Arch;
        throw new NotSupportedException(
            $"{src}: architecture '{modelType}' is not supported (supported: {supported}; model_type {string.Join(", ", Architectures.Select(a => a.ModelType))})");
    }

    /// <summary>
    /// RoPE settings from <c>rope_parameters</c> (transformers 5) or from top-level <c>rope_theta</c> +
    /// <c>rope_scaling</c> (older checkpoints); both spellings give the same <see cref="RopeConfig"/>.
    /// </summary>
    private static RopeConfig ParseRope(JsonElement root, string src)
    {
        string field = "rope_parameters";
        JsonElement? p = JsonFields.OptionalObject(root, field, src);
        if (p is null)
        {
            field = "rope_scaling";
            p = JsonFields.OptionalObject(root, field, src);
        }

        double theta = (p is { } pt ? JsonFields.OptionalDouble(pt, "rope_theta", src, $"{field}.rope_theta") : null)
            ?? JsonFields.OptionalDouble(root, "rope_theta", src)
            ?? RopeConfig.DefaultTheta;
        if (!(theta > 0))
            throw new InvalidDataException($"{src}: field 'rope_theta' must be positive, got {theta}");
        double partial = (p is { } pp ? JsonFields.OptionalDouble(pp, "partial_rotary_factor", src, $"{field}.partial_rotary_factor") : null)
            ?? JsonFields.OptionalDouble(root, "partial_rotary_factor", src)
            ?? 1;
        if (!(partial > 0 && partial <= 1))
            throw new InvalidDataException($"{src}: field 'partial_rotary_factor' must be in (0, 1], got {partial}");

        if (p is not { } obj)
            return new RopeConfig(theta, PartialRotaryFactor: partial);

        string Sub(string name) => $"{field}.{name}";
        double Required(string name) =>
            JsonFields.OptionalDouble(obj, name, src, Sub(name)) is double v
                ? (v > 0 ? v : throw new InvalidDataException($"{src}: field '{Sub(name)}' must be positive, got {v}"))
                : throw JsonFields.Missing(src, Sub(name));

        string typeName = JsonFields.OptionalString(obj, "rope_type", src, Sub("rope_type"))
            ?? JsonFields.OptionalString(obj, "type", src, Sub("type"))
            ?? "default";
        const string supported = "supported: default, linear, llama3";
        switch (typeName)
        {
            case "default":
                return new RopeConfig(theta, PartialRotaryFactor: partial);
            case "linear":
                return new RopeConfig(theta, RopeType.Linear, Factor: Required("factor"), PartialRotaryFactor: partial);
            case "llama3":
                double origMax = Required("original_max_position_embeddings");
                if (origMax != Math.Floor(origMax) || origMax > int.MaxValue)
                    throw new InvalidDataException($"{src}: field '{Sub("original_max_position_embeddings")}' must be an integer, got {origMax}");
                return new RopeConfig(theta, RopeType.Llama3, Factor: Required("factor"), LowFreqFactor: Required("low_freq_factor"),
                    HighFreqFactor: Required("high_freq_factor"), OriginalMaxPositionEmbeddings: (int)origMax, PartialRotaryFactor: partial);
            case "dynamic":
                throw new NotSupportedException($"{src}: {field}: RoPE type 'dynamic' (dynamic NTK scaling) is not supported ({supported})");
            case "yarn":
                throw new NotSupportedException($"{src}: {field}: RoPE type 'yarn' is not supported ({supported})");
            default:
                throw new NotSupportedException($"{src}: {field}: RoPE type '{typeName}' is not supported ({supported})");
        }
    }

    private static int Positive(string field, int value, string src) =>
        value > 0 ? value : throw new InvalidDataException($"{src}: field '{field}' must be a positive integer, got {value}");
}
