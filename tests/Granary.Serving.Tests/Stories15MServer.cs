namespace Granary.Serving.Tests;

/// <summary>stories15M (no chat template: chat falls back to the plain contents) behind an open server.</summary>
public sealed class Stories15MServer : TestServer
{
    protected override string ModelDirectory => TestData.Stories15M;
}
