using System.Text.Json;
using Granary.Engine;

namespace Granary.Serving.Tests;

/// <summary>Prefix caching: later sequences share the computed blocks of a common prefix and still decode exactly.</summary>
public sealed class PrefixCacheTests
{
    [Fact]
    public void SharedPrefixesReuseBlocksAndKeepGreedyTokensExact()
    {
        string dir = TestData.Fixture("llama-tiny");
        var prompts = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "reference.json"))).RootElement.GetProperty("prompts").EnumerateArray()
            .Select(p => (Ids: p.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(), Greedy: p.GetProperty("greedy").EnumerateArray().Select(e => e.GetInt32()).ToArray()))
            .ToArray();
        using var model = LocalModel.Load(dir, new LocalModelOptions { Engine = new EngineOptions { KvCacheBlocks = 64, BlockSize = 4, MaxBatchedTokens = 8 } });
        var engine = model.Engine;
        var longest = prompts.MaxBy(p => p.Ids.Length);

        var first = engine.Add(longest.Ids, SamplingParams.Greedy(12) with { IgnoreEos = true });
        engine.RunToCompletion();
        Assert.Equal(longest.Greedy, first.OutputIds.ToArray());
        Assert.Equal(0, first.CachedTokens);
        Assert.True(engine.Blocks.CachedBlocks > 0);

        // The same prompt twice at once, then again: every copy finds the prefix and decodes the same tokens.
        var again = Enumerable.Range(0, 3).Select(_ => engine.Add(longest.Ids, SamplingParams.Greedy(12) with { IgnoreEos = true })).ToList();
        var others = prompts.Where(p => p != longest).Select(p => (p, engine.Add(p.Ids, SamplingParams.Greedy(12) with { IgnoreEos = true }))).ToList();
        engine.RunToCompletion();
        foreach (var sequence in again)
        {
            Assert.Equal(longest.Greedy, sequence.OutputIds.ToArray());
            Assert.Equal((longest.Ids.Length - 1) / 4 * 4, sequence.CachedTokens);
        }
        foreach (var (p, sequence) in others) Assert.Equal(p.Greedy, sequence.OutputIds.ToArray());
        Assert.True(engine.Blocks.CacheHitTokens >= 3 * 28);
        Assert.Equal(engine.Blocks.TotalBlocks, engine.Blocks.FreeBlocks);
    }

    [Fact]
    public void CachedBlocksAreEvictedWhenTheCacheIsNeeded()
    {
        using var model = LocalModel.Load(TestData.Fixture("llama-tiny"), new LocalModelOptions { Engine = new EngineOptions { KvCacheBlocks = 12, BlockSize = 4, MaxBatchedTokens = 16 } });
        var engine = model.Engine;
        var random = new Random(5);
        for (int round = 0; round < 6; round++)
        {
            // Different 30-token prompts: each needs 10 of the 12 blocks, so earlier prefixes must be evicted.
            int[] ids = Enumerable.Range(0, 30).Select(_ => random.Next(3, 200)).ToArray();
            var sequence = engine.Add(ids, SamplingParams.Greedy(4) with { IgnoreEos = true });
            engine.RunToCompletion();
            Assert.Equal(4, sequence.OutputLength);
            Assert.Equal(engine.Blocks.TotalBlocks, engine.Blocks.FreeBlocks);
        }
    }
}
