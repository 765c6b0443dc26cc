using System.Runtime.CompilerServices;
using System.Text;

namespace Granary.Client.Internal;

/// <summary>
/// Reads the data of server-sent events as the HTML living standard defines them: lines ending in LF, CRLF
/// or CR; <c>data:</c> fields (one optional space after the colon) joined with LF; an event ends at a blank
/// line; comments (<c>:</c>) and the other fields (event, id, retry) are skipped; an event cut off by the
/// end of the stream is dropped.
/// </summary>
internal static class ServerSentEvents
{
    public static async IAsyncEnumerable<string> ReadDataAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The token goes to every read: cancelling it cancels the pending socket read, which closes the connection.
        using var reader = new StreamReader(stream, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, bufferSize: 4096, leaveOpen: true);
        StringBuilder? data = null;
        bool first = true;
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            // A byte order mark may open the stream; StreamReader keeps it when detection is off.
            if (first && line.Length > 0 && line[0] == '\uFEFF') line = line[1..];
            first = false;
            if (line.Length == 0)
            {
                if (data is not null)
                {
                    yield return data.ToString();
                    data = null;
                }
                continue;
            }
            if (line[0] == ':') continue;
            int colon = line.IndexOf(':');
            ReadOnlySpan<char> field = colon < 0 ? line : line.AsSpan(0, colon);
            if (!field.SequenceEqual("data")) continue;
            ReadOnlySpan<char> value = colon < 0 ? [] : line.AsSpan(colon + 1);
            if (value.Length > 0 && value[0] == ' ') value = value[1..];
            if (data is null) data = new StringBuilder(value.Length).Append(value);
            else data.Append('\n').Append(value);
        }
    }
}
