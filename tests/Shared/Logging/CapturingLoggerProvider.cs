using Microsoft.Extensions.Logging;

namespace Granary.Tests.Shared;

/// <summary>Loggers that record every entry (category, event id, formatted message), for tests of what is logged.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    public List<(string Category, int EventId, string Message)> Entries { get; } = [];

    public ILogger CreateLogger(string categoryName) => new Capturing(categoryName, Entries);

    public void Dispose() { }

    private sealed class Capturing(string category, List<(string, int, string)> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (entries) entries.Add((category, eventId.Id, formatter(state, exception)));
        }
    }
}
