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
        if (!Uri.TryCreate(options.RedisUrl, UriKind.Absolute, out var redis) || redis.Scheme is not ("redis" or "rediss") || redis.Port <= 0)
            throw new ArgumentException($"GranaryOrleansOptions.RedisUrl must be redis://HOST:PORT, got '{options.RedisUrl}'");
        client.UseRedisClustering(o =>
        {
            o.ConfigurationOptions = new StackExchange.Redis.ConfigurationOptions { EndPoints = { { redis.Host, redis.Port } }, Ssl = redis.Scheme == "rediss", AbortOnConnectFail = false };
            if (redis.UserInfo.Split(':', 2) is [_, { Length: > 0 } password]) o.ConfigurationOptions.Password = Uri.UnescapeDataString(password);
        });
        client.Configure<ClusterOptions>(o => { o.ClusterId = options.ClusterId; o.ServiceId = "granary"; });
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
