using Granary.Serving;
using Microsoft.Extensions.Logging;

namespace Granary.Serving.Tests;

public sealed class ForwardingLoggerProviderTests
{
    [Fact]
    public void TheHostsFailedStartIsLeftToTheCallerAndEverythingElseIsForwarded()
    {
        var captured = new List<(string Category, int EventId)>();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(new CapturingProvider(captured)));
        using var forwarding = new ForwardingLoggerProvider(loggers);
        var host = forwarding.CreateLogger("Microsoft.Extensions.Hosting.Internal.Host");
        host.Log(LogLevel.Error, new EventId(11, "HostedServiceStartupFaulted"), "Hosting failed to start", new IOException("address already in use"), (s, _) => s);
        host.Log(LogLevel.Error, new EventId(9, "BackgroundServiceFaulted"), "BackgroundService failed", null, (s, _) => s);
        forwarding.CreateLogger("Granary.Serve").Log(LogLevel.Error, new EventId(11), "same id, another category", null, (s, _) => s);
        Assert.Equal([("Microsoft.Extensions.Hosting.Internal.Host", 9), ("Granary.Serve", 11)], captured);
    }

    private sealed class CapturingProvider(List<(string, int)> captured) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Capturing(categoryName, captured);

        public void Dispose() { }
    }

    private sealed class Capturing(string category, List<(string, int)> captured) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            captured.Add((category, eventId.Id));
    }
}
