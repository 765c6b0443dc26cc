namespace Granary.Compute.Cpu;

/// <summary>
/// Persistent worker threads that split a <see cref="CpuJob"/> into chunks taken in turn; the calling
/// thread works too, and takes whatever chunks the workers did not get to. Workers spin for a while before
/// sleeping, because a decode step issues dozens of short jobs back to back and waking a sleeping thread costs
/// more than many of those jobs.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    // About 5 ms of spinning (Thread.SpinWait(1) is about 45 ns on Zen 5), checking for a job at every pause: with
    // SpinWait(30) between checks a worker came about 1.3 us late to each of a decode step's 60-odd jobs, many of
    // which last only 5 us, and Q8_0 decode at batch 1 ran about 5% slower.
    private const int SpinRounds = 100_000;
    private const int ChunkBits = 20;
    private const long ChunkMask = (1L << ChunkBits) - 1;
    private const long GenerationMask = (1L << (63 - 2 * ChunkBits)) - 1;
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim _wake = new(0);
    private CpuJob? _job;
    // The job's generation (bits 40-62), its chunk count (bits 20-39) and its next unclaimed chunk (bits 0-19), claimed
    // by compare-and-swap. A worker that wakes late, or runs on a core it shares with another process, can never claim
    // a chunk of a job other than the one it read, nor one past that job's count (the count is read in the same word
    // as the generation, so a new job's count cannot meet an old job's generation), and the caller never waits for a
    // worker that claimed nothing.
    private long _state;
    private int _done;
    private int _sleepers;
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

    private long Generation => Volatile.Read(ref _state) >> (2 * ChunkBits);

    /// <summary>Runs chunks 0..chunks-1 of the job across the pool and returns when all are done.</summary>
    public void Run(CpuJob job, int chunks)
    {
        if (chunks <= 0) return;
        if (chunks == 1 || _threads.Length == 0)
        {
            for (int c = 0; c < chunks; c++) job.Execute(c);
            return;
        }
        ArgumentOutOfRangeException.ThrowIfGreaterThan(chunks, (int)ChunkMask);
        _job = job;
        _failure = null;
        Volatile.Write(ref _done, 0);
        long generation = (Generation + 1) & GenerationMask;
        Volatile.Write(ref _state, generation << (2 * ChunkBits) | (long)chunks << ChunkBits);
        int sleepers = Volatile.Read(ref _sleepers);
        if (sleepers > 0) _wake.Release(sleepers);
        Work(job, generation);
        // Only chunks still running elsewhere are waited for; chunks nobody took, the caller took itself.
        var spinner = new SpinWait();
        while (Volatile.Read(ref _done) != chunks) spinner.SpinOnce(-1);
        _job = null;
        if (_failure is { } failure) throw new AggregateException("a CPU backend worker failed", failure);
    }

    private void Work(CpuJob job, long generation)
    {
        while (true)
        {
            long state = Volatile.Read(ref _state);
            int chunk = (int)(state & ChunkMask);
            if (state >> (2 * ChunkBits) != generation || chunk >= (int)((state >> ChunkBits) & ChunkMask)) return;
            if (Interlocked.CompareExchange(ref _state, state + 1, state) != state) continue;
            try { job.Execute(chunk); }
            catch (Exception e) { _failure = e; }
            Interlocked.Increment(ref _done);
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        while (!_disposed)
        {
            if (!WaitForGeneration(seen)) continue;
            seen = Generation;
            // Read after the generation: if it belongs to a newer job, Work's claim fails and the next pass sees that job.
            if (_job is { } job) Work(job, seen);
        }
    }

    /// <summary>True once a job newer than <paramref name="seen"/> is posted; false after a spurious wake.</summary>
    private bool WaitForGeneration(long seen)
    {
        for (int i = 0; i < SpinRounds; i++)
        {
            if (Generation != seen) return true;
            Thread.SpinWait(1);
        }
        Interlocked.Increment(ref _sleepers);
        if (Generation == seen && !_disposed) _wake.Wait();
        Interlocked.Decrement(ref _sleepers);
        return Generation != seen && !_disposed;
    }

    public void Dispose()
    {
        _disposed = true;
        if (_threads.Length > 0) _wake.Release(_threads.Length);
    }
}
