namespace Granary.Compute.Collectives;

/// <summary>Where one rank listens for its peers.</summary>
public sealed record PeerAddress(string Host, int Port)
{
    public override string ToString() => $"{Host}:{Port}";
}
