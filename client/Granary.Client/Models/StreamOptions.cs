namespace Granary.Client.Models;

/// <summary><c>stream_options</c>: <c>include_usage</c> asks for a last chunk with the usage and no choices.</summary>
internal sealed class StreamOptions
{
    public bool? IncludeUsage { get; set; }
}
