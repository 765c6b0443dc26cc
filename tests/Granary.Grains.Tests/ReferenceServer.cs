using Granary.Engine;
using Granary.Serving;
using Granary.Tests.Shared;

namespace Granary.Grains.Tests;

/// <summary>stories15M served by one process with one rank: the answers a cluster must reproduce.</summary>
public sealed class ReferenceServer : IAsyncLifetime
{
    private LocalModel _model = null!;
    private OpenAiServer _server = null!;

    public Uri BaseUrl { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        _model = LocalModel.Load(TestPaths.Stories15M, new LocalModelOptions { Threads = 1, Engine = new EngineOptions { KvCacheBytes = 32 << 20, MaxSequences = 16 } });
        _server = OpenAiServer.Create(_model, new ServeOptions { Port = 0 });
        await _server.StartAsync();
        BaseUrl = new Uri(_server.Urls[0]);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _model.Dispose();
    }
}
