using System.CommandLine;
using System.Text.Json;
using Granary.ChatTemplates;
using Granary.Engine;
using Microsoft.Extensions.Logging;

namespace Granary.Silo.Cli;

/// <summary><c>granary generate</c>: one prompt through the engine in this process, printed as text or JSON.</summary>
internal static partial class GenerateCommand
{
    public static Command Create()
    {
        var common = new CommonOptions();
        var prompt = new Option<string>("--prompt") { Description = "Prompt text (tokenized with the model's special tokens, e.g. BOS)" };
        var promptIds = new Option<string>("--prompt-ids") { Description = "Prompt as comma-separated token ids, used exactly (no BOS added)" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens to generate", DefaultValueFactory = _ => 128 };
        var temperature = new Option<float>("--temperature") { Description = "0 for greedy", DefaultValueFactory = _ => 1f };
        var topP = new Option<float>("--top-p") { DefaultValueFactory = _ => 1f };
        var topK = new Option<int>("--top-k") { Description = "0 keeps all tokens" };
        var minP = new Option<float>("--min-p");
        var repetition = new Option<float>("--repetition-penalty") { DefaultValueFactory = _ => 1f };
        var seed = new Option<int?>("--seed");
        var logprobs = new Option<int?>("--logprobs") { Description = "Report log-probabilities with this many alternatives" };
        var stop = new Option<string[]>("--stop") { Description = "Stop string (repeatable)", AllowMultipleArgumentsPerToken = false };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Generate past end-of-sequence tokens" };
        var chat = new Option<bool>("--chat") { Description = "Wrap the prompt as a user message in the model's chat template" };
        var output = new Option<string>("--output") { Description = "text or json", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "json");

        var command = new Command("generate", "Generate a continuation of one prompt with the model in this process");
        common.AddTo(command);
        foreach (var option in new Option[] { prompt, promptIds, maxTokens, temperature, topP, topK, minP, repetition, seed, logprobs, stop, ignoreEos, chat, output })
            command.Options.Add(option);
        command.Validators.Add(result =>
        {
            if ((result.GetResult(prompt) is null) == (result.GetResult(promptIds) is null)) result.AddError("give exactly one of --prompt and --prompt-ids");
            if (result.GetResult(chat) is not null && result.GetResult(promptIds) is not null) result.AddError("--chat needs --prompt, not --prompt-ids");
        });

        command.SetAction((parse, cancellationToken) =>
        {
            var sampling = new SamplingParams
            {
                MaxTokens = parse.GetValue(maxTokens),
                Temperature = parse.GetValue(temperature),
                TopP = parse.GetValue(topP),
                TopK = parse.GetValue(topK),
                MinP = parse.GetValue(minP),
                RepetitionPenalty = parse.GetValue(repetition),
                Seed = parse.GetValue(seed),
                Logprobs = parse.GetValue(logprobs),
                Stop = parse.GetValue(stop) ?? [],
                IgnoreEos = parse.GetValue(ignoreEos),
            };
            sampling.Validate();
            int[]? ids = parse.GetValue(promptIds) is { } text ? ParseIds(text) : null;
            using var loggers = CliLogging.Create();
            var options = common.Read(parse);
            if (options.Parallel.Cluster is { Rank: > 0 })
            {
                // One process per rank: this one serves its slice until rank 0 (which prints the result) ends.
                LocalModel.RunWorker(parse.GetValue(common.Model)!, options, loggers, cancellationToken);
                return Task.FromResult(0);
            }
            using var model = LocalModel.Load(parse.GetValue(common.Model)!, options, loggers);
            string? promptText = parse.GetValue(prompt);
            bool asChat = parse.GetValue(chat);
            if (asChat && model.ChatTemplate is null) LogNoChatTemplate(loggers.CreateLogger("Granary.Generate"), model.Name);
            ids ??= asChat
                ? model.EncodeChat([new ChatMessage("user", promptText!)])
                : model.Tokenizer.Encode(promptText!, addSpecialTokens: true);

            var sequence = model.Engine.Add(ids, sampling);
            var progress = new ProgressBar(parse.InvocationConfiguration.Error, "generating");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (model.Engine.HasWork)
            {
                cancellationToken.ThrowIfCancellationRequested();
                model.Engine.Step();
                progress.Report(sequence.OutputLength, sampling.MaxTokens, $"{sequence.OutputLength}/{sampling.MaxTokens} tokens, {sequence.OutputLength / clock.Elapsed.TotalSeconds:F1} tokens/s");
            }
            progress.Done();
            if (model.Parallel is { } group)
                loggers.CreateLogger("Granary.Generate").LogInformation("{Plan}: {Tokens} tokens in {Seconds:F2} s ({Rate:F1} tokens/s); steps {StepSeconds:F2} s, communication {Share:P1} of the time",
                    group.Plan, sequence.OutputLength, clock.Elapsed.TotalSeconds, sequence.OutputLength / clock.Elapsed.TotalSeconds, group.ExecuteTime.TotalSeconds, group.CommunicationTime / clock.Elapsed);

            var stdout = parse.InvocationConfiguration.Output;
            if (parse.GetValue(output) == "json") stdout.WriteLine(ToJson(sequence));
            else stdout.WriteLine(asChat || promptText is null ? sequence.Text : promptText + sequence.Text);
            return Task.FromResult(0);
        });
        return command;
    }

    internal static int[] ParseIds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new ArgumentException("--prompt-ids is empty");
        return parts.Select(p => int.TryParse(p, out int id) && id >= 0 ? id : throw new ArgumentException($"--prompt-ids: '{p}' is not a token id")).ToArray();
    }

    private static string ToJson(Sequence sequence)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            WriteIds(json, "prompt_ids", sequence.PromptIds);
            WriteIds(json, "token_ids", sequence.OutputIds);
            json.WriteString("text", sequence.Text);
            json.WriteString("finish_reason", sequence.FinishReason?.ToString().ToLowerInvariant());
            if (sequence.Logprobs is { } logprobs)
            {
                json.WriteStartArray("logprobs");
                foreach (var position in logprobs)
                {
                    json.WriteStartObject();
                    json.WriteNumber("token_id", position.TokenId);
                    json.WriteNumber("logprob", position.Logprob);
                    json.WriteStartArray("top");
                    foreach (var alternative in position.Top)
                    {
                        json.WriteStartObject();
                        json.WriteNumber("token_id", alternative.TokenId);
                        json.WriteNumber("logprob", alternative.Logprob);
                        json.WriteEndObject();
                    }
                    json.WriteEndArray();
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "--chat: {Model}: " + ChatPrompt.NoTemplateFallback)]
    private static partial void LogNoChatTemplate(ILogger logger, string model);

    private static void WriteIds(Utf8JsonWriter json, string name, ReadOnlySpan<int> ids)
    {
        json.WriteStartArray(name);
        foreach (int id in ids) json.WriteNumberValue(id);
        json.WriteEndArray();
    }
}
