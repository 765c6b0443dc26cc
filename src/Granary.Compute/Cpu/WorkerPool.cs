namespace Granary.Compute.Cpu;

/// <summary>
/// Persistent worker threads that split a <see cref="CpuJob"/> into chunks taken in turn; the calling
/// thread works too. Workers spin for a while before sleeping, because a decode step issues dozens of
/// short jobs back to back and waking a sleeping thread costs more than many of those jobs.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private const int SpinRounds = 4_000;
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim _wake = new(0);
    private CpuJob? _job;
    private int _chunks;
    private int _nextChunk;
    private int _pending;
    private int _sleepers;
    private long _generation;
    private volatile bool _disposed;
    private Exception? _failure;

    public WorkerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"granary-cpu-{i + 1}" };
            _threads[i].Start();
        }
    }

    public int Threads => _threads.Length + 1;

    /// <summary>Runs chunks 0..chunks-1 of the job across the pool and returns when all are done.</summary>
    public void Run(CpuJob job, int chunks)
    {
        if (chunks <= 0) return;
        if (chunks == 1 || _threads.Length == 0)
        {
            for (int c = 0; c < chunks; c++) job.Execute(c);
            return;
        }
        _job = job;
        _chunks = chunks;
        _nextChunk = 0;
        _failure = null;
        Volatile.Write(ref _pending, _threads.Length);
        Interlocked.Increment(ref _generation);
        int sleepers = Volatile.Read(ref _sleepers);
        if (sleepers > 0) _wake.Release(sleepers);
        Work(job);
        var spinner = new SpinWait();
        while (Volatile.Read(ref _pending) != 0) spinner.SpinOnce(-1);
        _job = null;
        if (_failure is { } failure) throw new AggregateException("a CPU backend worker failed", failure);
    }

    private void Work(CpuJob job)
    {
        int chunk;
        while ((chunk = Interlocked.Increment(ref _nextChunk) - 1) < _chunks)
        {
            try { job.Execute(chunk); }
            catch (Exception e) { _failure = e; }
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        while (!_disposed)
        {
            if (!WaitForGeneration(seen)) continue;
            seen = Volatile.Read(ref _generation);
            Work(_job!);
            Interlocked.Decrement(ref _pending);
        }
    }

    /// <summary>True once a job newer than <paramref name="seen"/> is posted; false after a spurious wake.</summary>
    private bool WaitForGeneration(long seen)
    {
        for (int i = 0; i < SpinRounds; i++)
        {
            if (Volatile.Read(ref _generation) != seen) return true;
            Thread.SpinWait(30);
        }
        Interlocked.Increment(ref _sleepers);
        if (Volatile.Read(ref _generation) == seen && !_disposed) _wake.Wait();
        Interlocked.Decrement(ref _sleepers);
        return Volatile.Read(ref _generation) != seen && !_disposed;
    }

    public void Dispose()
    {
        _disposed = true;
        if (_threads.Length > 0) _wake.Release(_threads.Length);
    }
}
