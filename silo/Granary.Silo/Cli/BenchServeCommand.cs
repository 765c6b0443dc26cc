using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Granary.Silo.Cli;

/// <summary>
/// <c>granary bench serve</c>: load on a running OpenAI-compatible server, like <c>vllm bench serve</c>
/// with the random dataset: prompts of random token ids sent to /v1/completions with ignore_eos, at a
/// request rate (Poisson arrivals, or all at once) under a concurrency cap; reports request and token
/// throughput, TTFT, TPOT, ITL and end-to-end latency (mean, median, p99), also as JSON.
/// </summary>
internal static class BenchServeCommand
{
    public static Command Create()
    {
        var baseUrl = new Option<string>("--base-url") { Description = "Server URL, e.g. http://127.0.0.1:8000", DefaultValueFactory = _ => "http://127.0.0.1:8000" };
        var model = new Option<string?>("--model") { Description = "Model name to send (default: the first of GET /v1/models)" };
        var numPrompts = new Option<int>("--num-prompts") { Description = "Requests to send", DefaultValueFactory = _ => 100 };
        var rate = new Option<string>("--request-rate") { Description = "Requests per second (Poisson arrivals) or inf (all at once)", DefaultValueFactory = _ => "inf" };
        var concurrency = new Option<int>("--max-concurrency") { Description = "Most requests in flight (0: no cap)" };
        var inputLen = new Option<int>("--input-len", "--random-input-len") { Description = "Prompt tokens per request", DefaultValueFactory = _ => 32 };
        var outputLen = new Option<int>("--output-len", "--random-output-len") { Description = "Generated tokens per request", DefaultValueFactory = _ => 64 };
        var vocab = new Option<int>("--vocab-size") { Description = "Random prompt ids are drawn from [3, vocab-size)", DefaultValueFactory = _ => 32000 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 0 };
        var apiKey = new Option<string?>("--api-key") { Description = "Bearer key (default: $GRANARY_API_KEY / $OPENAI_API_KEY)" };
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file ('-' for stdout)" };
        var command = new Command("serve", "Benchmark a running OpenAI-compatible server (like vllm bench serve)");
        foreach (var option in new Option[] { baseUrl, model, numPrompts, rate, concurrency, inputLen, outputLen, vocab, seed, apiKey, json })
            command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new Settings(
                parse.GetValue(baseUrl)!.TrimEnd('/'), parse.GetValue(model), parse.GetValue(numPrompts), ParseRate(parse.GetValue(rate)!),
                parse.GetValue(concurrency), parse.GetValue(inputLen), parse.GetValue(outputLen), parse.GetValue(vocab), parse.GetValue(seed),
                parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("GRANARY_API_KEY") ?? Environment.GetEnvironmentVariable("OPENAI_API_KEY"));
            if (settings.NumPrompts < 1) throw new ArgumentException($"--num-prompts must be at least 1, got {settings.NumPrompts}");
            if (settings.InputLen < 1 || settings.OutputLen < 1) throw new ArgumentException("--input-len and --output-len must be at least 1");
            if (settings.VocabSize < 4) throw new ArgumentException($"--vocab-size must be at least 4, got {settings.VocabSize}");
            if (settings.Concurrency < 0) throw new ArgumentException($"--max-concurrency must be >= 0, got {settings.Concurrency}");
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            var result = await RunAsync(settings, stderr, cancellationToken);
            stdout.Write(Summary(settings, result));
            if (parse.GetValue(json) is { } path)
            {
                string text = JsonSerializer.Serialize(result.ToJson(settings), new JsonSerializerOptions { WriteIndented = true });
                if (path == "-") stdout.WriteLine(text);
                else File.WriteAllText(path, text);
            }
            return result.Failed == 0 ? 0 : 1;
        });
        return command;
    }

    private static double ParseRate(string text)
    {
        if (text.Equals("inf", StringComparison.OrdinalIgnoreCase)) return double.PositiveInfinity;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double r) || !(r > 0)) throw new ArgumentException($"--request-rate must be a positive number or inf, got '{text}'");
        return r;
    }

    private sealed record Settings(string BaseUrl, string? Model, int NumPrompts, double Rate, int Concurrency, int InputLen, int OutputLen, int VocabSize, int Seed, string? ApiKey);

    private sealed class RequestResult
    {
        public bool Success;
        public string? Error;
        public int OutputTokens;
        public double Ttft, Latency;
        public List<double> Itl = [];
    }

    private sealed record Result(double Duration, List<RequestResult> Requests, int InputTokens)
    {
        public IEnumerable<RequestResult> Ok => Requests.Where(r => r.Success);
        public int Completed => Ok.Count();
        public int Failed => Requests.Count - Completed;
        public long OutputTokens => Ok.Sum(r => (long)r.OutputTokens);

        public Dictionary<string, object> ToJson(Settings s)
        {
            var ok = Ok.ToList();
            var tpot = ok.Where(r => r.OutputTokens > 1).Select(r => (r.Latency - r.Ttft) / (r.OutputTokens - 1)).ToList();
            var json = new Dictionary<string, object>
            {
                ["num_prompts"] = s.NumPrompts, ["request_rate"] = double.IsInfinity(s.Rate) ? "inf" : s.Rate, ["max_concurrency"] = s.Concurrency,
                ["input_len"] = s.InputLen, ["output_len"] = s.OutputLen,
                ["duration"] = Duration, ["completed"] = Completed, ["failed"] = Failed,
                ["total_input_tokens"] = (long)InputTokens * Completed / Math.Max(1, Requests.Count), ["total_output_tokens"] = OutputTokens,
                ["request_throughput"] = Completed / Duration, ["output_throughput"] = OutputTokens / Duration,
                ["total_token_throughput"] = ((double)InputTokens * Completed / Math.Max(1, Requests.Count) + OutputTokens) / Duration,
            };
            Stats(json, "ttft", ok.Select(r => r.Ttft));
            Stats(json, "tpot", tpot);
            Stats(json, "itl", ok.SelectMany(r => r.Itl));
            Stats(json, "e2el", ok.Select(r => r.Latency));
            return json;
        }

        private static void Stats(Dictionary<string, object> json, string name, IEnumerable<double> seconds)
        {
            var ms = seconds.Select(v => v * 1000).Order().ToArray();
            json[$"mean_{name}_ms"] = ms.Length == 0 ? 0 : ms.Average();
            json[$"median_{name}_ms"] = Percentile(ms, 50);
            json[$"p99_{name}_ms"] = Percentile(ms, 99);
        }
    }

    /// <summary>Linear interpolation between closest ranks (numpy's default).</summary>
    private static double Percentile(double[] sorted, double p)
    {
        if (sorted.Length == 0) return 0;
        double rank = p / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    private static async Task<Result> RunAsync(Settings s, TextWriter stderr, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = TimeSpan.FromMinutes(10) }) { Timeout = Timeout.InfiniteTimeSpan };
        if (s.ApiKey is { Length: > 0 }) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", s.ApiKey);
        string model = s.Model ?? await FirstModelAsync(http, s.BaseUrl, cancellationToken);

        var random = new Random(s.Seed);
        var prompts = Enumerable.Range(0, s.NumPrompts).Select(_ => Enumerable.Range(0, s.InputLen).Select(_ => random.Next(3, s.VocabSize)).ToArray()).ToList();
        // One short request first: fails fast on a wrong URL or model, and warms the server up.
        var probe = await SendAsync(http, s.BaseUrl, model, prompts[0], 2, cancellationToken);
        if (!probe.Success) throw new IOException($"test request to {s.BaseUrl}/v1/completions failed: {probe.Error}");

        using var gate = s.Concurrency > 0 ? new SemaphoreSlim(s.Concurrency) : null;
        var results = new RequestResult[s.NumPrompts];
        int done = 0;
        var progress = new ProgressBar(stderr, "bench serve");
        int milestone = Math.Max(1, s.NumPrompts / 10);
        var clock = Stopwatch.StartNew();
        var tasks = new List<Task>(s.NumPrompts);
        for (int i = 0; i < s.NumPrompts; i++)
        {
            if (i > 0 && !double.IsInfinity(s.Rate))
                await Task.Delay(TimeSpan.FromSeconds(-Math.Log(1 - random.NextDouble()) / s.Rate), cancellationToken);
            int index = i;
            tasks.Add(Task.Run(async () =>
            {
                if (gate is not null) await gate.WaitAsync(cancellationToken);
                try
                {
                    results[index] = await SendAsync(http, s.BaseUrl, model, prompts[index], s.OutputLen, cancellationToken);
                }
                finally
                {
                    gate?.Release();
                    int finished = Interlocked.Increment(ref done);
                    progress.Report(finished, s.NumPrompts, $"{finished}/{s.NumPrompts} requests, {progress.ElapsedSeconds:F1} s", milestone: finished % milestone == 0 || finished == s.NumPrompts);
                }
            }, cancellationToken));
        }
        await Task.WhenAll(tasks);
        double duration = clock.Elapsed.TotalSeconds;
        progress.Done();
        foreach (var failed in results.Where(r => !r.Success).Take(3)) stderr.WriteLine($"request failed: {failed.Error}");
        return new Result(duration, [.. results], s.InputLen * s.NumPrompts);
    }

    private static async Task<string> FirstModelAsync(HttpClient http, string baseUrl, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"{baseUrl}/v1/models", cancellationToken);
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return doc.RootElement.GetProperty("data")[0].GetProperty("id").GetString()!;
    }

    private static async Task<RequestResult> SendAsync(HttpClient http, string baseUrl, string model, int[] prompt, int outputLen, CancellationToken cancellationToken)
    {
        var result = new RequestResult();
        var body = new StringBuilder();
        body.Append("{\"model\":").Append(JsonSerializer.Serialize(model)).Append(",\"prompt\":[").AppendJoin(',', prompt)
            .Append("],\"max_tokens\":").Append(outputLen).Append(",\"temperature\":0,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        long start = Stopwatch.GetTimestamp(), last = start;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{baseUrl}/v1/completions") { Content = new StringContent(body.ToString(), Encoding.UTF8, "application/json") };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                result.Error = $"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}";
                return result;
            }
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            int chunks = 0;
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                var data = line.AsSpan(6);
                if (data.SequenceEqual("[DONE]")) break;
                using var doc = JsonDocument.Parse(line.AsMemory(6));
                var root = doc.RootElement;
                if (root.TryGetProperty("error", out var error))
                {
                    result.Error = error.GetProperty("message").GetString();
                    return result;
                }
                if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                    result.OutputTokens = usage.GetProperty("completion_tokens").GetInt32();
                if (root.GetProperty("choices").GetArrayLength() == 0) continue;
                long now = Stopwatch.GetTimestamp();
                if (chunks++ == 0) result.Ttft = Stopwatch.GetElapsedTime(start, now).TotalSeconds;
                else result.Itl.Add(Stopwatch.GetElapsedTime(last, now).TotalSeconds);
                last = now;
            }
            result.Latency = Stopwatch.GetElapsedTime(start).TotalSeconds;
            result.Success = chunks > 0;
            if (!result.Success) result.Error = "the stream ended without output";
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException)
        {
            result.Error = e.Message;
        }
        return result;
    }

    private static string Summary(Settings s, Result r)
    {
        var json = r.ToJson(s);
        var text = new StringBuilder();
        void Line(string label, object value) => text.Append(CultureInfo.InvariantCulture, $"{label,-40} {value switch { double d => d.ToString("F2", CultureInfo.InvariantCulture), _ => value }}\n");
        void Head(string title) => text.Append(title.PadLeft(25 + title.Length / 2, '-').PadRight(50, '-')).Append('\n');
        text.Append("============ Serving Benchmark Result ============\n");
        Line("Successful requests:", r.Completed);
        Line("Failed requests:", r.Failed);
        Line("Maximum request concurrency:", s.Concurrency == 0 ? "none" : s.Concurrency);
        Line("Request rate (req/s):", double.IsInfinity(s.Rate) ? "inf" : s.Rate);
        Line("Benchmark duration (s):", r.Duration);
        Line("Total input tokens:", json["total_input_tokens"]);
        Line("Total generated tokens:", r.OutputTokens);
        Line("Request throughput (req/s):", json["request_throughput"]);
        Line("Output token throughput (tok/s):", json["output_throughput"]);
        Line("Total token throughput (tok/s):", json["total_token_throughput"]);
        foreach (var (key, title) in new[] { ("ttft", "Time to First Token"), ("tpot", "Time per Output Token (excl. 1st token)"), ("itl", "Inter-token Latency"), ("e2el", "End-to-end Latency") })
        {
            Head(title);
            string upper = key.ToUpperInvariant();
            Line($"Mean {upper} (ms):", json[$"mean_{key}_ms"]);
            Line($"Median {upper} (ms):", json[$"median_{key}_ms"]);
            Line($"P99 {upper} (ms):", json[$"p99_{key}_ms"]);
        }
        text.Append("==================================================\n");
        return text.ToString();
    }
}
