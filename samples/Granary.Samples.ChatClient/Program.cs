// Code written against Microsoft.Extensions.AI's IChatClient, running on Granary: the client comes from
// dependency injection, its options from appsettings.json and the environment (Granary__Endpoints__0,
// Granary__ApiKey...). Each line of standard input is a question; the conversation is kept.
//
//   granary serve --model models/stories15M            (in another terminal)
//   dotnet run --project samples/Granary.Samples.ChatClient
using Granary.Client;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

var configuration = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json", optional: true)
    .AddEnvironmentVariables()
    .Build();

var services = new ServiceCollection();
services.AddGranaryClient(configuration.GetSection("Granary"));
await using var provider = services.BuildServiceProvider();

await ChatAsync(provider.GetRequiredService<IChatClient>(), Console.In, Console.Out);

// Nothing below knows about Granary: any IChatClient would do.
static async Task ChatAsync(IChatClient chat, TextReader input, TextWriter output)
{
    var options = new ChatOptions { MaxOutputTokens = 64, Temperature = 0 };
    List<ChatMessage> history = [];
    while (await input.ReadLineAsync() is { } question)
    {
        if (question.Length == 0) continue;
        history.Add(new ChatMessage(ChatRole.User, question));
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(history, options))
        {
            output.Write(update.Text);
            updates.Add(update);
        }
        output.WriteLine();
        history.AddMessages(updates);
        var usage = updates.ToChatResponse().Usage;
        output.WriteLine($"({usage?.OutputTokenCount} tokens; {history.Count} messages in the conversation)");
    }
}
