using Granary.Serving;
using Granary.Tests.Shared;
using Microsoft.Extensions.Logging;

namespace Granary.Serving.Tests;

public sealed class ForwardingLoggerProviderTests
{
    [Fact]
    public void TheHostsFailedStartIsLeftToTheCallerAndEverythingElseIsForwarded()
    {
        var captured = new CapturingLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(captured));
        using var forwarding = new ForwardingLoggerProvider(loggers);
        var host = forwarding.CreateLogger("Microsoft.Extensions.Hosting.Internal.Host");
        host.Log(LogLevel.Error, new EventId(11, "HostedServiceStartupFaulted"), "Hosting failed to start", new IOException("address already in use"), (s, _) => s);
        host.Log(LogLevel.Error, new EventId(9, "BackgroundServiceFaulted"), "BackgroundService failed", null, (s, _) => s);
        forwarding.CreateLogger("Granary.Serve").Log(LogLevel.Error, new EventId(11), "same id, another category", null, (s, _) => s);
        Assert.Equal([("Microsoft.Extensions.Hosting.Internal.Host", 9), ("Granary.Serve", 11)], captured.Entries.Select(e => (e.Category, e.EventId)));
    }
}
