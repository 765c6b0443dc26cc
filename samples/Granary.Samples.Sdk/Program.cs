// The Granary client SDK: list the models, complete a prompt, stream a chat answer (Ctrl+C stops it).
//
//   granary serve --model models/stories15M            (in another terminal)
//   dotnet run --project samples/Granary.Samples.Sdk -- http://127.0.0.1:8000 "Once upon a time"
//
// The API key, if the server wants one, comes from $GRANARY_API_KEY.
using Granary.Client;
using Granary.Client.Models;

var endpoint = new Uri(args.Length > 0 ? args[0] : "http://127.0.0.1:8000");
string prompt = args.Length > 1 ? args[1] : "Once upon a time";

using var client = new GranaryClient(new GranaryClientOptions
{
    Endpoints = [endpoint],
    ApiKey = Environment.GetEnvironmentVariable("GRANARY_API_KEY"),
});

var models = await client.ListModelsAsync();
foreach (var model in models.Data) Console.WriteLine($"model: {model.Id} (context {model.MaxModelLen} tokens)");

// A typed completion: the whole answer at once, with its token counts.
var completion = await client.CompleteAsync(new CompletionRequest { Prompt = prompt, MaxTokens = 32, Temperature = 0 });
Console.WriteLine($"completion: {prompt}{completion.Text}");
Console.WriteLine($"  ({completion.Usage?.PromptTokens} prompt tokens, {completion.Usage?.CompletionTokens} generated, finish: {completion.Choices[0].FinishReason})");

// A streamed chat answer: tokens as they come; Ctrl+C cancels it, which closes the connection and makes
// the server stop generating.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
var chat = new ChatCompletionRequest { Messages = [ChatRequestMessage.User(prompt)], MaxTokens = 64, Temperature = 0 };
Console.Write("chat: ");
try
{
    await foreach (var chunk in client.CompleteChatStreamingAsync(chat, includeUsage: true, cancel.Token))
    {
        Console.Write(chunk.ContentDelta);
        if (chunk.Usage is { } usage) Console.Write($"\n  ({usage.CompletionTokens} tokens)");
    }
    Console.WriteLine();
}
catch (OperationCanceledException)
{
    Console.WriteLine("\n  (cancelled)");
}
catch (GranaryApiException e)
{
    Console.Error.WriteLine($"the gateway refused: {e.Message} ({(int?)e.StatusCode} {e.Code})");
    return 1;
}
return 0;
