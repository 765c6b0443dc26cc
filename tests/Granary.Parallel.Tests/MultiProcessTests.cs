using System.Diagnostics;
using System.Text.Json;
using Granary.Engine;

namespace Granary.Parallel.Tests;

/// <summary>
/// One process per rank on loopback, started as users of rtp-llm and MindIE start them (WORLD_SIZE /
/// WORLD_RANK with a DISTRIBUTE_CONFIG_FILE or a rank table): the same answers as one rank; a killed rank
/// makes the others fail naming it; bad topologies and layouts get one clear line.
/// </summary>
public class MultiProcessTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    private static string[] Args(string model, int[] prompt, int maxTokens) =>
        ["generate", "--model", TestData.Model(model), "--prompt-ids", string.Join(',', prompt), "--max-tokens", maxTokens.ToString(),
         "--temperature", "0", "--ignore-eos", "--logprobs", "5", "--output", "json"];

    private static string TempFile(string json)
    {
        string path = Path.Combine(Path.GetTempPath(), $"granary-ranks-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static string DistributeConfig(int ranks)
    {
        int port = Ports.FreeRange(ranks);
        return TempFile(JsonSerializer.Serialize(Enumerable.Range(0, ranks).ToDictionary(r => $"granary_part{r}", r => new { name = $"granary_part{r}", ip = "127.0.0.1", port = port + r })));
    }

    private static (string File, int StartPort) RankTable(int ranks)
    {
        int port = Ports.FreeRange(ranks);
        var devices = Enumerable.Range(0, ranks).Select(r => new { device_id = r.ToString(), device_ip = $"192.168.0.{r + 1}", rank_id = r.ToString() });
        return (TempFile(JsonSerializer.Serialize(new { version = "1.0", server_count = "1", status = "completed", server_list = new[] { new { server_id = "127.0.0.1", device = devices } } })), port);
    }

    /// <summary>Starts every rank, waits for all, and returns rank 0's parsed JSON after checking every rank exited cleanly.</summary>
    private static JsonElement RunGroup(string model, int ranks, Func<int, Dictionary<string, string>> env, params string[] extra)
    {
        int[] prompt = TestData.Prompts(model)[0];
        var processes = Enumerable.Range(0, ranks).Select(r => new GranaryProcess([.. Args(model, prompt, Runs.NewTokens), .. extra], env(r))).ToArray();
        try
        {
            foreach (var p in processes) Assert.True(p.Wait(Limit), $"a rank did not finish: {p.Stderr}");
            for (int r = 0; r < ranks; r++) Assert.True(processes[r].Process.ExitCode == 0, $"rank {r} exited with {processes[r].Process.ExitCode}: {processes[r].Stderr}");
            Assert.All(processes.Skip(1), p => Assert.Equal("", p.Stdout)); // only rank 0 prints the result
            Assert.Contains("Rank 1:", processes[0].Stderr); // the plan, rank by rank
            return JsonDocument.Parse(processes[0].Stdout).RootElement;
        }
        finally
        {
            foreach (var p in processes) p.Dispose();
        }
    }

    private static void AssertSameAsOneRank(string model, JsonElement json)
    {
        var expected = Runs.Reference(model)[0];
        Assert.Equal(expected.Tokens, TestData.Ints(json.GetProperty("token_ids")));
        var logprobs = Logprobs(json);
        for (int t = 0; t < expected.Logprobs.Count; t++) SameAnswers.Positions($"{model} token {t}", expected.Logprobs[t], logprobs[t]);
    }

    private static GeneratedTokenLogprobs[] Logprobs(JsonElement json) => json.GetProperty("logprobs").EnumerateArray().Select(p => new GeneratedTokenLogprobs(
        p.GetProperty("token_id").GetInt32(), p.GetProperty("logprob").GetSingle(),
        p.GetProperty("top").EnumerateArray().Select(a => new TokenLogprob(a.GetProperty("token_id").GetInt32(), a.GetProperty("logprob").GetSingle())).ToArray())).ToArray();

    [Fact]
    public void TwoProcessesWithADistributeConfigFile()
    {
        string file = DistributeConfig(2);
        // TP is the world size when only WORLD_SIZE is given.
        var json = RunGroup("qwen2-tiny", 2, r => new() { ["WORLD_SIZE"] = "2", ["WORLD_RANK"] = r.ToString(), ["DISTRIBUTE_CONFIG_FILE"] = file });
        AssertSameAsOneRank("qwen2-tiny", json);
    }

    [Fact]
    public void FourProcessesWithADistributeConfigFile()
    {
        string file = DistributeConfig(4);
        var json = RunGroup("stories15M", 4, r => new() { ["WORLD_SIZE"] = "4", ["WORLD_RANK"] = r.ToString(), ["TP_SIZE"] = "2", ["PP_SIZE"] = "2", ["DISTRIBUTE_CONFIG_FILE"] = file });
        AssertSameAsOneRank("stories15M", json);
    }

    [Fact]
    public void TwoStagesSendWholeLogitRowsWhenSamplingReadsThem()
    {
        // Greedy with logprobs needs each row's 5 largest logits, which is all the last stage sends in the tests
        // above; a repetition penalty reads every logit, so here it sends the rows whole.
        const string model = "llama-tiny";
        string[] penalty = ["--repetition-penalty", "1.3"];
        using var alone = new GranaryProcess([.. Args(model, TestData.Prompts(model)[0], Runs.NewTokens), .. penalty], new Dictionary<string, string>());
        Assert.True(alone.Wait(Limit) && alone.Process.ExitCode == 0, $"the one-process run failed: {alone.Stderr}");
        var expected = JsonDocument.Parse(alone.Stdout).RootElement;
        string file = DistributeConfig(2);
        var json = RunGroup(model, 2, r => new() { ["WORLD_SIZE"] = "2", ["WORLD_RANK"] = r.ToString(), ["PP_SIZE"] = "2", ["DISTRIBUTE_CONFIG_FILE"] = file }, penalty);
        Assert.Equal(TestData.Ints(expected.GetProperty("token_ids")), TestData.Ints(json.GetProperty("token_ids")));
        var (want, got) = (Logprobs(expected), Logprobs(json));
        for (int t = 0; t < want.Length; t++) SameAnswers.Positions($"{model} token {t}", want[t], got[t]);
    }

    [Fact]
    public void FourProcessesWithAMindIeRankTable()
    {
        var (file, port) = RankTable(4);
        var json = RunGroup("llama3-tiny-bf16", 4, r => new() { ["WORLD_RANK"] = r.ToString(), ["RANK_TABLE_FILE"] = file, ["START_PORT"] = port.ToString() });
        AssertSameAsOneRank("llama3-tiny-bf16", json);
    }

    [Fact]
    public void KillingARankFailsTheOthersWithinSecondsNamingIt()
    {
        int port = Ports.FreeRange(3);
        string[] args = Args("stories15M", [1, 9038, 2501], 250);
        var processes = Enumerable.Range(0, 3).Select(r => new GranaryProcess(args, new Dictionary<string, string>
        {
            ["WORLD_SIZE"] = "3", ["WORLD_RANK"] = r.ToString(), ["PP_SIZE"] = "3", ["START_PORT"] = port.ToString(),
        })).ToArray();
        try
        {
            var clock = Stopwatch.StartNew();
            while (!processes[0].Stderr.Contains("Loaded ") && clock.Elapsed < Limit && !processes[0].Process.HasExited) Thread.Sleep(50);
            Assert.Contains("Loaded ", processes[0].Stderr);
            Thread.Sleep(200); // mid-generation
            Assert.False(processes[0].Process.HasExited, "generation ended before the kill");
            processes[1].Process.Kill();
            var killed = Stopwatch.StartNew();
            foreach (int r in new[] { 0, 2 })
            {
                Assert.True(processes[r].Wait(TimeSpan.FromSeconds(10)), $"rank {r} still runs 10 s after rank 1 was killed");
                Assert.NotEqual(0, processes[r].Process.ExitCode);
                Assert.Contains("lost rank 1", processes[r].Stderr);
            }
            Assert.True(killed.Elapsed < TimeSpan.FromSeconds(5), $"the others took {killed.Elapsed.TotalSeconds:F1} s to fail");
        }
        finally
        {
            foreach (var p in processes) p.Dispose();
        }
    }

    private static string FailAlone(Dictionary<string, string> env, params string[] extra)
    {
        using var process = new GranaryProcess([.. Args("qwen2-tiny", [1, 2, 3], 2), .. extra], env);
        Assert.True(process.Wait(Limit));
        Assert.Equal(1, process.Process.ExitCode);
        return process.Stderr.Trim();
    }

    [Fact]
    public void BadConfigFileGetsOneClearLine()
    {
        string file = TempFile("""{"granary_part0": {"name": "a", "ip": "127.0.0.1", "port": "x"}}""");
        string error = FailAlone(new() { ["WORLD_RANK"] = "0", ["DISTRIBUTE_CONFIG_FILE"] = file });
        Assert.StartsWith("error: ", error);
        Assert.Contains(file, error);
        Assert.Contains("'granary_part0' has no \"port\"", error);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public void LayoutNotMatchingTheWorldIsRefusedBeforeLoading()
    {
        int port = Ports.FreeRange(2);
        string error = FailAlone(new() { ["WORLD_SIZE"] = "2", ["WORLD_RANK"] = "0", ["START_PORT"] = port.ToString() }, "--tp", "4");
        Assert.Equal("error: TP 4 x PP 1 = 4 ranks, but 2 were started (WORLD_SIZE / topology file): set --tp/TP_SIZE and --pp/PP_SIZE so that their product is 2", error);
    }

    [Fact]
    public void InProcessLayoutErrorsAreOneLineEach()
    {
        string error = FailAlone([], "--tp", "3", "--pp", "2", "--pp-partition", "2,2");
        var lines = error.Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Contains("--tp 3 does not divide the 8 attention heads", lines[0]);
        Assert.Contains("--tp 3 does not divide the MLP width 128", lines[1]);
        Assert.Contains("--tp 3 does not divide the vocabulary of 640 tokens", lines[2]);
        Assert.Contains("--pp-partition 2,2 covers 4 layers; the model has 3: make the counts add up to 3", error);
    }
}
