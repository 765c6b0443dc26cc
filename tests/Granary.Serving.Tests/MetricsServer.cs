namespace Granary.Serving.Tests;

/// <summary>stories15M under a name of its own, so that its model_name series count only this server's requests.</summary>
public sealed class MetricsServer : TestServer
{
    public const string Name = "stories15M-metrics";

    protected override string ModelDirectory => TestData.Stories15M;
    protected override ServeOptions ServeOptions => new() { Port = 0, ServedModelName = Name };
}
