using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Granary.Cluster.Membership;

namespace Granary.Grains.Tests;

/// <summary>
/// A cluster with a certificate runs mutual TLS (Orleans' Connections.Security): a silo or an Orleans client with
/// another certificate, or none, never joins or connects; a silo of another cluster id on the same Redis is not seen.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SecurityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("granary-tls-").FullName;

    [Fact]
    public async Task SilosAndClientsWithoutTheClusterCertificateAreRefused()
    {
        string certificate = MakeCertificate("cluster");
        string stranger = MakeCertificate("stranger");
        await using var cluster = await SiloCluster.StartAsync(certificate: certificate);
        cluster.StartSilo("s1", devices: "cpu:0");
        await cluster.WaitForAsync(s => s.Silos.Count(r => r.Row.Status == SiloStatus.Active) == 1, "the silo");

        cluster.StartSilo("intruder", devices: "cpu:0", certificate: stranger);
        cluster.StartSilo("plain", devices: "cpu:0", certificate: "");
        foreach (string? cert in new[] { stranger, null })
        {
            var refused = await Assert.ThrowsAsync<IOException>(() => ClusterConnection.ConnectAsync(cluster.Redis.Url, cluster.ClusterId, cert, TimeSpan.FromSeconds(5)));
            Assert.Contains(cluster.ClusterId, refused.Message);
        }
        await Task.Delay(5000);
        var after = await cluster.StatusAsync();
        Assert.Equal(["s1"], after.Silos.Where(r => r.Row.Status == SiloStatus.Active).Select(r => r.Row.Name));

        // A silo of another cluster id (same Redis) forms its own cluster: this one never sees it.
        cluster.StartSilo("other", devices: "cpu:0", clusterId: "elsewhere", certificate: certificate);
        await Task.Delay(3000);
        after = await cluster.StatusAsync();
        Assert.DoesNotContain("other", after.Silos.Select(r => r.Row.Name));
        Assert.False(cluster.Silo("other").Process.HasExited, cluster.Silo("other").Stderr);
    }

    /// <summary>A self-signed certificate for client and server authentication, as a PFX file without password.</summary>
    private string MakeCertificate(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN=granary-{name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        string path = Path.Combine(_dir, name + ".pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx));
        return path;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
