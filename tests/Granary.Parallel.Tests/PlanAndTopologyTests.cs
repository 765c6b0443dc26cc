using Granary.Engine;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;

namespace Granary.Parallel.Tests;

/// <summary>The check before loading (one line per violation, saying what to change) and the topology files.</summary>
public class PlanAndTopologyTests
{
    private static ModelConfig Config(string fixture) => ModelConfig.Load(TestData.Fixture(fixture));

    [Fact]
    public void EachViolationIsOneLineSayingWhatToChange()
    {
        var qwen = Config("qwen2-tiny"); // 8 heads, 2 KV heads, 3 layers
        var e = Assert.Throws<ArgumentException>(() => ParallelPlan.Create(qwen, 3, 2, [1, 1], worldSize: 4));
        var lines = e.Message.Split(Environment.NewLine);
        Assert.Contains(lines, l => l.Contains("TP 3 x PP 2 = 6") && l.Contains("product is 4"));
        Assert.Contains(lines, l => l.Contains("--tp 3 does not divide the 8 attention heads"));
        Assert.Contains(lines, l => l.Contains("covers 2 layers; the model has 3") && l.Contains("add up to 3"));
        Assert.All(lines, l => Assert.False(string.IsNullOrWhiteSpace(l)));

        Assert.Contains("has 2 stages but --pp is 3", Assert.Throws<ArgumentException>(() => ParallelPlan.Create(qwen, 1, 3, [2, 1])).Message);
        Assert.Contains("--pp 3 needs at least 3 layers; the model has 2", Assert.Throws<ArgumentException>(() => ParallelPlan.Create(Config("llama-tiny"), 1, 3)).Message);
        Assert.Contains("every stage needs at least one layer", Assert.Throws<ArgumentException>(() => ParallelPlan.Create(qwen, 1, 2, [3, 0])).Message);
    }

    [Theory]
    [InlineData(3, 2, "2,1")]
    [InlineData(8, 3, "3,3,2")]
    [InlineData(6, 3, "2,2,2")]
    public void DefaultPartitionPutsExtraLayersBeforeTheLastStage(int layers, int pp, string expected) =>
        Assert.Equal(expected, string.Join(',', ParallelPlan.DefaultPartition(layers, pp)));

    [Fact]
    public void PlanNamesEachRanksShare()
    {
        var plan = ParallelPlan.Create(Config("llama3-tiny-bf16"), 2, 2); // 4 heads, 1 KV head: replicated
        Assert.Equal(2, plan.LogitsRank);
        Assert.Equal([1, 3], plan.PpGroup(1));
        Assert.Contains("stage 1/2 layers 1-1 (1) +lm head, tp 1/2: heads 2-3 of 4, KV head 0 (replicated) of 1, vocab 300-599", plan.Describe(3));
    }

    private static Func<string, string?> Env(params (string Name, string Value)[] values) => name => values.FirstOrDefault(v => v.Name == name).Value;

    private static string Write(string json)
    {
        string path = Path.Combine(Path.GetTempPath(), $"granary-topology-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void ReadsRtpLlmDistributeConfig()
    {
        string file = Write("""{"llama_part1": {"name": "llama_part1", "ip": "10.0.0.2", "port": 9001}, "llama_part0": {"name": "llama_part0", "ip": "10.0.0.1", "port": 9000}}""");
        var topology = ClusterTopology.FromEnvironment(Env(("DISTRIBUTE_CONFIG_FILE", file), ("WORLD_RANK", "1")))!;
        Assert.Equal(2, topology.WorldSize);
        Assert.Equal(1, topology.Rank);
        Assert.Equal("10.0.0.1:9000", topology.Addresses[0].ToString());
        Assert.Equal("10.0.0.2:9001", topology.Addresses[1].ToString());
        Assert.Equal(1, topology.LocalWorldSize); // one rank on this rank's host
    }

    [Fact]
    public void ReadsMindIeRankTable()
    {
        string file = Write("""
            {"version": "1.0", "server_count": "2", "status": "completed", "server_list": [
              {"server_id": "10.0.0.1", "device": [{"device_id": "0", "device_ip": "192.168.1.1", "rank_id": "0"}, {"device_id": "1", "device_ip": "192.168.1.2", "rank_id": "1"}]},
              {"server_id": "10.0.0.2", "device": [{"device_id": "0", "device_ip": "192.168.1.3", "rank_id": "2"}, {"device_id": "1", "device_ip": "192.168.1.4", "rank_id": "3"}]}]}
            """);
        var topology = ClusterTopology.FromEnvironment(Env(("RANKTABLEFILE", file), ("WORLD_RANK", "2"), ("START_PORT", "7000")))!;
        Assert.Equal(4, topology.WorldSize);
        Assert.Equal("10.0.0.2:7002", topology.Addresses[2].ToString());
        Assert.Equal(2, topology.LocalWorldSize);
    }

    [Fact]
    public void EnvironmentAloneGivesLoopbackRanks()
    {
        var topology = ClusterTopology.FromEnvironment(Env(("WORLD_SIZE", "2"), ("WORLD_RANK", "0"), ("START_PORT", "8100"), ("LOCAL_WORLD_SIZE", "1")))!;
        Assert.Equal("127.0.0.1:8101", topology.Addresses[1].ToString());
        Assert.Equal(1, topology.LocalWorldSize);
        Assert.Null(ClusterTopology.FromEnvironment(Env()));
        Assert.Null(ClusterTopology.FromEnvironment(Env(("WORLD_SIZE", "1"))));
    }

    [Theory]
    [InlineData("""{"llama_part0": {"name": "a", "ip": "127.0.0.1"}}""", "'llama_part0' has no \"port\"")]
    [InlineData("""{"llama_part0": {"name": "a", "ip": "127.0.0.1", "port": 1}, "llama_part2": {"name": "b", "ip": "127.0.0.1", "port": 2}}""", "_part1 is missing")]
    [InlineData("""{"llama": {"name": "a", "ip": "127.0.0.1", "port": 1}}""", "does not end in _part<rank>")]
    [InlineData("""{"llama_part0": """, "not valid JSON")]
    public void BadDistributeConfigGetsOneClearError(string json, string expected)
    {
        string file = Write(json);
        var e = Assert.Throws<InvalidDataException>(() => ClusterTopology.FromEnvironment(Env(("DISTRIBUTE_CONFIG_FILE", file), ("WORLD_RANK", "0"))));
        Assert.Contains(file, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void WorldSizeMustMatchTheFileAndRankMustBeGiven()
    {
        string file = Write("""{"m_part0": {"name": "a", "ip": "127.0.0.1", "port": 9000}, "m_part1": {"name": "b", "ip": "127.0.0.1", "port": 9001}}""");
        Assert.Contains("WORLD_SIZE=4 but", Assert.Throws<ArgumentException>(() => ClusterTopology.FromEnvironment(Env(("DISTRIBUTE_CONFIG_FILE", file), ("WORLD_SIZE", "4"), ("WORLD_RANK", "0")))).Message);
        Assert.Contains("WORLD_RANK is not set", Assert.Throws<ArgumentException>(() => ClusterTopology.FromEnvironment(Env(("DISTRIBUTE_CONFIG_FILE", file)))).Message);
        Assert.Contains("does not exist", Assert.Throws<FileNotFoundException>(() => ClusterTopology.FromEnvironment(Env(("DISTRIBUTE_CONFIG_FILE", file + ".missing"), ("WORLD_RANK", "0")))).Message);
    }
}
