using System.Net.ServerSentEvents;
using System.Text;

namespace Granary.Client.Tests;

/// <summary>
/// The cases of the HTML living standard's event stream format that the client's streams rely on, through the
/// <see cref="SseParser"/> the client reads them with.
/// </summary>
public sealed class ServerSentEventsTests
{
    private static async Task<List<string>> Read(string stream)
    {
        var events = new List<string>();
        await foreach (var item in SseParser.Create(new MemoryStream(Encoding.UTF8.GetBytes(stream))).EnumerateAsync()) events.Add(item.Data);
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
