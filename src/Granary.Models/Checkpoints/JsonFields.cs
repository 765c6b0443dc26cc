using System.Text.Json;

namespace Granary.Models.Checkpoints;

/// <summary>
/// Typed reads of JSON fields with errors that name the source file and the field: shared by every
/// JSON file of a checkpoint (config.json, generation_config.json, index.json, safetensors headers).
/// A field that is absent or JSON null counts as missing, as in Hugging Face's loaders.
/// </summary>
internal static class JsonFields
{
    /// <summary>Parses a JSON document, turning syntax errors into an error that names the source.</summary>
    public static JsonDocument Parse(string json, string source)
    {
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: malformed JSON: {e.Message}", e);
        }
    }

    /// <summary>Reads and parses a JSON file; the error names the file.</summary>
    public static JsonDocument ParseFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>The root as an object, or an error naming the source.</summary>
    public static JsonElement RootObject(JsonDocument doc, string source)
    {
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{source}: expected a JSON object at the top level, got {Describe(doc.RootElement)}");
        return doc.RootElement;
    }

    /// <summary>The field's value, or false when it is absent or null.</summary>
    public static bool TryGet(JsonElement obj, string field, out JsonElement value)
    {
        if (obj.TryGetProperty(field, out value) && value.ValueKind != JsonValueKind.Null)
            return true;
        value = default;
        return false;
    }

    public static int RequiredInt(JsonElement obj, string field, string source) =>
        OptionalInt(obj, field, source) ?? throw Missing(source, field);

    public static int? OptionalInt(JsonElement obj, string field, string source)
    {
        if (!TryGet(obj, field, out var v)) return null;
        return AsInt(v, field, source);
    }

    public static long? OptionalLong(JsonElement obj, string field, string source)
    {
        if (!TryGet(obj, field, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long l)) return l;
        // Integral values written as floats (e.g. 4096.0) are accepted, as Python would.
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) < 9e15) return (long)d;
        throw WrongType(source, field, "an integer", v);
    }

    public static int AsInt(JsonElement v, string field, string source)
    {
        if (v.ValueKind == JsonValueKind.Number)
        {
            if (v.TryGetInt32(out int i)) return i;
            if (v.TryGetDouble(out double d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue) return (int)d;
        }
        throw WrongType(source, field, "an integer", v);
    }

    public static double RequiredDouble(JsonElement obj, string field, string source) =>
        OptionalDouble(obj, field, source) ?? throw Missing(source, field);

    /// <param name="obj">Object holding the field.</param>
    /// <param name="field">Property name.</param>
    /// <param name="source">File named in errors.</param>
    /// <param name="label">Field as named in errors (e.g. "rope_parameters.factor"); <paramref name="field"/> when null.</param>
    public static double? OptionalDouble(JsonElement obj, string field, string source, string? label = null)
    {
        if (!TryGet(obj, field, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d)) return d;
        throw WrongType(source, label ?? field, "a number", v);
    }

    public static bool? OptionalBool(JsonElement obj, string field, string source)
    {
        if (!TryGet(obj, field, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(source, field, "true or false", v),
        };
    }

    public static string? OptionalString(JsonElement obj, string field, string source, string? label = null)
    {
        if (!TryGet(obj, field, out var v)) return null;
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        throw WrongType(source, label ?? field, "a string", v);
    }

    public static JsonElement? OptionalObject(JsonElement obj, string field, string source)
    {
        if (!TryGet(obj, field, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Object) return v;
        throw WrongType(source, field, "an object", v);
    }

    /// <summary>An integer or a list of integers (eos_token_id); empty when absent.</summary>
    public static int[] IntOrIntList(JsonElement obj, string field, string source)
    {
        if (!TryGet(obj, field, out var v)) return [];
        if (v.ValueKind == JsonValueKind.Number) return [AsInt(v, field, source)];
        if (v.ValueKind == JsonValueKind.Array)
        {
            var list = new int[v.GetArrayLength()];
            int i = 0;
            foreach (var item in v.EnumerateArray())
            {
                list[i] = AsInt(item, $"{field}[{i}]", source);
                i++;
            }
            return list;
        }
        throw WrongType(source, field, "an integer or a list of integers", v);
    }

    public static InvalidDataException Missing(string source, string field) =>
        new($"{source}: missing required field '{field}'");

    public static InvalidDataException WrongType(string source, string field, string expected, JsonElement got) =>
        new($"{source}: field '{field}' must be {expected}, got {Describe(got)}");

    /// <summary>A short description of a value for error messages: its kind and, when short, its text.</summary>
    public static string Describe(JsonElement v)
    {
        string kind = v.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            JsonValueKind.Null => "null",
            _ => v.ValueKind.ToString(),
        };
        string raw = v.GetRawText();
        return raw.Length <= 40 && v.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array) ? $"{kind} ({raw})" : kind;
    }
}
