namespace Granary.Compute.Cpu;

/// <summary>
/// Several jobs as one pass over the pool: chunk c of the group is chunk c - (chunks before it) of the job it falls in.
/// The products of one input (q, k and v; gate and up) run this way, so a decode step waits for its threads once per
/// group rather than once per matrix.
/// </summary>
internal sealed class JobGroup(int capacity) : CpuJob
{
    private readonly CpuJob[] _jobs = new CpuJob[capacity];
    private readonly int[] _ends = new int[capacity];
    private int _count;

    /// <summary>Chunks of all the jobs added since <see cref="Clear"/>.</summary>
    public int Chunks => _count == 0 ? 0 : _ends[_count - 1];

    public void Clear() => _count = 0;

    public void Add(CpuJob job, int chunks)
    {
        _jobs[_count] = job;
        _ends[_count] = Chunks + chunks;
        _count++;
    }

    public override void Execute(int chunk)
    {
        int i = 0;
        while (chunk >= _ends[i]) i++;
        _jobs[i].Execute(i == 0 ? chunk : chunk - _ends[i - 1]);
    }
}
