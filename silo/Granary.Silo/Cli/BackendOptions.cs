using System.CommandLine;
using System.Net.Http;
using Granary.Client;

namespace Granary.Silo.Cli;

/// <summary>
/// The flags <c>granary chat</c> and <c>granary complete</c> share: where the text comes from (a gateway with
/// <c>--base-url</c>, or a model folder with <c>--model</c> and the engine flags of <see cref="CommonOptions"/>) and the sampling.
/// </summary>
internal sealed class BackendOptions
{
    private readonly CommonOptions _common = new();

    public BackendOptions(int? defaultMaxTokens)
    {
        // Either --base-url or --model: the validator below says which is missing.
        _common.Model.Required = false;
        _common.Model.Description = "Model folder to run in this process, without a server (instead of --base-url)";
        MaxTokens = new Option<int?>("--max-tokens")
        {
            Description = defaultMaxTokens is { } d ? $"Tokens to generate (default {d})" : "Most tokens per answer (default: the room left in the context)",
            DefaultValueFactory = _ => defaultMaxTokens,
        };
    }

    public Option<string[]> BaseUrl { get; } = new("--base-url") { Description = "Gateway URL, e.g. http://127.0.0.1:8000 (repeat for failover across gateways)", AllowMultipleArgumentsPerToken = false };
    public Option<string?> ApiKey { get; } = new("--api-key") { Description = "API key of the gateway (default: $GRANARY_API_KEY)" };
    public Option<string?> ModelName { get; } = new("--model-name") { Description = "Model the gateway should answer with (default: its served model)" };
    public Option<int?> MaxTokens { get; }
    public Option<float?> Temperature { get; } = new("--temperature") { Description = "0 for greedy (default 1)" };
    public Option<float?> TopP { get; } = new("--top-p") { Description = "Nucleus sampling (default 1)" };
    public Option<int?> TopK { get; } = new("--top-k") { Description = "Keep the k most likely tokens (default: all)" };
    public Option<int?> Seed { get; } = new("--seed") { Description = "Seed for reproducible sampling" };
    public Option<string[]> Stop { get; } = new("--stop") { Description = "Stop string (repeatable)", AllowMultipleArgumentsPerToken = false };
    public Option<bool> IgnoreEos { get; } = new("--ignore-eos") { Description = "Generate past end-of-sequence tokens" };

    public void AddTo(Command command)
    {
        command.Options.Add(BaseUrl);
        command.Options.Add(ApiKey);
        command.Options.Add(ModelName);
        _common.AddTo(command);
        foreach (var option in new Option[] { MaxTokens, Temperature, TopP, TopK, Seed, Stop, IgnoreEos })
            command.Options.Add(option);
        command.Validators.Add(result =>
        {
            bool remote = result.GetResult(BaseUrl) is not null, local = result.GetResult(_common.Model) is not null;
            if (remote == local) result.AddError("give exactly one of --base-url (a gateway) and --model (a model folder run in this process)");
        });
    }

    public GenerationSettings Settings(ParseResult parse)
    {
        var settings = new GenerationSettings
        {
            MaxTokens = parse.GetValue(MaxTokens),
            Temperature = parse.GetValue(Temperature),
            TopP = parse.GetValue(TopP),
            TopK = parse.GetValue(TopK),
            Seed = parse.GetValue(Seed),
            Stop = parse.GetValue(Stop) ?? [],
            IgnoreEos = parse.GetValue(IgnoreEos),
        };
        if (settings.MaxTokens is < 1) throw new ArgumentException($"--max-tokens must be at least 1, got {settings.MaxTokens}");
        if (settings.Temperature is < 0) throw new ArgumentException($"--temperature must be >= 0, got {settings.Temperature}");
        return settings;
    }

    /// <summary>
    /// Connects to the gateway(s), or loads the model in this process. Null in a rank other than 0 of a
    /// one-process-per-rank launch: that process served its slice (as <c>granary generate</c>'s do) and is done.
    /// </summary>
    public async Task<IGenerationBackend?> CreateAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        if (parse.GetValue(BaseUrl) is { Length: > 0 } urls)
        {
            string? key = parse.GetValue(ApiKey) ?? Environment.GetEnvironmentVariable("GRANARY_API_KEY");
            return await RemoteBackend.ConnectAsync(urls, string.IsNullOrEmpty(key) ? null : key, parse.GetValue(ModelName), cancellationToken);
        }
        var options = _common.Read(parse);
        if (options.Parallel.Cluster is { Rank: > 0 })
        {
            using var loggers = CliLogging.Create(quiet: true);
            Granary.Engine.LocalModel.RunWorker(parse.GetValue(_common.Model)!, options, loggers, cancellationToken);
            return null;
        }
        return new EmbeddedBackend(parse.GetValue(_common.Model)!, options);
    }

    /// <summary>
    /// The errors of a session that the user can act on (a refused request, an unreachable gateway, a prompt too
    /// long): printed as one line, and in a chat the session goes on.
    /// </summary>
    public static bool IsRequestError(Exception e) => e is GranaryApiException or HttpRequestException or TimeoutException or ArgumentException or InvalidOperationException or InvalidDataException or IOException;
}
