using System.CommandLine;

namespace Granary.Silo.Cli;

/// <summary>
/// <c>granary complete</c>: one prompt continued by a gateway (<c>--base-url</c>) or by the model in this process
/// (<c>--model</c>), printed as <c>granary generate</c> prints it (the prompt, then the continuation as it streams in).
/// </summary>
internal static class CompleteCommand
{
    public static Command Create()
    {
        var backend = new BackendOptions(defaultMaxTokens: 128);
        var prompt = new Option<string>("--prompt") { Description = "Prompt text (tokenized with the model's special tokens, e.g. BOS)", Required = true };
        var command = new Command("complete", "Continue a prompt through a Granary gateway (--base-url) or the model in this process (--model), streaming the text");
        command.Options.Add(prompt);
        backend.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = backend.Settings(parse);
            string text = parse.GetValue(prompt)!;
            var stdout = parse.InvocationConfiguration.Output;
            try
            {
                await using var source = await backend.CreateAsync(parse, cancellationToken);
                if (source is null) return 0;
                stdout.Write(text);
                await foreach (string delta in source.CompleteAsync(text, settings, cancellationToken))
                {
                    stdout.Write(delta);
                    stdout.Flush();
                }
                stdout.WriteLine();
                return 0;
            }
            catch (Exception e) when (e is not OperationCanceledException && BackendOptions.IsRequestError(e))
            {
                stdout.Flush();
                parse.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
