using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;

namespace Granary.Client.Orleans;

/// <summary>
/// Mutual TLS of a cluster: every silo and client presents the cluster's certificate and accepts only a peer that
/// presents the same one (pinned by thumbprint), so a silo or client without it never connects.
/// </summary>
public static class ClusterTls
{
    /// <summary>Presents <paramref name="certificate"/> and accepts only a peer presenting the same one.</summary>
    public static void Configure(TlsOptions tls, X509Certificate2 certificate)
    {
        string thumbprint = certificate.Thumbprint;
        tls.LocalCertificate = certificate;
        tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        tls.RemoteCertificateValidation = (remote, _, _) => remote is not null && string.Equals(remote.GetCertHashString(), thumbprint, StringComparison.OrdinalIgnoreCase);
        tls.HandshakeTimeout = TimeSpan.FromSeconds(5);
    }
}
