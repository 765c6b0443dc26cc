using System.Text.Json;

namespace Granary.Models.Checkpoints;

/// <summary>
/// The sampling defaults of a checkpoint (<c>generation_config.json</c>). Every setting is optional: null (or an
/// empty list) means the file does not set it.
/// </summary>
public sealed class GenerationConfig
{
    /// <summary>File name inside a checkpoint folder.</summary>
    public const string FileName = "generation_config.json";

    /// <summary><c>bos_token_id</c>, or null.</summary>
    public int? BosTokenId { get; init; }

    /// <summary><c>eos_token_id</c> (an int or a list in the file); empty when not set.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary><c>temperature</c>, or null.</summary>
    public double? Temperature { get; init; }

    /// <summary><c>top_p</c>, or null.</summary>
    public double? TopP { get; init; }

    /// <summary><c>top_k</c>, or null.</summary>
    public int? TopK { get; init; }

    /// <summary><c>do_sample</c>, or null.</summary>
    public bool? DoSample { get; init; }

    /// <summary>Reads <c>generation_config.json</c> of a checkpoint folder; null when the folder has none.</summary>
    public static GenerationConfig? Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        return File.Exists(path) ? Parse(File.ReadAllText(path), path) : null;
    }

    /// <summary>Parses generation_config.json text; errors name <paramref name="sourceName"/> and the field.</summary>
    public static GenerationConfig Parse(string json, string sourceName)
    {
        using var doc = JsonFields.Parse(json, sourceName);
        var root = JsonFields.RootObject(doc, sourceName);
        return new GenerationConfig
        {
            BosTokenId = JsonFields.OptionalInt(root, "bos_token_id", sourceName),
            EosTokenIds = JsonFields.IntOrIntList(root, "eos_token_id", sourceName),
            Temperature = JsonFields.OptionalDouble(root, "temperature", sourceName),
            TopP = JsonFields.OptionalDouble(root, "top_p", sourceName),
            TopK = JsonFields.OptionalInt(root, "top_k", sourceName),
            DoSample = JsonFields.OptionalBool(root, "do_sample", sourceName),
        };
    }
}
