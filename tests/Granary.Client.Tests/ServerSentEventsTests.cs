using System.Text;
using Granary.Client.Internal;

namespace Granary.Client.Tests;

/// <summary>The SSE reader against the cases of the HTML living standard's event stream format.</summary>
public sealed class ServerSentEventsTests
{
    private static async Task<List<string>> Read(string stream)
    {
        var events = new List<string>();
        await foreach (string data in ServerSentEvents.ReadDataAsync(new MemoryStream(Encoding.UTF8.GetBytes(stream)), CancellationToken.None)) events.Add(data);
        return events;
    }

    [Fact]
    public async Task DataLinesEndAtABlankLine() =>
        Assert.Equal(["{\"a\":1}", "[DONE]"], await Read("data: {\"a\":1}\n\ndata: [DONE]\n\n"));

    [Fact]
    public async Task MultiLineDataIsJoinedWithNewlines() =>
        Assert.Equal(["first\nsecond", "third"], await Read("data: first\ndata: second\n\ndata: third\n\n"));

    [Fact]
    public async Task CrLfAndCrEndLinesToo() =>
        Assert.Equal(["one", "two", "three"], await Read("data: one\r\n\r\ndata: two\r\rdata: three\n\n"));

    [Fact]
    public async Task CommentsOtherFieldsAndTheOptionalSpace() =>
        Assert.Equal(["x", " y", ""], await Read(": keep-alive\n\nevent: message\nid: 7\nretry: 100\ndata:x\n\ndata:  y\n\ndata\n\n"));

    [Fact]
    public async Task AnEventCutOffByTheEndIsDropped() =>
        Assert.Equal(["whole"], await Read("data: whole\n\ndata: cut"));

    [Fact]
    public async Task ByteOrderMarkAndUtf8() =>
        Assert.Equal(["héllo 世界"], await Read("\uFEFFdata: héllo 世界\n\n"));

    [Fact]
    public async Task BlankLinesWithoutDataDispatchNothing() =>
        Assert.Equal(["a"], await Read("\n\n\ndata: a\n\n\n"));
}
