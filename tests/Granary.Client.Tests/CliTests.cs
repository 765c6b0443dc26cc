using Granary.Tests.Shared;

namespace Granary.Client.Tests;

/// <summary><c>granary complete</c> and <c>granary chat</c> as real processes, against the server and the embedded engine.</summary>
[Collection(ServerCollection.Name)]
public sealed class CliTests(StoriesServer server)
{
    private string[] Remote => ["--base-url", server.BaseUrl.ToString(), "--api-key", StoriesServer.Key];

    [Fact]
    public async Task CompleteAgainstTheServerAndInProcess()
    {
        string[] greedy = ["--prompt", TestData.StoryPrompt, "--max-tokens", TestData.StoryTokens.ToString(), "--temperature", "0"];
        string expected = TestData.StoryPrompt + TestData.StoryContinuation + "\n";
        using (var remote = new ChildProcess(["complete", .. Remote, .. greedy]))
        {
            Assert.Equal(0, await remote.WaitForExitAsync());
            Assert.Equal(expected, remote.Stdout);
        }
        // The key may come from the environment, as for the server.
        using (var fromEnv = new ChildProcess(["complete", "--base-url", server.BaseUrl.ToString(), .. greedy], new Dictionary<string, string?> { ["GRANARY_API_KEY"] = StoriesServer.Key }))
        {
            Assert.Equal(0, await fromEnv.WaitForExitAsync());
            Assert.Equal(expected, fromEnv.Stdout);
        }
        using (var local = new ChildProcess(["complete", "--model", TestData.Stories15M, .. greedy]))
        {
            Assert.Equal(0, await local.WaitForExitAsync());
            Assert.Equal(expected, local.Stdout);
        }
    }

    [Fact]
    public async Task CompleteErrorsAreOneLine()
    {
        using (var denied = new ChildProcess(["complete", "--base-url", server.BaseUrl.ToString(), "--prompt", "x"]))
        {
            Assert.Equal(1, await denied.WaitForExitAsync());
            Assert.Equal("error: Incorrect or missing API key: send 'Authorization: Bearer <key>'.\n", denied.Stderr);
        }
        using (var both = new ChildProcess(["complete", .. Remote, "--model", TestData.Stories15M, "--prompt", "x"]))
        {
            Assert.NotEqual(0, await both.WaitForExitAsync());
            Assert.Contains("give exactly one of --base-url", both.Stderr);
        }
    }

    [Fact]
    public async Task ChatStreamsAnswersKeepsHistoryAndExitsAtEndOfInput()
    {
        using var chat = new ChildProcess(["chat", .. Remote, "--temperature", "0", "--max-tokens", TestData.StoryTokens.ToString()]);
        chat.WriteLine(TestData.StoryPrompt);
        await chat.WaitForAsync((o, _) => o.Contains(TestData.StoryContinuation + "\n"), "the first answer");
        chat.WriteLine("/history");
        chat.WriteLine("/reset");
        chat.WriteLine("/history");
        chat.CloseInput();
        Assert.Equal(0, await chat.WaitForExitAsync());

        Assert.Equal(TestData.StoryContinuation + "\n" + $"user: {TestData.StoryPrompt}\nassistant: {TestData.StoryContinuation}\n", chat.Stdout);
        Assert.Contains("Chatting with stories15M at " + server.BaseUrl, chat.Stderr);
        Assert.Contains("(2 messages)", chat.Stderr);
        Assert.Contains("(history cleared)", chat.Stderr);
        Assert.Contains("(0 messages)", chat.Stderr);
        Assert.DoesNotContain("error", chat.Stderr);
    }

