using System.Runtime.ExceptionServices;
using Granary.Compute;

namespace Granary.Engine;

/// <summary>
/// Loads the ranks of a group that live in one process at the same time, each on a thread of its own: a rank's
/// groups agree how to exchange tensors (and NCCL joins) only when every member takes part, and GPU ranks load
/// their weights side by side. A rank that fails aborts the group so that the others stop waiting for it.
/// </summary>
public static class RankLoader
{
    /// <summary>Runs <paramref name="load"/>(0 .. count-1) at once; on any failure disposes what loaded and throws the root cause.</summary>
    /// <param name="abort">Makes the group's pending and later exchanges fail with the reason.</param>
    public static T[] LoadAll<T>(int count, Func<int, T> load, Action<T> dispose, Action<string> abort)
    {
        var loaded = new T[count];
        var errors = new Exception?[count];
        var threads = new Thread[count];
        for (int i = 0; i < count; i++)
        {
            int index = i;
            threads[i] = new Thread(() =>
            {
                try
                {
                    loaded[index] = load(index);
                }
                catch (Exception e)
                {
                    errors[index] = e;
                    abort(e is CommunicatorException ? e.Message : $"a rank failed to load: {e.Message}");
                }
            }) { IsBackground = true, Name = $"granary load {index}" };
            threads[i].Start();
        }
        foreach (var thread in threads) thread.Join();
        // The root cause first: a rank's own failure, not the communicator errors it caused in the others.
        var error = Array.Find(errors, e => e is not null and not CommunicatorException) ?? Array.Find(errors, e => e is not null);
        if (error is null) return loaded;
        for (int i = 0; i < count; i++)
        {
            if (errors[i] is null) dispose(loaded[i]);
        }
        ExceptionDispatchInfo.Throw(error);
        return loaded;
    }
}
