namespace Granary.Client.Internal;

/// <summary>
/// The gateways of a client, normalized to base URLs that end in '/', and the one requests go to now: it stays
/// put while it answers and moves to the next (round robin) when a request finds it down.
/// </summary>
internal sealed class EndpointList
{
    private readonly Uri[] _endpoints;
    private int _current;

    public EndpointList(IEnumerable<Uri>? endpoints)
    {
        _endpoints = (endpoints ?? []).Select(Normalize).ToArray();
        if (_endpoints.Length == 0)
            throw new ArgumentException("GranaryClientOptions.Endpoints is empty: name at least one gateway, e.g. http://127.0.0.1:8000", nameof(endpoints));
    }

    public int Count => _endpoints.Length;

    public IReadOnlyList<Uri> All => _endpoints;

    public int Current => Volatile.Read(ref _current);

    public Uri this[int index] => _endpoints[index];

    /// <summary>Moves on from <paramref name="index"/>, unless another request already did.</summary>
    public void MarkFailed(int index) => Interlocked.CompareExchange(ref _current, (index + 1) % _endpoints.Length, index);

    /// <summary>http(s) URLs only; a trailing <c>/v1</c> (how OpenAI clients write base URLs) is dropped, since the client adds it.</summary>
    internal static Uri Normalize(Uri? endpoint)
    {
        if (endpoint is null) throw new ArgumentException("GranaryClientOptions.Endpoints holds a null entry");
        if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"gateway endpoint '{endpoint}' is not an absolute http:// or https:// URL");
        if (!string.IsNullOrEmpty(endpoint.Query) || !string.IsNullOrEmpty(endpoint.Fragment))
            throw new ArgumentException($"gateway endpoint '{endpoint}' must not have a query or fragment");
        string path = endpoint.AbsolutePath.TrimEnd('/');
        if (path.EndsWith("/v1", StringComparison.OrdinalIgnoreCase)) path = path[..^3];
        return new UriBuilder(endpoint) { Path = path + "/" }.Uri;
    }
}
