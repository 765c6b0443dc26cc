namespace Granary.Cluster.Transport;

/// <summary>A failed call to a grain on another silo; the message names the silo and the grain.</summary>
public sealed class GrainCallException : Exception
{
    public GrainCallException(GrainCallFailure kind, string siloUrl, string grainType, string grainKey, string method, string detail,
        string? remoteMessage = null, int statusCode = 0, Exception? innerException = null)
        : base(Describe(kind, siloUrl, grainType, grainKey, method, detail), innerException)
    {
        Kind = kind;
        SiloUrl = siloUrl;
        GrainType = grainType;
        GrainKey = grainKey;
        Method = method;
        RemoteMessage = remoteMessage;
        StatusCode = statusCode;
    }

    public GrainCallFailure Kind { get; }

    /// <summary>The silo endpoint that was called.</summary>
    public string SiloUrl { get; }

    public string GrainType { get; }

    public string GrainKey { get; }

    public string Method { get; }

    /// <summary>The text the other silo answered with (its handler's message, or why it refused), when it answered.</summary>
    public string? RemoteMessage { get; }

    /// <summary>The HTTP status of the answer, or 0 when none came (or the failure came inside a stream).</summary>
    public int StatusCode { get; }

    private static string Describe(GrainCallFailure kind, string siloUrl, string grainType, string grainKey, string method, string detail)
    {
        string what = grainType.Length == 0 ? method : $"{grainType}/{grainKey}.{method}";
        return $"{what} on silo {siloUrl} failed ({kind}): {detail}";
    }
}
