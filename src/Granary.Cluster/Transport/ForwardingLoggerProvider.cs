using Microsoft.Extensions.Logging;

namespace Granary.Cluster.Transport;

/// <summary>Hands ASP.NET Core's loggers to the owner's factory, so the host's filters apply on top of the owner's.</summary>
internal sealed class ForwardingLoggerProvider(ILoggerFactory loggers) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => loggers.CreateLogger(categoryName);

    public void Dispose() { }
}
