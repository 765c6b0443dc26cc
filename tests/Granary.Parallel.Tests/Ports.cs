using System.Net;
using System.Net.Sockets;

namespace Granary.Parallel.Tests;

/// <summary>Free loopback ports for the ranks of one test.</summary>
internal static class Ports
{
    // Below Linux's ephemeral range (32768 up), where other test processes' servers and clients take their ports.
    private const int First = 20000, Last = 32000;
    private static int _next = First + Random.Shared.Next(0, Last - First);

    /// <summary>A base port such that base..base+count-1 are all free right now.</summary>
    public static int FreeRange(int count)
    {
        while (true)
        {
            int start = Interlocked.Add(ref _next, count + 1) - count;
            if (start + count > Last) { Interlocked.Exchange(ref _next, First); continue; }
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
