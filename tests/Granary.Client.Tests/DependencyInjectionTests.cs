using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Granary.Client.Tests;

/// <summary><c>services.AddGranaryClient(...)</c>: options bound from configuration, the client and IChatClient resolved and used.</summary>
[Collection(ServerCollection.Name)]
public sealed class DependencyInjectionTests(StoriesServer server)
{
    private IConfiguration Configuration(string section) => new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        [$"{section}:Endpoints:0"] = server.BaseUrl.ToString(),
        [$"{section}:ApiKey"] = StoriesServer.Key,
        [$"{section}:Model"] = "stories15M",
        [$"{section}:MaxRetries"] = "5",
        [$"{section}:RetryDelay"] = "00:00:00.050",
        [$"{section}:RequestTimeout"] = "00:02:00",
    }).Build();

    [Fact]
    public async Task RegistersTheClientAndIChatClientFromConfiguration()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddGranaryClient(Configuration("Llm").GetSection("Llm"), o => o.ConnectTimeout = TimeSpan.FromSeconds(2));
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        var options = provider.GetRequiredService<IOptions<GranaryClientOptions>>().Value;
        Assert.Equal([server.BaseUrl], options.Endpoints);
        Assert.Equal(StoriesServer.Key, options.ApiKey);
        Assert.Equal(5, options.MaxRetries);
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.RetryDelay);
        Assert.Equal(TimeSpan.FromMinutes(2), options.RequestTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), options.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), options.MaxRetryDelay); // unset: the documented default

        var client = provider.GetRequiredService<GranaryClient>();
        Assert.Same(client, provider.GetRequiredService<GranaryClient>());
        Assert.Equal("stories15M", Assert.Single((await client.ListModelsAsync()).Data).Id);

        var chat = provider.GetRequiredService<IChatClient>();
        Assert.IsType<GranaryChatClient>(chat);
        Assert.Same(client, chat.GetService<GranaryClient>());
        var response = await chat.GetResponseAsync(TestData.StoryPrompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 10 });
        Assert.Equal(TestData.StoryContinuation[..response.Text.Length], response.Text);
        Assert.Equal(10, response.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task BindsTheGranarySectionOfTheContainersConfiguration()
    {
        var services = new ServiceCollection();
        services.AddSingleton(Configuration(GranaryServiceCollectionExtensions.DefaultSection));
        services.AddGranaryClient();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<GranaryClient>();
        Assert.Equal(server.BaseUrl, client.CurrentEndpoint);
        var answer = await client.CompleteAsync(new() { Prompt = TestData.StoryPrompt, MaxTokens = 5, Temperature = 0 });
        Assert.Equal(TestData.StoryContinuation[..answer.Text.Length], answer.Text);
    }

    [Fact]
    public void MissingEndpointsFailWithAClearMessage()
    {
        var services = new ServiceCollection();
        services.AddGranaryClient(o => o.ApiKey = "k");
        using var provider = services.BuildServiceProvider();
        var e = Assert.Throws<ArgumentException>(() => provider.GetRequiredService<GranaryClient>());
        Assert.Contains("Endpoints is empty", e.Message);
    }
}
