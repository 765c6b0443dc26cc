using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text;
using Granary.ChatTemplates;

namespace Granary.Silo.Cli;

/// <summary>
/// <c>granary chat</c>: an interactive conversation with a gateway (<c>--base-url</c>) or the model in this process
/// (<c>--model</c>). Answers stream as they are generated; the history goes with every question until
/// <c>/reset</c>; Ctrl+C stops the answer being written, not the session; <c>/exit</c> or end of input quits.
/// </summary>
internal static class ChatCommand
{
    private const string Help = "/reset clears the history, /history shows it, /exit (or Ctrl+D) quits; Ctrl+C stops an answer";

    public static Command Create()
    {
        var backend = new BackendOptions(defaultMaxTokens: null);
        var system = new Option<string?>("--system") { Description = "System prompt that opens the conversation (kept by /reset)" };
        var command = new Command("chat", "Chat interactively with a Granary gateway (--base-url) or the model in this process (--model)");
        command.Options.Add(system);
        backend.AddTo(command);
        // A synchronous action on purpose: System.CommandLine then leaves SIGINT alone, and Ctrl+C is this
        // session's to handle (it stops the answer, not the process).
        command.SetAction(parse => RunAsync(parse, backend, parse.GetValue(system)).GetAwaiter().GetResult());
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, BackendOptions options, string? system)
    {
        var stdout = parse.InvocationConfiguration.Output;
        var stderr = parse.InvocationConfiguration.Error;
        var settings = options.Settings(parse);
        CancellationTokenSource? answer = null;
        // Ctrl+C cancels the answer being written; between answers it only reminds how to quit.
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            if (Volatile.Read(ref answer) is { } running) running.Cancel();
            else stderr.Write($"\n({Help})\n{(Console.IsInputRedirected ? "" : "> ")}");
        });

        IGenerationBackend? source;
        try
        {
            source = await options.CreateAsync(parse, CancellationToken.None);
            if (source is null) return 0;
        }
        catch (Exception e) when (BackendOptions.IsRequestError(e))
        {
            stderr.WriteLine($"error: {e.Message}");
            return 1;
        }
        await using var _ = source;

        var history = new List<ChatMessage>();
        if (!string.IsNullOrEmpty(system)) history.Add(new ChatMessage("system", system));
        int kept = history.Count;
        bool interactive = !Console.IsInputRedirected;
        stderr.WriteLine($"Chatting with {source.Description}. {Help}.");
        var input = Console.In;
        while (true)
        {
            if (interactive) stdout.Write("> ");
            stdout.Flush();
            string? line = input.ReadLine();
            if (line is null) break;
            line = line.Trim();
            if (line.Length == 0) continue;
            if (line[0] == '/')
            {
                switch (line.ToLowerInvariant())
                {
                    case "/exit" or "/quit" or "/bye":
                        return 0;
                    case "/reset" or "/clear":
                        history.RemoveRange(kept, history.Count - kept);
                        stderr.WriteLine("(history cleared)");
                        break;
                    case "/history":
                        foreach (var m in history) stdout.WriteLine($"{m.Role}: {m.Content}");
                        stderr.WriteLine($"({history.Count} messages)");
                        break;
                    case "/help":
                        stderr.WriteLine(Help);
                        break;
                    default:
                        stderr.WriteLine($"unknown command {line}: {Help}");
                        break;
                }
                continue;
            }

            history.Add(new ChatMessage("user", line));
            var text = new StringBuilder();
            using var cancel = new CancellationTokenSource();
            Volatile.Write(ref answer, cancel);
            try
            {
                await foreach (string delta in source.ChatAsync(history, settings, cancel.Token))
                {
                    stdout.Write(delta);
                    stdout.Flush();
                    text.Append(delta);
                }
                stdout.WriteLine();
                history.Add(new ChatMessage("assistant", text.ToString()));
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                stdout.WriteLine();
                stdout.Flush();
                stderr.WriteLine("[answer cancelled]");
                // What was shown stays in the conversation; a question cancelled before any answer is dropped.
                if (text.Length > 0) history.Add(new ChatMessage("assistant", text.ToString()));
                else history.RemoveAt(history.Count - 1);
            }
            catch (Exception e) when (BackendOptions.IsRequestError(e))
            {
                if (text.Length > 0) stdout.WriteLine();
                stdout.Flush();
                bool full = e is Granary.Client.GranaryApiException { Code: "context_length_exceeded" } || e.Message.Contains("context is", StringComparison.Ordinal);
                stderr.WriteLine($"error: {e.Message}{(full ? " (/reset starts a new conversation)" : "")}");
                if (text.Length > 0) history.Add(new ChatMessage("assistant", text.ToString()));
                else history.RemoveAt(history.Count - 1);
            }
            finally
            {
                Volatile.Write(ref answer, null);
            }
        }
        return 0;
    }
}