    [Fact]
    public async Task CtrlCCancelsTheAnswerNotTheSession()
    {
        await server.IdleAsync();
        double aborted = await server.Server.MetricAsync("granary_aborted_sequences_total");
        double answered = await server.Server.RequestsAsync("chat_completions", 200);
        // 100 tokens past EOS: long enough to be interrupted, and two answers always fit the 256-token context.
        using var chat = new ChildProcess(["chat", .. Remote, "--temperature", "0", "--max-tokens", "100", "--ignore-eos"]);
        await chat.WaitForAsync((_, e) => e.Contains("Chatting with"), "the session to start");

        // SIGINT once the answer is under way; should the whole answer have come first (a very slow signal),
        // the session says so and the test asks again.
        bool cancelled = false;
        for (int attempt = 0; attempt < 3 && !cancelled; attempt++)
        {
            int before = chat.Stdout.Length, hints = Count(chat.Stderr, "(/reset clears");
            chat.WriteLine("/reset");
            chat.WriteLine(TestData.StoryPrompt);
            await chat.WaitForAsync((o, _) => o.Length > before, "the answer to start");
            chat.Interrupt();
            await chat.WaitForAsync((_, e) => e.Contains("[answer cancelled]") || Count(e, "(/reset clears") > hints, "Ctrl+C to be handled");
            cancelled = chat.Stderr.Contains("[answer cancelled]");
        }
        Assert.True(cancelled, chat.Stderr);
        Assert.False(chat.Process.HasExited, "Ctrl+C ended the session");
        await server.AbortedAsync(aborted + 1);

        // The session goes on: the cancelled exchange (what was shown of it) is in the history, and the next
        // question is answered in full.
        chat.WriteLine("/history");
        await chat.WaitForAsync((_, e) => e.Contains("(2 messages)"), "the history");
        chat.WriteLine("/reset");
        const string question = "The cat sat on the mat.";
        chat.WriteLine(question);
        chat.WriteLine("/exit");
        Assert.Equal(0, await chat.WaitForExitAsync());

        using var client = server.Client();
        string expected = (await client.CompleteChatAsync(new() { Messages = [Models.ChatRequestMessage.User(question)], MaxTokens = 100, Temperature = 0, IgnoreEos = true })).Content;
        Assert.EndsWith("\n" + expected + "\n", chat.Stdout);
        Assert.True(await server.Server.RequestsAsync("chat_completions", 200) >= answered + 2); // the chat's answer and the check's
        Assert.Equal(1, Count(chat.Stderr, "[answer cancelled]"));
        Assert.DoesNotContain("error", chat.Stderr);
    }

    private static int Count(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    [Fact]
    public async Task ChatInProcessUsesTheModelsChatTemplate()
    {
        // qwen2-tiny has a ChatML template: the answer must be what `granary generate --chat` makes of the same message.
        string model = TestData.Fixture("qwen2-tiny");
        using var generate = new ChildProcess(["generate", "--model", model, "--chat", "--prompt", "Hello there", "--max-tokens", "12", "--temperature", "0", "--ignore-eos"]);
        Assert.Equal(0, await generate.WaitForExitAsync());
        string expected = generate.Stdout;
        Assert.True(expected.Trim().Length > 0, generate.Stderr);

        using var chat = new ChildProcess(["chat", "--model", model, "--max-tokens", "12", "--temperature", "0", "--ignore-eos"]);
        chat.WriteLine("Hello there");
        chat.WriteLine("/history");
        chat.CloseInput();
        Assert.Equal(0, await chat.WaitForExitAsync());
        Assert.StartsWith(expected, chat.Stdout);
        Assert.Contains("user: Hello there\nassistant: ", chat.Stdout);
        Assert.Contains("qwen2-tiny (in this process)", chat.Stderr);
    }

    [Fact]
    public async Task GenerateChatWithoutATemplateFallsBackAsTheServerDoes()
    {
        // stories15M has no chat template: --chat warns and sends the plain prompt, as the server does with a chat.
        string[] greedy = ["--model", TestData.Stories15M, "--prompt", TestData.StoryPrompt, "--max-tokens", "12", "--temperature", "0"];
        using var chat = new ChildProcess(["generate", .. greedy, "--chat"]);
        Assert.Equal(0, await chat.WaitForExitAsync());
        Assert.Contains("stories15M: it has no chat template: chat messages are sent as their contents", chat.Stderr);
        using var plain = new ChildProcess(["generate", .. greedy]);
        Assert.Equal(0, await plain.WaitForExitAsync());
        Assert.Equal(plain.Stdout, TestData.StoryPrompt + chat.Stdout);

        using var client = server.Client();
        var answer = await client.CompleteChatAsync(new() { Messages = [Models.ChatRequestMessage.User(TestData.StoryPrompt)], MaxTokens = 12, Temperature = 0 });
        Assert.Equal(answer.Content + "\n", chat.Stdout);
    }
}
