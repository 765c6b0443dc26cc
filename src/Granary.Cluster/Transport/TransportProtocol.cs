using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Granary.Cluster.Transport;

/// <summary>
/// The wire format between silos, in one place for both ends.
/// <para>Calls: HTTP/2 cleartext (prior knowledge). <c>POST /grains/{type}/{key}/{method}</c>, each segment
/// URL-escaped (keys contain '/'), body and answer raw bytes (application/octet-stream). <c>GET /cluster/ping</c>
/// answers the silo's key as text. Every request carries <see cref="ClusterHeader"/> (the cluster id) and
/// <see cref="AuthHeader"/> (lowercase hex HMAC-SHA256 of "granary-cluster:" + cluster id, keyed with the UTF-8 secret).</para>
/// <para>Statuses: 200 answer; 401 wrong or missing token; 403 another cluster (the text names this silo's);
/// 404 no such activation, grain type or method; 500 the handler threw (the text is its message).</para>
/// <para>Streams: a sequence of frames, each a 4-byte little-endian length then that many bytes (0 is an empty frame),
/// closed by exactly one of: <see cref="EndMarker"/> (normal end), or <see cref="ErrorMarker"/> followed by a 4-byte
/// status (404 or 500), a 4-byte length and the UTF-8 message (the handler threw after the first frame). A stream whose
/// bytes stop before one of them was cut. Lengths from <see cref="FirstReserved"/> up are markers, never frame lengths.</para>
/// </summary>
internal static class TransportProtocol
{
    public const string ClusterHeader = "x-granary-cluster";
    public const string AuthHeader = "x-granary-auth";
    public const string GrainsPrefix = "/grains/";
    public const string PingPath = "/cluster/ping";
    public const string OctetStream = "application/octet-stream";

    public const uint EndMarker = 0xFFFF_FFFF;
    public const uint ErrorMarker = 0xFFFF_FFFE;
    public const uint FirstReserved = 0xFFFF_FFF0;

    /// <summary>Frame lengths are also capped by <see cref="ClusterOptions.MaxMessageBytes"/>.</summary>
    public const int FrameHeaderBytes = 4;

    /// <summary>Longest error text, in an answer or an error frame (UTF-8 bytes); longer ones are cut.</summary>
    public const int MaxErrorTextBytes = 64 << 10;

    /// <summary>The token of <paramref name="options"/>' cluster and secret (lowercase hex).</summary>
    public static string Token(ClusterOptions options) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(options.Secret), Encoding.UTF8.GetBytes("granary-cluster:" + options.ClusterId)));

    /// <summary>The request path of a grain call.</summary>
    public static string GrainPath(string grainType, string grainKey, string method) =>
        string.Concat(GrainsPrefix, Uri.EscapeDataString(grainType), "/", Uri.EscapeDataString(grainKey), "/", Uri.EscapeDataString(method));

    /// <summary>Splits the part of a raw request target after <see cref="GrainsPrefix"/> into its three escaped segments.</summary>
    public static bool TrySplitGrainPath(ReadOnlySpan<char> rest, out Range type, out Range key, out Range method)
    {
        type = key = method = default;
        int q = rest.IndexOf('?');
        if (q >= 0) rest = rest[..q];
        int a = rest.IndexOf('/');
        if (a <= 0) return false;
        int b = rest[(a + 1)..].IndexOf('/');
        if (b < 0) return false;
        b += a + 1;
        if (b + 1 >= rest.Length || rest[(b + 1)..].Contains('/')) return false;
        type = ..a;
        key = (a + 1)..b;
        method = (b + 1)..rest.Length;
        return true;
    }

    /// <summary>Writes a frame header (a length or a marker).</summary>
    public static void WriteHeader(Span<byte> destination, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(destination, value);

    public static uint ReadHeader(ReadOnlySpan<byte> source) => BinaryPrimitives.ReadUInt32LittleEndian(source);
}
