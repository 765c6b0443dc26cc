using System.Text.Json;
using Granary.Engine;

namespace Granary.Serving.Tests;

/// <summary>Continuous batching changes nothing in what greedy decoding produces.</summary>
[Collection(Stories15MCollection.Name)]
public sealed class ContinuousBatchingTests(Stories15MServer server)
{
    private static readonly string[] Names = ["Tom", "Lily", "Ben", "Mia", "Sam", "Anna", "Max", "Sue", "Tim", "Zoe", "Bob", "Amy", "Jack", "Lucy", "Dan", "Kim"];

    [Fact]
    public async Task SixteenConcurrentStreamsMatchSixteenSequentialGreedyRuns()
    {
        const int maxTokens = 16;
        // Prompts of different lengths, so sequences join and leave the batch at different steps.
        var prompts = Names.Select((n, i) => $"Once upon a time, {n} {string.Join(' ', Enumerable.Repeat("went to the park and", i % 4))} saw").ToArray();

        // Reference: each prompt alone, through the engine of a second copy of the model.
        using var reference = LocalModel.Load(TestData.Stories15M, new LocalModelOptions { Engine = new EngineOptions { KvCacheBlocks = 32, MaxSequences = 1 } });
        var expected = prompts.Select(p =>
        {
            var sequence = reference.Engine.Add(reference.Tokenizer.Encode(p), SamplingParams.Greedy(maxTokens) with { IgnoreEos = true });
            reference.Engine.RunToCompletion();
            return sequence.OutputIds.ToArray().Select(id => TokenText(reference, id)).ToArray();
        }).ToArray();

        var streams = prompts.Select(p => server.StreamAsync("/v1/completions",
            $$"""{"prompt":{{JsonSerializer.Serialize(p)}},"max_tokens":{{maxTokens}},"temperature":0,"ignore_eos":true,"stream":true,"logprobs":0}""")).ToArray();
        var results = await Task.WhenAll(streams);
        for (int i = 0; i < prompts.Length; i++)
        {
            var (events, done) = results[i];
            Assert.True(done);
            var tokens = events.SelectMany(e => e.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!)).ToArray();
            Assert.Equal(expected[i], tokens);
        }
    }

    private static string TokenText(LocalModel model, int id) => System.Text.Encoding.UTF8.GetString(model.Tokenizer.GetTokenBytes(id));
}
