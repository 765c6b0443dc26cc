using Microsoft.Extensions.Logging;

namespace Granary.Serving;

/// <summary>Hands ASP.NET Core's loggers to the caller's factory, so the host's filters apply on top of the caller's.</summary>
public sealed class ForwardingLoggerProvider(ILoggerFactory loggers) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => loggers.CreateLogger(categoryName);

    public void Dispose() { }
}
