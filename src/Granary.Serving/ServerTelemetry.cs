using Granary.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Granary.Serving;

/// <summary>
/// OpenTelemetry for the server: the Granary meter (<see cref="ServingMetrics"/>), ASP.NET Core's, the runtime's and
/// Orleans' meters in Prometheus text at /metrics; with OTEL_EXPORTER_OTLP_ENDPOINT set (and the other OTEL_*
/// variables the OTLP exporter reads), metrics and traces (ASP.NET Core requests, Granary's request and engine-step
/// spans) also go there.
/// </summary>
internal static class ServerTelemetry
{
    public const string MetricsPath = "/metrics";

    public static void AddTo(WebApplicationBuilder builder)
    {
        bool otlp = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"));
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("granary"))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(GranaryTelemetry.Name, "Microsoft.Orleans")
                    .AddAspNetCoreInstrumentation()
                    .AddRuntimeInstrumentation()
                    // No cached scrape: a scrape during a request shows it running.
                    .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0);
                if (otlp) metrics.AddOtlpExporter();
            });
        if (otlp)
        {
            telemetry.WithTracing(tracing => TraceSources(tracing)
                .AddAspNetCoreInstrumentation(aspnet => aspnet.Filter = ctx => ctx.Request.Path != MetricsPath)
                .AddOtlpExporter());
        }
    }

    /// <summary>
    /// Traces of a silo without the gateway role (its session and rank grains, its engine steps), over OTLP when
    /// OTEL_EXPORTER_OTLP_ENDPOINT is set; a gateway silo's server exports them already.
    /// </summary>
    public static void AddSiloTracing(IServiceCollection services)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"))) return;
        services.AddOpenTelemetry().ConfigureResource(resource => resource.AddService("granary"))
            .WithTracing(tracing => TraceSources(tracing).AddOtlpExporter());
    }

    // Granary's request and step spans, and Orleans' grain-call spans (the request's path across silos).
    private static TracerProviderBuilder TraceSources(TracerProviderBuilder tracing) =>
        tracing.AddSource(GranaryTelemetry.Name, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application");

    public static void MapEndpoint(WebApplication app) => app.MapPrometheusScrapingEndpoint(MetricsPath);
}
