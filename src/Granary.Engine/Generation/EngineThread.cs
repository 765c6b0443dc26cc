using System.Collections.Concurrent;

namespace Granary.Engine;

/// <summary>
/// A task scheduler of one dedicated thread: the engine's loop runs on it, and so does every continuation of the
/// loop's awaits (they capture it as the current scheduler), so the engine is only ever touched by this thread, and a
/// step that waits on other processes waits without holding it (the thread runs whatever is queued, or sleeps).
/// </summary>
internal sealed class EngineThread : TaskScheduler, IDisposable
{
    private readonly BlockingCollection<Task> _queue = [];
    private readonly Thread _thread;

    public EngineThread(string name)
    {
        _thread = new Thread(Pump) { Name = name, IsBackground = true };
        _thread.Start();
    }

    /// <summary>Starts <paramref name="loop"/> on the thread; the task ends when the loop does.</summary>
    public Task Run(Func<Task> loop) => Task.Factory.StartNew(loop, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this).Unwrap();

    private void Pump()
    {
        foreach (var task in _queue.GetConsumingEnumerable()) TryExecuteTask(task);
    }

    protected override void QueueTask(Task task) => _queue.Add(task);

    // Inline only on the engine's own thread: elsewhere the task waits for its turn.
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        Thread.CurrentThread == _thread && !taskWasPreviouslyQueued && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => [.. _queue];

    public override int MaximumConcurrencyLevel => 1;

    /// <summary>Lets the thread end once the queued work ran, and waits for it.</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        if (Thread.CurrentThread != _thread) _thread.Join();
        _queue.Dispose();
    }
}
