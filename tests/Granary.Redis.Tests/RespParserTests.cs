using System.Buffers;
using System.Text;

namespace Granary.Redis.Tests;

/// <summary>The parser and writer on bytes (the frames are those redis-server 7 sends, see DEBUG PROTOCOL).</summary>
public class RespParserTests
{
    private static RedisValue Parse(string wire)
    {
        var bytes = Encoding.UTF8.GetBytes(wire);
        // Every strict prefix is incomplete (false, no exception); the whole is one frame consumed exactly.
        for (int cut = 0; cut < bytes.Length; cut++)
        {
            var partial = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 0, cut));
            Assert.False(RespParser.TryRead(ref partial, build: false, out _), $"prefix of {cut} bytes read as complete");
        }
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.True(RespParser.TryRead(ref reader, build: true, out var value));
        Assert.Equal(bytes.Length, reader.Consumed);
        return value!;
    }

    [Fact]
    public void Resp2Types()
    {
        Assert.Equal("OK", Parse("+OK\r\n").ToString());
        Assert.Equal(-42, Parse(":-42\r\n").AsInt64());
        Assert.Equal("a\r\nb", Parse("$4\r\na\r\nb\r\n").ToString());
        Assert.True(Parse("$-1\r\n").IsNull);
        Assert.True(Parse("*-1\r\n").IsNull);
        Assert.Equal(RedisType.Error, Parse("-ERR bad\r\n").Type);
        var array = Parse("*3\r\n$3\r\nfoo\r\n:7\r\n*0\r\n");
        Assert.Equal(RedisType.Array, array.Type);
        Assert.Equal("foo", array[0].ToString());
        Assert.Equal(7, array[1].AsInt64());
        Assert.Equal(0, array[2].Count);
        Assert.Equal("", Parse("$0\r\n\r\n").ToString());
    }

    [Fact]
    public void Resp3Types()
    {
        var map = Parse("%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n");
        Assert.Equal(RedisType.Map, map.Type);
        Assert.Equal([false, true, false], map.AsPairs().Select(p => p.Value.AsBoolean()));
        Assert.Equal(RedisType.Set, Parse("~3\r\n:0\r\n:1\r\n:2\r\n").Type);
        Assert.Equal(3.141, Parse(",3.141\r\n").AsDouble());
        Assert.Equal(1.5e300, Parse(",1.5e300\r\n").AsDouble());
        Assert.Equal(double.PositiveInfinity, Parse(",inf\r\n").AsDouble());
        Assert.Equal(double.NegativeInfinity, Parse(",-inf\r\n").AsDouble());
        Assert.True(double.IsNaN(Parse(",nan\r\n").AsDouble()));
        Assert.True(Parse("_\r\n").IsNull);
        Assert.True(Parse("#t\r\n").AsBoolean());
        Assert.Equal("1234567999999999999999999999999999999", Parse("(1234567999999999999999999999999999999\r\n").ToString());
        var verbatim = Parse("=29\r\ntxt:This is a verbatim\nstring\r\n");
        Assert.Equal("txt", verbatim.Format);
        Assert.Equal("This is a verbatim\nstring", verbatim.ToString());
        var blobError = Parse("*1\r\n!21\r\nSYNTAX invalid syntax\r\n")[0];
        Assert.True(blobError.IsError);
        Assert.Equal("SYNTAX invalid syntax", blobError.ToString());
        var withAttributes = Parse("|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$4\r\nreal\r\n");
        Assert.Equal("real", withAttributes.ToString());
        Assert.Equal("key-popularity", withAttributes.Attributes!.AsPairs().Single().Key.ToString());
        var push = Parse(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
        Assert.Equal(RedisType.Push, push.Type);
        Assert.Equal("hi", push[2].ToString());
    }

    [Theory]
    [InlineData("?x\r\n", "unknown type byte")]
    [InlineData(":12a\r\n", "integer")]
    [InlineData("$3\r\nabcd\r\n", "not followed by CRLF")]
    [InlineData("$-5\r\n", "out of range")]
    [InlineData("#x\r\n", "boolean")]
    [InlineData(",abc\r\n", "double")]
    [InlineData("_x\r\n", "null")]
    [InlineData("$?\r\n", "streamed")]
    public void MalformedInputThrowsNamingThePart(string wire, string expected)
    {
        var error = Assert.Throws<RedisProtocolException>(() =>
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(wire)));
            RespParser.TryRead(ref reader, build: true, out _);
        });
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void MultiSegmentInputParses()
    {
        // A bulk string and an integer split across three segments at awkward places.
        var wire = Encoding.UTF8.GetBytes("*2\r\n$5\r\nhello\r\n:12345\r\n");
        var first = new Segment(wire.AsMemory(0, 7));
        var last = first.Append(wire.AsMemory(7, 12)).Append(wire.AsMemory(19));
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length));
        Assert.True(RespParser.TryRead(ref reader, build: true, out var value));
        Assert.Equal("hello", value![0].ToString());
        Assert.Equal(12345, value[1].AsInt64());
    }

    [Fact]
    public void WriterSendsArraysOfBulkStrings()
    {
        var buffer = new ArrayBufferWriter<byte>();
        RespWriter.WriteCommand(buffer, ["SET", "k\u00e9", new byte[] { 0, 13, 10 }, 42L, 1.5, double.NegativeInfinity]);
        Assert.Equal("*6\r\n$3\r\nSET\r\n$3\r\nk\u00e9\r\n$3\r\n\0\r\n\r\n$2\r\n42\r\n$3\r\n1.5\r\n$4\r\n-inf\r\n",
            Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
