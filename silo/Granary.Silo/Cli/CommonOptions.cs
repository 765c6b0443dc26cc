using System.CommandLine;
using Granary.Engine;

namespace Granary.Silo.Cli;

/// <summary>Options shared by the commands that load a model in this process.</summary>
internal sealed class CommonOptions
{
    public Option<string> Model { get; } = new("--model") { Description = "Model folder (Hugging Face layout: config.json, *.safetensors, tokenizer.json)", Required = true };
    public Option<int> Threads { get; } = new("--threads") { Description = "CPU threads (default: all cores)" };
    public Option<int> MaxModelLength { get; } = new("--max-model-len") { Description = "Longest prompt plus output (default: the model's context)" };
    public Option<long> KvCacheMiB { get; } = new("--kv-cache-mib") { Description = "KV cache memory in MiB (default 1024)", DefaultValueFactory = _ => 1024 };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Threads);
        command.Options.Add(MaxModelLength);
        command.Options.Add(KvCacheMiB);
    }

    public LocalModelOptions Read(ParseResult parse, int maxBatchedTokens = 512, int maxSequences = 64) => new()
    {
        Threads = parse.GetValue(Threads),
        Engine = new EngineOptions
        {
            MaxModelLength = parse.GetValue(MaxModelLength),
            KvCacheBytes = parse.GetValue(KvCacheMiB) * 1024 * 1024,
            MaxBatchedTokens = maxBatchedTokens,
            MaxSequences = maxSequences,
        },
    };
}
