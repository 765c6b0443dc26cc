using Microsoft.Extensions.Logging;

namespace Granary.Silo.Cli;

/// <summary>Console logging on stderr, so stdout carries only the command's result.</summary>
internal static class CliLogging
{
    public static ILoggerFactory Create(bool quiet = false) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(quiet ? LogLevel.Warning : LogLevel.Information);
        builder.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
    });
}
