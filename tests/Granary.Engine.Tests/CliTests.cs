using System.IO.Compression;
using System.Text.Json;
using Granary.Tests.Shared;

namespace Granary.Engine.Tests;

/// <summary><c>granary generate</c> and <c>granary tokenize</c> against Hugging Face and llama.cpp references.</summary>
public class CliTests
{
    [Fact]
    public void GenerateWithoutAsyncSchedulingPrintsTheSameAnswer()
    {
        string[] args = ["generate", "--model", TestData.Stories15M, "--prompt", "Once upon a time", "--max-tokens", "24", "--temperature", "0",
            "--stop", "park", "--logprobs", "2", "--output", "json"];
        var (code, withAsync, error) = CliRunner.Run(args);
        Assert.True(code == 0, error);
        var (codeWithout, without, errorWithout) = CliRunner.Run([.. args, "--no-async-scheduling"]);
        Assert.True(codeWithout == 0, errorWithout);
        Assert.Equal(withAsync, without);
    }

    [Theory]
    [MemberData(nameof(TestData.Fixtures), MemberType = typeof(TestData))]
    public void GenerateJsonReproducesTransformersGreedyAndLogprobs(string fixture)
    {
        float tolerance = FixtureModelTests.Tolerance(fixture);
        foreach (var prompt in TestData.Reference(fixture).GetProperty("prompts").EnumerateArray())
        {
            int[] ids = TestData.Ints(prompt.GetProperty("ids"));
            var (code, output, error) = CliRunner.Run("generate", "--model", TestData.Fixture(fixture), "--prompt-ids", string.Join(',', ids),
                "--max-tokens", "12", "--temperature", "0", "--ignore-eos", "--logprobs", "5", "--output", "json");
            Assert.True(code == 0, error);
            var json = JsonDocument.Parse(output).RootElement;
            Assert.Equal(ids, TestData.Ints(json.GetProperty("prompt_ids")));
            Assert.Equal(TestData.Ints(prompt.GetProperty("greedy")), TestData.Ints(json.GetProperty("token_ids")));
            float[] expected = TestData.LogSoftmax(TestData.Floats(prompt.GetProperty("last_logits")));
            foreach (var alternative in json.GetProperty("logprobs")[0].GetProperty("top").EnumerateArray())
            {
                float logprob = alternative.GetProperty("logprob").GetSingle();
                float reference = expected[alternative.GetProperty("token_id").GetInt32()];
                Assert.True(Math.Abs(logprob - reference) <= tolerance, $"{fixture}: logprob {logprob} vs {reference}");
            }
        }
    }

