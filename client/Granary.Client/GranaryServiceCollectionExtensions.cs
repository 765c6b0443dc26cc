using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Granary.Client;

/// <summary>Registers the Granary client with dependency injection.</summary>
public static class GranaryServiceCollectionExtensions
{
    /// <summary>The configuration section <see cref="AddGranaryClient(IServiceCollection, string, Action{GranaryClientOptions})"/> binds by default.</summary>
    public const string DefaultSection = "Granary";

    /// <summary>
    /// Registers a singleton <see cref="GranaryClient"/> and <see cref="IChatClient"/> (a <see cref="GranaryChatClient"/>
    /// over it), with <see cref="GranaryClientOptions"/> bound from <paramref name="configuration"/> (e.g.
    /// <c>builder.Configuration.GetSection("Granary")</c>) and then changed by <paramref name="configure"/>.
    /// </summary>
    public static IServiceCollection AddGranaryClient(this IServiceCollection services, IConfiguration configuration, Action<GranaryClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = services.AddOptions<GranaryClientOptions>().Bind(configuration);
        if (configure is not null) options.Configure(configure);
        return AddServices(services);
    }

    /// <summary>
    /// Registers a singleton <see cref="GranaryClient"/> and <see cref="IChatClient"/>, with
    /// <see cref="GranaryClientOptions"/> bound from the section <paramref name="sectionPath"/> of the
    /// <see cref="IConfiguration"/> in the container (a host's configuration: appsettings.json, environment
    /// variables such as <c>Granary__ApiKey</c>...), then changed by <paramref name="configure"/>.
    /// </summary>
    public static IServiceCollection AddGranaryClient(this IServiceCollection services, string sectionPath = DefaultSection, Action<GranaryClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(sectionPath);
        var options = services.AddOptions<GranaryClientOptions>().BindConfiguration(sectionPath);
        if (configure is not null) options.Configure(configure);
        return AddServices(services);
    }

    /// <summary>Registers a singleton <see cref="GranaryClient"/> and <see cref="IChatClient"/> configured in code.</summary>
    public static IServiceCollection AddGranaryClient(this IServiceCollection services, Action<GranaryClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<GranaryClientOptions>().Configure(configure);
        return AddServices(services);
    }

    private static IServiceCollection AddServices(IServiceCollection services)
    {
        services.TryAddSingleton(sp => new GranaryClient(
            sp.GetRequiredService<IOptions<GranaryClientOptions>>().Value,
            sp.GetService<ILoggerFactory>()?.CreateLogger<GranaryClient>()));
        services.TryAddSingleton<IChatClient>(sp => new GranaryChatClient(sp.GetRequiredService<GranaryClient>()));
        return services;
    }
}
