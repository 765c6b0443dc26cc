namespace Granary.Compute;

/// <summary>A collective failed: a peer is gone, timed out or sent something unexpected.</summary>
public sealed class CommunicatorException : Exception
{
    public CommunicatorException(string message, Exception? inner = null) : base(message, inner) { }
}