    [Theory]
    [InlineData("ggml-vocab-llama-spm")]
    [InlineData("ggml-vocab-gpt-2")]
    [InlineData("ggml-vocab-llama-bpe")]
    public void TokenizeEncodesEveryLlamaCppVectorOfAGgufVocabulary(string vocab)
    {
        string directory = Path.Combine(TestData.Root, "tokenizers");
        string work = Directory.CreateTempSubdirectory("granary-vocab").FullName;
        try
        {
            string gguf = Path.Combine(work, vocab + ".gguf");
            using (var source = new GZipStream(File.OpenRead(Path.Combine(directory, vocab + ".gguf.gz")), CompressionMode.Decompress))
            using (var target = File.Create(gguf))
                source.CopyTo(target);
            string textFile = Path.Combine(work, "input.txt");
            var cases = LlamaCppVocabTests.Read(directory, vocab + ".gguf");
            Assert.NotEmpty(cases);
            foreach (var (text, ids) in cases)
            {
                File.WriteAllText(textFile, text);
                var (code, output, error) = CliRunner.Run("tokenize", "--model", gguf, "--text-file", textFile, "--no-special", "--output", "json");
                Assert.True(code == 0, error);
                Assert.True(ids.SequenceEqual(TestData.Ints(JsonDocument.Parse(output).RootElement.GetProperty("ids"))), $"{vocab}: '{text}'");
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public void BrokenModelFolderGivesOneClearErrorNamingTheTensor()
    {
        string work = Directory.CreateTempSubdirectory("granary-broken").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(TestData.Fixture("llama-tiny"))) File.Copy(file, Path.Combine(work, Path.GetFileName(file)));
            // Cut the weights short: the last tensors' bytes are missing.
            string weights = Path.Combine(work, "model.safetensors");
            using (var stream = File.Open(weights, FileMode.Open)) stream.SetLength(stream.Length / 2);
            var (code, output, error) = CliRunner.Run("generate", "--model", work, "--prompt-ids", "1,2,3", "--max-tokens", "2");
            Assert.Equal(1, code);
            Assert.Equal("", output);
            Assert.StartsWith("error: ", error);
            Assert.Contains("model.safetensors", error);
            Assert.Contains("tensor '", error);
            Assert.Single(error.Trim().Split('\n'));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Theory]
    [InlineData("--prompt-ids", "1,x,3")]
    [InlineData("--prompt-ids", "1,99999")]
    [InlineData("--temperature", "-1")]
    public void BadArgumentsGiveOneClearError(string option, string value)
    {
        string[] args = option == "--prompt-ids"
            ? ["generate", "--model", TestData.Fixture("llama-tiny"), "--prompt-ids", value]
            : ["generate", "--model", TestData.Fixture("llama-tiny"), "--prompt-ids", "1,2", option, value];
        var (code, _, error) = CliRunner.Run(args);
        Assert.Equal(1, code);
        // Only the progress of what ran before the error (a model loaded: a plain line off a terminal) may precede it.
        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("error: ", lines[^1]);
        Assert.All(lines[..^1], line => Assert.StartsWith("loading llama-tiny: ", line));
    }

    [Theory]
    [InlineData("400", "error: --max-model-len 400 is longer than the model's context of 256 tokens (max_position_embeddings); add --allow-long-max-model-len")]
    [InlineData("-1", "error: --max-model-len must be 0 (the model's context) or more, got -1")]
    public void MaxModelLengthPastTheContextIsRefusedInOneLine(string length, string message)
    {
        var (code, _, error) = CliRunner.Run("generate", "--model", TestData.Fixture("llama-tiny"), "--prompt-ids", "1,2", "--max-model-len", length);
        Assert.Equal(1, code);
        Assert.StartsWith(message, error.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
    }

    [Fact]
    public void AllowedLongMaxModelLengthRunsPastTheContextAndKeepsTheTokensWithinIt()
    {
        // llama-tiny's context is 256 positions: a 300-token prompt runs only when allowed to go past it, as llama.cpp
        // runs (RoPE goes on), and the greedy tokens of a prompt inside the context do not change with the longer limit.
        string longPrompt = string.Join(',', Enumerable.Range(0, 300).Select(i => 3 + i * 7 % 200));
        var (code, output, error) = CliRunner.Run("generate", "--model", TestData.Fixture("llama-tiny"), "--prompt-ids", longPrompt,
            "--max-model-len", "320", "--allow-long-max-model-len", "--max-tokens", "8", "--temperature", "0", "--ignore-eos", "--output", "json");
        Assert.True(code == 0, error);
        Assert.Equal(8, JsonDocument.Parse(output).RootElement.GetProperty("token_ids").GetArrayLength());
        var prompt = TestData.Reference("llama-tiny").GetProperty("prompts")[0];
        string[] inside = ["generate", "--model", TestData.Fixture("llama-tiny"), "--prompt-ids", string.Join(',', TestData.Ints(prompt.GetProperty("ids"))),
            "--max-tokens", "12", "--temperature", "0", "--ignore-eos", "--output", "json"];
        var (codeLong, withLong, errorLong) = CliRunner.Run([.. inside, "--max-model-len", "1024", "--allow-long-max-model-len"]);
        Assert.True(codeLong == 0, errorLong);
        Assert.Equal(TestData.Ints(prompt.GetProperty("greedy")), TestData.Ints(JsonDocument.Parse(withLong).RootElement.GetProperty("token_ids")));
    }

    [Fact]
    public void ConvertingLoadingAndBenchmarkingReportPlainProgressOffATerminal()
    {
        string llama2c = Path.Combine(TestData.Stories15M, "llama2c");
        string work = Directory.CreateTempSubdirectory("granary-progress").FullName;
        try
        {
            var (code, _, error) = CliRunner.Run("convert-llama2c", "--checkpoint", Path.Combine(llama2c, "stories15M.bin"), "--tokenizer", Path.Combine(llama2c, "tokenizer.bin"), "--output", work);
            Assert.True(code == 0, error);
            Assert.Contains("converting: model.safetensors written, 58.0/58.0 MiB\n", error);
            Assert.DoesNotContain("\r", error); // a bar only on a terminal

            (code, _, error) = CliRunner.Run("generate", "--model", work, "--prompt-ids", "1,9038", "--max-tokens", "2");
            Assert.True(code == 0, error);
            Assert.Contains($"loading {Path.GetFileName(work)}: model.safetensors loaded, 58.0/58.0 MiB\n", error);
            Assert.DoesNotContain("\r", error);

            (code, _, error) = CliRunner.Run("bench-local", "--model", TestData.Fixture("llama-tiny"), "--batch", "1,2", "--prompt", "4", "--new", "4", "--warmup", "0");
            Assert.True(code == 0, error);
            Assert.Contains("bench-local: batch 1 measured (1/2)", error);
            Assert.Contains("bench-local: batch 2 measured (2/2)", error);
            Assert.DoesNotContain("\r", error);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Theory]
    [InlineData(Fp8Layout.PerChannel)]
    [InlineData(Fp8Layout.Block)]
    public void GenerateRunsAnFp8Checkpoint(Fp8Layout layout)
    {
        using var fp8 = new Fp8Checkpoint(TestData.Fixture("llama-tiny"), layout);
        string[] options = ["--prompt-ids", "1,2,3", "--max-tokens", "6", "--temperature", "0", "--ignore-eos", "--output", "json"];
        int[] Tokens(params string[] args)
        {
            var (code, output, error) = CliRunner.Run(["generate", .. args, .. options]);
            Assert.True(code == 0, error);
            return TestData.Ints(JsonDocument.Parse(output).RootElement.GetProperty("token_ids"));
        }
        Assert.Equal(6, Tokens("--model", fp8.Directory).Length);
        // Per-channel codes and scales are the ones --quantization fp8 makes of the fixture.
        if (layout == Fp8Layout.PerChannel)
            Assert.Equal(Tokens("--model", TestData.Fixture("llama-tiny"), "--quantization", "fp8"), Tokens("--model", fp8.Directory, "--quantization", "fp8"));
    }

    [Theory]
    [InlineData("q4", "error: unknown quantization 'q4' (known: none, q8_0, fp8)")]
    [InlineData("q8_0 --device cuda:0", "error: --quantization q8_0 runs on the CPU backend only, not on 'cuda:0'")]
    public void BadQuantizationGivesOneClearError(string value, string message)
    {
        string[] args = ["generate", "--model", TestData.Fixture("llama-tiny"), "--prompt-ids", "1,2", "--quantization", .. value.Split(' ')];
        var (code, _, error) = CliRunner.Run(args);
        Assert.Equal(1, code);
        Assert.StartsWith(message, error);
    }

    [Theory]
    [InlineData("serve", "--warmup")]
    [InlineData("bench-local", "--warmup")]
    public void NegativeWarmupIsRefused(string command, string option)
    {
        var (code, _, error) = CliRunner.Run([command, "--model", TestData.Fixture("llama-tiny"), option, "-1"]);
        Assert.Equal(1, code);
        Assert.StartsWith("error: --warmup must be at least 0 seconds", error);
    }

    [Theory]
    [InlineData("cuda:abc", "error: device 'cuda:abc': expected cuda:N with N a device number")]
    [InlineData("gpu", "error: --device must be cpu or cuda:N, got 'gpu'")]
    public void ServeRefusesABadDeviceInOneLine(string device, string message)
    {
        var (code, _, error) = CliRunner.Run("serve", "--model", TestData.Fixture("llama-tiny"), "--device", device, "--port", "0");
        Assert.Equal(1, code);
        Assert.StartsWith(message, error);
    }

    [Theory]
    [InlineData("", "error: --kubernetes needs --cluster redis://")]
    [InlineData("--cluster redis://127.0.0.1:1", "error: --kubernetes runs in a Kubernetes pod, and POD_NAME")]
    public void KubernetesHostingOutsideAPodIsRefusedInOneLine(string cluster, string message)
    {
        Assert.SkipWhen(Environment.GetEnvironmentVariable("POD_NAME") is not null, "this test runs outside a Kubernetes pod");
        var (code, _, error) = CliRunner.Run(["silo", "--kubernetes", .. cluster.Split(' ', StringSplitOptions.RemoveEmptyEntries)]);
        Assert.Equal(1, code);
        Assert.StartsWith(message, error);
    }

    [Fact]
    public void ServeStopsWithTheReplicasOwnErrorWhenTheModelCannotLoad()
    {
        // The checks of the folder pass; the replica then fails on the device, inside the embedded silo.
        Assert.SkipWhen(File.Exists("/proc/driver/nvidia/version"), "this machine has an NVIDIA driver: the model would load");
        var (code, _, error) = CliRunner.Run("serve", "--model", TestData.Fixture("llama-tiny"), "--device", "cuda:0", "--port", "0", "--warmup", "0");
        Assert.Equal(1, code);
        Assert.StartsWith("error: the model could not be loaded: ", error);
        Assert.Contains("CUDA", error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void ASiloWhosePortIsTakenSaysWhichInOneLine()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var (code, _, error) = CliRunner.Run("silo", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--client-port", "0");
        Assert.Equal(1, code);
        Assert.StartsWith($"error: a port of this silo is in use (silo {port}", error);
    }

    [Fact]
    public void UnknownArchitectureIsNamed()
    {
        string work = Directory.CreateTempSubdirectory("granary-arch").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(TestData.Fixture("llama-tiny"))) File.Copy(file, Path.Combine(work, Path.GetFileName(file)));
            string config = Path.Combine(work, "config.json");
            File.WriteAllText(config, File.ReadAllText(config).Replace("LlamaForCausalLM", "GPTNeoXForCausalLM").Replace("\"llama\"", "\"gpt_neox\""));
            var (code, _, error) = CliRunner.Run("generate", "--model", work, "--prompt-ids", "1,2,3");
            Assert.Equal(1, code);
            Assert.Contains("config.json", error);
            Assert.Contains("GPTNeoXForCausalLM", error);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
