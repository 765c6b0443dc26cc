using System.CommandLine;
using Granary.Engine;
using Granary.Serving;
using Microsoft.Extensions.Logging;

namespace Granary.Silo.Cli;

/// <summary>
/// <c>granary serve</c>: the OpenAI-compatible server over a model in this process (the embedded default: one process,
/// no Redis): an Orleans silo alone with the model deployed on it (<see cref="EmbeddedSilo"/>); rank 0 of a static
/// launch (WORLD_SIZE, RANK_TABLE_FILE) serves its group directly.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var common = new CommonOptions();
        var host = new Option<string>("--host") { Description = "Address to listen on (IP, localhost or 0.0.0.0)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 picks a free one)", DefaultValueFactory = _ => 8000 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on /v1 requests (default: $GRANARY_API_KEY, else open)" };
        var servedName = new Option<string?>("--served-model-name") { Description = "Model name the API reports (default: the model folder's name)" };
        var maxSeqs = new Option<int>("--max-num-seqs") { Description = "Most sequences in the running batch", DefaultValueFactory = _ => 64 };
        var maxTokens = new Option<int>("--max-batched-tokens", "--max-num-batched-tokens") { Description = "Most tokens per step (chunked-prefill budget)", DefaultValueFactory = _ => 512 };
        var maxWaiting = new Option<int>("--max-waiting") { Description = "Most waiting sequences before new requests get 429", DefaultValueFactory = _ => 256 };
        var maxBody = new Option<int>("--max-body-kib") { Description = "Largest request body in KiB (bigger gets 413)", DefaultValueFactory = _ => 4096 };
        var warmup = new Option<double?>("--warmup")
        {
            Description = "Seconds of untimed generation before serving, so that the first requests run the JIT's optimized code (default: 2 on a GPU, 0.5 on the CPU; 0 serves at once)",
        };

        var command = new Command("serve", "Serve the model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/models, /metrics)");
        common.AddTo(command);
        foreach (var option in new Option[] { host, port, apiKey, servedName, maxSeqs, maxTokens, maxWaiting, maxBody, warmup })
            command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            int seqs = parse.GetValue(maxSeqs), tokens = parse.GetValue(maxTokens), waiting = parse.GetValue(maxWaiting), body = parse.GetValue(maxBody), listenPort = parse.GetValue(port);
            if (seqs < 1) throw new ArgumentException($"--max-num-seqs must be at least 1, got {seqs}");
            if (tokens < 1) throw new ArgumentException($"--max-batched-tokens must be at least 1, got {tokens}");
            if (waiting < 1) throw new ArgumentException($"--max-waiting must be at least 1, got {waiting}");
            if (body < 1) throw new ArgumentException($"--max-body-kib must be at least 1, got {body}");
            if (listenPort is < 0 or > 65535) throw new ArgumentException($"--port must be between 0 and 65535, got {listenPort}");
            if (parse.GetValue(warmup) is < 0) throw new ArgumentException($"--warmup must be at least 0 seconds, got {parse.GetValue(warmup)}");
            string? key = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("GRANARY_API_KEY");
            TimeSpan? duration = parse.GetValue(warmup) is { } seconds ? TimeSpan.FromSeconds(seconds) : null;
            using var loggers = CliLogging.Create();
            var modelOptions = common.Read(parse, maxBatchedTokens: tokens, maxSequences: seqs);
            string model = parse.GetValue(common.Model)!;
            if (modelOptions.Parallel.Cluster is null)
            {
                var settings = new EmbeddedSilo.Settings(model, modelOptions, parse.GetValue(common.Quantization)!, waiting, duration, parse.GetValue(host)!, listenPort,
                    key, parse.GetValue(servedName), body * 1024L);
                return await EmbeddedSilo.ServeAsync(settings, loggers, cancellationToken);
            }
            // A static launch (WORLD_SIZE, RANK_TABLE_FILE): this process is rank 0 of ranks started as one process each, outside Orleans.
            var options = new ServeOptions
            {
                Host = parse.GetValue(host)!,
                Port = listenPort,
                ApiKey = key,
                ServedModelName = parse.GetValue(servedName),
                MaxRequestBodyBytes = body * 1024L,
                Engine = new AsyncEngineOptions { MaxWaiting = waiting },
            };
            using var local = LocalModel.Load(model, modelOptions, loggers);
            await EngineWarmup.WarmUpAsync(local.Engine, local.Config.VocabSize, duration, modelOptions.Device, "The model", loggers.CreateLogger("Granary.Serve"), cancellationToken);
            await using var server = OpenAiServer.Create(local, options, loggers);
            await server.RunAsync(cancellationToken);
            return 0;
        });
        return command;
    }
}
