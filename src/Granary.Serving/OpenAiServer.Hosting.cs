using System.Net;
using Granary.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Granary.Serving;

/// <summary>The server's host: made here and owned (<c>granary serve</c>, tests), or a caller's that the API is mapped onto (a gateway silo).</summary>
public sealed partial class OpenAiServer
{
    /// <summary>
    /// The host the server runs in: Kestrel listening where <paramref name="options"/> say, logging through
    /// <paramref name="loggers"/>, the telemetry behind /metrics. A caller that hosts more in the same process (a gateway
    /// silo adds Orleans) configures it further, builds it and maps the API onto it with <see cref="MapOnto"/>.
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(ServeOptions options, ILoggerFactory loggers)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // Kestrel and routing speak only of problems: one line per request would drown the engine's log.
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(loggers));
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            kestrel.AddServerHeader = false;
            if (options.Host == "localhost") kestrel.ListenLocalhost(options.Port);
            else if (options.Host is "0.0.0.0" or "*" or "") kestrel.ListenAnyIP(options.Port);
            else kestrel.Listen(IPAddress.TryParse(options.Host, out var ip) ? ip : throw new ArgumentException($"--host '{options.Host}' is not an IP address, localhost or 0.0.0.0"), options.Port);
        });
        ServerTelemetry.AddTo(builder);
        return builder;
    }

    /// <summary>
    /// Maps the API onto a host built from <see cref="CreateBuilder"/>, which its caller starts, stops and disposes;
    /// the service stays the caller's too.
    /// </summary>
    public static OpenAiServer MapOnto(WebApplication app, IGenerationService service, ServeOptions options, ILoggerFactory loggers) =>
        new(app, service, ownsHost: false, options, loggers);

    /// <summary>Builds the server over a model of this process (the model stays the caller's to dispose, after the server); <see cref="StartAsync"/> starts listening.</summary>
    public static OpenAiServer Create(LocalModel model, ServeOptions options, ILoggerFactory? loggers = null) =>
        Create(new LocalGenerationService(model, options.Engine, loggers), options, loggers);

    /// <summary>Builds the server, and its own host, over any service, which it owns from now on; <see cref="StartAsync"/> starts listening.</summary>
    public static OpenAiServer Create(IGenerationService service, ServeOptions options, ILoggerFactory? loggers = null)
    {
        loggers ??= NullLoggerFactory.Instance;
        return new(CreateBuilder(options, loggers).Build(), service, ownsHost: true, options, loggers);
    }

    /// <summary>Starts listening (a server made by <see cref="Create(IGenerationService, ServeOptions, ILoggerFactory?)"/>; one mapped onto a host starts with it).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (!_ownsHost) throw new InvalidOperationException("this server was mapped onto a host of its caller's, which starts it");
        await _app.StartAsync(cancellationToken);
    }

    /// <summary>Serves until <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        await StartAsync(cancellationToken);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            LogShuttingDown();
        }
    }

    /// <summary>Stops taking requests and gives the running ones 5 s to finish, before the rest of the host stops.</summary>
    public async Task StopListeningAsync()
    {
        LogShuttingDown();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.Services.GetRequiredService<IServer>().StopAsync(timeout.Token);
        }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_ownsHost) return;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException) { }
        _service.Dispose();
        await _app.DisposeAsync();
        LogStopped();
    }
}
