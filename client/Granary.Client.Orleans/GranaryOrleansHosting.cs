using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Granary.Client.Orleans;

/// <summary>Registers an Orleans client of a Granary cluster and <see cref="GranaryCluster"/> in a host.</summary>
public static class GranaryOrleansHosting
{
    /// <summary>
    /// Adds the Orleans client (Redis gateway discovery, the cluster id, TLS when a certificate is given) and
    /// <see cref="GranaryCluster"/>; options come from the "Granary:Orleans" section, then <paramref name="configure"/>.
    /// </summary>
    public static IHostApplicationBuilder AddGranaryOrleansClient(this IHostApplicationBuilder builder, Action<GranaryOrleansOptions>? configure = null)
    {
        var options = new GranaryOrleansOptions();
        builder.Configuration.GetSection(GranaryOrleansOptions.Section).Bind(options);
        configure?.Invoke(options);
        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton<GranaryCluster>();
        builder.UseOrleansClient(client => client.UseGranaryCluster(options));
        return builder;
    }

    /// <summary>Points an Orleans client at a Granary cluster (used by <see cref="AddGranaryOrleansClient"/> and by tools that build their own client).</summary>
    public static IClientBuilder UseGranaryCluster(this IClientBuilder client, GranaryOrleansOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.RedisUrl)) throw new ArgumentException("GranaryOrleansOptions.RedisUrl is required (the cluster's redis://HOST:PORT)");
        var redis = RedisAddress.Parse(options.RedisUrl);
        client.UseRedisClustering(o => o.ConfigurationOptions = redis);
        client.Configure<ClusterOptions>(o => { o.ClusterId = options.ClusterId; o.ServiceId = GranaryOrleansOptions.ServiceId; });
        client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = options.ResponseTimeout);
        client.AddActivityPropagation(); // the caller's trace goes on in the cluster
        if (options.CertificatePath is { Length: > 0 } path)
        {
            var certificate = X509CertificateLoader.LoadPkcs12FromFile(path, options.CertificatePassword);
            client.UseTls(certificate, tls => ClusterTls.Configure(tls, certificate));
        }
        return client;
    }
}
