namespace Granary.Client.Orleans;

/// <summary>Where the cluster is and how long to wait for it (bound from the "Granary:Orleans" configuration section).</summary>
public sealed class GranaryOrleansOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string Section = "Granary:Orleans";

    /// <summary>Orleans' ServiceId of every Granary cluster (the cluster id tells them apart).</summary>
    public const string ServiceId = "granary";

    /// <summary>The cluster's Redis, where the silos' gateways are listed, e.g. redis://10.0.0.1:6379. Required.</summary>
    public string RedisUrl { get; set; } = "";

    /// <summary>The cluster's id (its silos' --cluster-id). Default "granary".</summary>
    public string ClusterId { get; set; } = "granary";

    /// <summary>PFX of the cluster's certificate when the cluster runs mutual TLS; null for plain TCP. Default null.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>Password of <see cref="CertificatePath"/>. Default null.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>
    /// How long a call may go without an answer. An Orleans client is not told that a silo died, so this is how long
    /// a request in flight on a dead gateway silo takes to fail over. Default 10 s.
    /// </summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many times a request is resumed after its silo failed before the failure is thrown. Default 3.</summary>
    public int MaxResumes { get; set; } = 3;
}
