// An Orleans client of a Granary cluster. Configuration: Granary__Orleans__RedisUrl (the cluster's Redis),
// Granary__Orleans__ClusterId, Granary__Orleans__CertificatePath; arguments: [deployment] [prompt].
using Granary.Client.Orleans;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
builder.AddGranaryOrleansClient();
using var host = builder.Build();
await host.StartAsync();

var model = host.Services.GetRequiredService<GranaryCluster>().GetModel(args.Length > 0 ? args[0] : null);
string prompt = args.Length > 1 ? args[1] : "Once upon a time";

Console.Write("completion: ");
await foreach (var chunk in model.StreamAsync(prompt, new GranaryGenerationOptions { MaxTokens = 32, Temperature = 0 }))
    Console.Write(chunk.Text);
Console.WriteLine();

IChatClient chat = model.AsChatClient();
var answer = await chat.GetResponseAsync("Tell me a story about a cat.", new ChatOptions { MaxOutputTokens = 24, Temperature = 0 });
Console.WriteLine($"chat: {answer.Text}");
await host.StopAsync();
