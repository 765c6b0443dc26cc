using Granary.Tests.Shared;

namespace Granary.Client.Tests;

/// <summary>The two samples run against the server, as a user would start them.</summary>
[Collection(ServerCollection.Name)]
public sealed class SamplesTests(StoriesServer server)
{
    /// <summary>samples/NAME/bin/CONFIG/net10.0/NAME.dll, built with the tests (in the same configuration).</summary>
    private static string Sample(string name)
    {
        // The tests run from tests/Granary.Client.Tests/bin/CONFIG/TFM/.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = output.Name, configuration = output.Parent!.Name;
        string root = output.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
        string project = $"Granary.Samples.{name}";
        string dll = Path.Combine(root, "samples", project, "bin", configuration, tfm, project + ".dll");
        Assert.True(File.Exists(dll), $"{dll} was not built");
        return dll;
    }

    [Fact]
    public async Task SdkSample()
    {
        using var sample = new ChildProcess(Sample("Sdk"), [server.BaseUrl.ToString(), TestData.StoryPrompt],
            new Dictionary<string, string?> { ["GRANARY_API_KEY"] = StoriesServer.Key });
        Assert.True(await sample.WaitForExitAsync() == 0, sample.Stderr);
        Assert.Contains("model: stories15M (context 256 tokens)", sample.Stdout);
        string story = TestData.StoryContinuation;
        Assert.Contains($"completion: {TestData.StoryPrompt}{story[..story.IndexOf(" One day", StringComparison.Ordinal)]}", sample.Stdout);
        Assert.Contains("(5 prompt tokens, 32 generated, finish: length)", sample.Stdout);
        Assert.Contains($"chat: {story[..40]}", sample.Stdout);
        Assert.Contains("(64 tokens)", sample.Stdout);
    }

    [Fact]
    public async Task ChatClientSample()
    {
        using var sample = new ChildProcess(Sample("ChatClient"), [], new Dictionary<string, string?>
        {
            ["Granary__Endpoints__0"] = server.BaseUrl.ToString(),
            ["Granary__ApiKey"] = StoriesServer.Key,
        });
        sample.WriteLine(TestData.StoryPrompt);
        sample.WriteLine("Then what?");
        sample.CloseInput();
        Assert.True(await sample.WaitForExitAsync() == 0, sample.Stderr);
        Assert.StartsWith(TestData.StoryContinuation[..40], sample.Stdout);
        Assert.Contains("(64 tokens; 2 messages in the conversation)", sample.Stdout);
        Assert.Contains("(64 tokens; 4 messages in the conversation)", sample.Stdout);
    }
}
