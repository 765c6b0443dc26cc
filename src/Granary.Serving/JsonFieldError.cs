using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;

namespace Granary.Serving;

/// <summary>
/// Turns the serializer's complaint about a field (its message names .NET types) into the 400 OpenAI answers:
/// "temperature must be a number, got a string", or an integer out of range for a number that does not fit.
/// </summary>
internal static partial class JsonFieldError
{
    public static ApiException From(JsonException exception, byte[] body, JsonTypeInfo root)
    {
        var segments = Segments(exception.Path ?? "$");
        if (segments.Count == 0) return new ApiException(400, "the request body must be a JSON object", code: "invalid_json");
        string param = (exception.Path ?? "$")[2..];
        string expected = Describe(Expected(root, segments));
        var (kind, raw) = Found(body, segments);
        if (expected == "an integer" && kind == JsonValueKind.Number && double.TryParse(raw, CultureInfo.InvariantCulture, out double value) && Math.Floor(value) == value)
        {
            return value > 0
                ? new ApiException(400, $"{param} is too large: expected at most {int.MaxValue}, got {raw}", param, "integer_above_max_value")
                : new ApiException(400, $"{param} is too small: expected at least {int.MinValue}, got {raw}", param, "integer_below_min_value");
        }
        return new ApiException(400, $"{param} must be {expected}, got {Describe(kind)}", param, "invalid_type");
    }

    /// <summary>The property names and array indices ("[" and the index) of a System.Text.Json path such as <c>$.messages[0].role</c>.</summary>
    private static List<string> Segments(string path) =>
        [.. PathSegment().Matches(path).Select(m => m.Groups["name"].Success ? m.Groups["name"].Value : m.Groups["quoted"].Success ? m.Groups["quoted"].Value : "[" + m.Groups["index"].Value)];

    private static Type? Expected(JsonTypeInfo root, List<string> segments)
    {
        var info = root;
        foreach (string segment in segments)
        {
            Type? next = segment.StartsWith('[') ? info.ElementType : info.Properties.FirstOrDefault(p => p.Name == segment)?.PropertyType;
            if (next is null) return null;
            info = info.Options.GetTypeInfo(next);
        }
        return info.Type;
    }

    private static string Describe(Type? type) => (type is null ? null : Nullable.GetUnderlyingType(type) ?? type) switch
    {
        { } t when t == typeof(float) || t == typeof(double) || t == typeof(decimal) => "a number",
        { } t when t == typeof(int) || t == typeof(long) => "an integer",
        { } t when t == typeof(bool) => "a boolean",
        { } t when t == typeof(string) => "a string",
        { } t when t != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(t) => "an array",
        _ => "an object",
    };

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>The kind and text of the value at the path (the body is valid JSON by now).</summary>
    private static (JsonValueKind Kind, string Raw) Found(byte[] body, List<string> segments)
    {
        using var document = JsonDocument.Parse(body);
        var element = document.RootElement;
        foreach (string segment in segments)
        {
            if (segment.StartsWith('['))
            {
                int index = int.Parse(segment.AsSpan(1), CultureInfo.InvariantCulture);
                if (element.ValueKind != JsonValueKind.Array || index >= element.GetArrayLength()) return (JsonValueKind.Undefined, "");
                element = element[index];
            }
            else if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(segment, out element)) return (JsonValueKind.Undefined, "");
        }
        return (element.ValueKind, element.GetRawText());
    }

    [GeneratedRegex(@"\.(?<name>[^.\[]+)|\['(?<quoted>[^']*)'\]|\[(?<index>\d+)\]")]
    private static partial Regex PathSegment();
}
