using System.Text;
using System.Text.Json;

namespace Granary.Grains.Tests;

/// <summary>Completions as a client sees them: the whole text of a greedy answer, streamed or not.</summary>
internal static class Completions
{
    public static readonly string[] Prompts =
    [
        "Once upon a time", "The little dog", "Tom and Sue", "One day, a bird", "There was a big tree", "Lily wanted to", "The sun was", "A boy named Ben",
    ];

    private static string Body(string prompt, int maxTokens, bool stream) =>
        JsonSerializer.Serialize(new Dictionary<string, object> { ["prompt"] = prompt, ["max_tokens"] = maxTokens, ["temperature"] = 0, ["ignore_eos"] = true, ["stream"] = stream });

    /// <summary>A non-streamed completion; a 503 (the gateway has not seen a replica the status already shows) is asked again for a few seconds, as clients do.</summary>
    public static async Task<string> CompleteAsync(HttpClient http, Uri baseUrl, string prompt, int maxTokens)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            using var response = await http.PostAsync(new Uri(baseUrl, "/v1/completions"), new StringContent(Body(prompt, maxTokens, false), Encoding.UTF8, "application/json"));
            string text = await response.Content.ReadAsStringAsync();
            if ((int)response.StatusCode == 503 && clock.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(200);
                continue;
            }
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
            return JsonDocument.Parse(text).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        }
    }

    /// <summary>Streams a completion and returns its text; <paramref name="onChunk"/> sees the number of chunks so far.</summary>
    public static async Task<string> StreamAsync(HttpClient http, Uri baseUrl, string prompt, int maxTokens, Action<int>? onChunk = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUrl, "/v1/completions")) { Content = new StringContent(Body(prompt, maxTokens, true), Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var text = new StringBuilder();
        int chunks = 0;
        bool done = false;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            if (line == "data: [DONE]")
            {
                done = true;
                break;
            }
            var root = JsonDocument.Parse(line[6..]).RootElement;
            if (root.TryGetProperty("error", out var error)) throw new Xunit.Sdk.XunitException($"error event: {error}");
            foreach (var choice in root.GetProperty("choices").EnumerateArray()) text.Append(choice.GetProperty("text").GetString());
            onChunk?.Invoke(++chunks);
        }
        Assert.True(done, "the stream ended without [DONE]");
        return text.ToString();
    }
}
