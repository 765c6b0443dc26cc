using System.Text.Json;

namespace Granary.ChatTemplates.Tests;

/// <summary>Loads tests/data (copied to the output as data/...): fixtures and chat_templates/expected.json.</summary>
internal static class ReferenceData
{
    public static string DataDir => Path.Combine(AppContext.BaseDirectory, "data");
    public static string ChatTemplatesDir => Path.Combine(DataDir, "chat_templates");

    private static readonly Lazy<JsonDocument> Expected = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(ChatTemplatesDir, "expected.json"))));

    public static JsonElement Cases => Expected.Value.RootElement.GetProperty("cases");
    public static JsonElement Snippets => Expected.Value.RootElement.GetProperty("snippets");

    public static List<ChatMessage> Messages(JsonElement array) =>
        array.EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();

    public static Dictionary<string, object?> Variables(JsonElement obj)
    {
        var d = new Dictionary<string, object?>();
        if (obj.ValueKind == JsonValueKind.Object)
            foreach (var p in obj.EnumerateObject()) d[p.Name] = p.Value.Clone();
        return d;
    }

    public static string? StringOrNull(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetString() : null;
}

/// <summary>The clock make_expected.py gives strftime_now: 2025-03-09 14:05:07 (local = UTC here).</summary>
internal sealed class FixedTimeProvider : TimeProvider
{
    public static readonly FixedTimeProvider Instance = new();
    public override DateTimeOffset GetUtcNow() => new(2025, 3, 9, 14, 5, 7, TimeSpan.Zero);
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
}
