using Microsoft.Extensions.Logging;

namespace Granary.Serving;

/// <summary>
/// Hands ASP.NET Core's loggers to the caller's factory, so the host's filters apply on top of the caller's. The
/// generic host's "Hosting failed to start" entry is dropped: the exception it logs with its whole stack is the one
/// StartAsync throws to the caller, which reports it (the CLI in one line), so logging it too printed it twice.
/// </summary>
public sealed class ForwardingLoggerProvider(ILoggerFactory loggers) : ILoggerProvider
{
    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";
    private const int HostingFailedToStart = 11;

    public ILogger CreateLogger(string categoryName)
    {
        var logger = loggers.CreateLogger(categoryName);
        return categoryName == HostCategory ? new WithoutFailedStart(logger) : logger;
    }

    public void Dispose() { }

    private sealed class WithoutFailedStart(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == HostingFailedToStart) return;
            inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
