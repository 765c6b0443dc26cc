using System.Net;
using System.Net.Sockets;

namespace Granary.Parallel.Tests;

/// <summary>Free loopback ports for the ranks of one test.</summary>
internal static class Ports
{
    private static int _next = 20000 + Random.Shared.Next(0, 20000);

    /// <summary>A base port such that base..base+count-1 are all free right now.</summary>
    public static int FreeRange(int count)
    {
        while (true)
        {
            int start = Interlocked.Add(ref _next, count + 1) - count;
            if (start + count > 60000) { Interlocked.Exchange(ref _next, 20000); continue; }
            if (Enumerable.Range(start, count).All(IsFree)) return start;
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
