using System.Runtime.CompilerServices;
using Granary.Compute;
using Granary.Cuda.Native;

namespace Granary.Cuda;

/// <summary>
/// The step recorder: every op goes through <see cref="Issue"/>; a step whose ops repeat an earlier step's is replayed
/// as a CUDA graph (up to 32 kept, one per shape of step and staging half), its ops held back while they still match one.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    // Step graphs: the ops since the last sync point, the previous step's of each staging half (steps alternate
    // between the halves, so a step repeats the one two back), and graphs made from steps seen twice (one per shape
    // of step and half: decode at each batch size serving meets). While a step's ops
    // match some graph's, they are held back (deferred) and the graph is launched at the sync point; once
    // no graph matches, the held ops run as usual.
    private const int MaxStepOps = 4096;
    private const int MaxGraphs = 32;
    private StreamOp[] _ops = new StreamOp[MaxStepOps];
    private readonly StreamOp[][] _previousOps = [new StreamOp[MaxStepOps], new StreamOp[MaxStepOps]];
    private readonly StepGraph?[] _graphs = new StepGraph?[MaxGraphs];
    private int _opCount;
    private readonly int[] _previousCount = [-1, -1];
    private bool _traceBroken, _deferring, _capturing;
    private ulong _candidates; // bit i: _graphs[i] matches the step so far

    /// <summary>Runs an op now, or holds it back while the step so far matches a cached graph.</summary>
    private void Issue(in StreamOp op)
    {
        if (InterruptReason is { } reason) throw new CommunicatorException(reason);
        _epoch++;
        if (!_options.Graphs)
        {
            Execute(op);
            return;
        }
        if (_opCount == 0)
        {
            _candidates = ulong.MaxValue;
            _deferring = true;
        }
        if (_deferring)
        {
            ulong still = 0;
            for (int i = 0; i < MaxGraphs; i++)
            {
                if ((_candidates & (1UL << i)) != 0 && _graphs[i] is { } g && _opCount < g.Ops.Length && op.SameAs(g.Ops[_opCount])) still |= 1UL << i;
            }
            _candidates = still;
            if (still != 0)
            {
                _ops[_opCount++] = op;
                return;
            }
            // The step went another way: run what was held back, then carry on op by op.
            _deferring = false;
            for (int i = 0; i < _opCount; i++) Execute(_ops[i]);
        }
        Execute(op);
        if (_opCount < MaxStepOps) _ops[_opCount++] = op;
        else _traceBroken = true;
    }

    /// <summary>Ends the current step before work that bypasses the recorder (copies, collectives, allocation).</summary>
    internal void Barrier()
    {
        _epoch++;
        CloseStep();
    }

    /// <summary>
    /// Launches (or records) the step's held-back ops now: a rank with no sync point of its own between steps (all but
    /// the logits rank of a group) needs this for step graphs. The step after the next stages where this one did, once
    /// this one is done, so that its ops match this one's.
    /// </summary>
    public void EndStep()
    {
        Bind();
        Barrier();
    }

    /// <summary>
    /// Starts timing the device's idle gap between consecutive step graphs (<see cref="StepGapTimer"/>): how long the
    /// GPU waits for the host between steps. Costs two event records a step; for benchmarks.
    /// </summary>
    public void StartStepGapTiming()
    {
        Bind();
        (_gapTimer ??= new StepGapTimer()).Reset();
    }

    /// <summary>Stops timing and returns the gaps measured since <see cref="StartStepGapTiming"/>, in microseconds.</summary>
    public double[] StopStepGapTiming()
    {
        if (_gapTimer is null) return [];
        Bind();
        Barrier();
        _gapTimer.Flush(_stream);
        double[] gaps = [.. _gapTimer.GapsMicroseconds];
        _gapTimer.Dispose();
        _gapTimer = null;
        return gaps;
    }

    /// <summary>Sync points so far: collectives that time themselves number their events within one.</summary>
    internal long SyncPoints => _steps;

    /// <summary>Puts a collective (or an event record) on the stream in call order; step graphs capture it like a kernel.</summary>
    internal void IssueOp(in StreamOp op)
    {
        Bind();
        Issue(op);
    }

    /// <summary>At a sync point: launches the step (<see cref="LaunchStep"/>), then marks the end of its staging.</summary>
    private void CloseStep()
    {
        LaunchStep();
        if (InterruptReason is null) CloseRingHalf();
    }

    /// <summary>
    /// Launches the graph the whole step matched, runs held-back ops otherwise, and turns a step that repeats the
    /// last one of its staging half into a graph for the steps to come.
    /// </summary>
    private void LaunchStep()
    {
        _steps++;
        if (InterruptReason is not null)
        {
            // The step's collectives can never complete (and their communicator may be gone): drop what was held back.
            _opCount = 0;
            _deferring = false;
            return;
        }
        if (!_options.Graphs) return;
        if (_deferring)
        {
            _deferring = false;
            for (int i = 0; i < MaxGraphs; i++)
            {
                if ((_candidates & (1UL << i)) != 0 && _graphs[i] is { } g && g.Ops.Length == _opCount)
                {
                    _gapTimer?.BeforeLaunch(_stream);
                    Driver.Check(Driver.cuGraphLaunch(g.Exec, _stream), "cuGraphLaunch");
                    _gapTimer?.AfterLaunch(_stream);
                    g.LastUsed = _steps;
                    GraphReplays++;
                    _opCount = 0;
                    return;
                }
            }
            // A step that matched the start of a graph but not the whole of one: it runs, and is recorded below.
            for (int i = 0; i < _opCount; i++) Execute(_ops[i]);
        }
        if (!_traceBroken && _opCount > 1)
        {
            int h = _ringHalf;
            var previous = _previousOps[h];
            bool repeats = _previousCount[h] == _opCount;
            for (int i = 0; repeats && i < _opCount; i++) repeats = _ops[i].SameAs(previous[i]);
            if (repeats) BuildGraph();
            (_ops, _previousOps[h]) = (previous, _ops);
            _previousCount[h] = _opCount;
        }
        _opCount = 0;
        _traceBroken = false;
    }

    /// <summary>Steps replayed from a graph so far.</summary>
    public long GraphReplays { get; private set; }

    /// <summary>
    /// Captures the ops of the step just run (nothing executes during capture) as a graph to replay, in place of
    /// the least recently used one when the cache is full.
    /// </summary>
    private void BuildGraph()
    {
        int slot = 0;
        for (int i = 0; i < MaxGraphs; i++)
        {
            if (_graphs[i] is null) { slot = i; break; }
            if (_graphs[i]!.LastUsed < _graphs[slot]!.LastUsed) slot = i;
        }
        if (_graphs[slot] is { } old)
        {
            Driver.cuGraphExecDestroy(old.Exec);
            _graphs[slot] = null;
        }
        nint exec;
        Driver.Check(Driver.cuStreamBeginCapture(_stream, Driver.CaptureModeThreadLocal), "cuStreamBeginCapture");
        _capturing = true;
        try
        {
            for (int i = 0; i < _opCount; i++) Execute(_ops[i]);
        }
        finally
        {
            _capturing = false;
            Driver.Check(Driver.cuStreamEndCapture(_stream, out nint graph), "cuStreamEndCapture");
            try
            {
                Driver.Check(Driver.cuGraphInstantiateWithFlags(out exec, graph, 0), "cuGraphInstantiateWithFlags");
            }
            finally
            {
                Driver.cuGraphDestroy(graph);
            }
        }
        _graphs[slot] = new StepGraph(_ops.AsSpan(0, _opCount).ToArray(), exec) { LastUsed = _steps };
    }

    private void Execute(in StreamOp op)
    {
        switch (op.Kind)
        {
            case StreamOpKind.Kernel:
            {
                void** pointers = stackalloc void*[op.ArgCount];
                var args = op.Args;
                ulong* a = (ulong*)Unsafe.AsPointer(ref args[0]);
                for (int i = 0; i < op.ArgCount; i++) pointers[i] = a + i;
                int status;
                if (op.Overlaps)
                {
                    var attribute = new Driver.LaunchAttribute { Id = Driver.LaunchAttrProgrammaticStreamSerialization, Value = 1 };
                    var config = new Driver.LaunchConfig
                    {
                        GridX = op.GridX, GridY = op.GridY, GridZ = 1, BlockX = op.Block, BlockY = 1, BlockZ = 1,
                        SharedBytes = op.Shared, Stream = _stream, Attributes = &attribute, AttributeCount = 1,
                    };
                    status = Driver.cuLaunchKernelEx(&config, op.Function, pointers, null);
                }
                else status = Driver.cuLaunchKernel(op.Function, op.GridX, op.GridY, 1, op.Block, 1, 1, op.Shared, _stream, pointers, null);
                if (status != 0) Driver.Check(status, $"cuLaunchKernel({KernelName(op.Function)}, grid {op.GridX}x{op.GridY}, block {op.Block})");
                break;
            }
            case StreamOpKind.Gemm:
            {
                int m = (int)op.Args[0], n = (int)op.Args[1], k = (int)op.Args[2], type = (int)op.Args[6], cType = (int)op.Args[7];
                fixed (float* ab = s_alphaBeta)
                    Cublas.Check(Cublas.cublasGemmEx(_cublas, Cublas.OpT, Cublas.OpN, m, n, k, ab, op.Args[3], type, k, op.Args[4], type, k, ab + 1 + op.Args[8], op.Args[5], cType, m, Cublas.Compute32F, Cublas.GemmDefault), "cublasGemmEx");
                break;
            }
            case StreamOpKind.CopyToDevice:
                Driver.Check(Driver.cuMemcpyHtoDAsync(op.Args[0], (void*)(nint)op.Args[1], (nuint)op.Args[2], _stream), "cuMemcpyHtoDAsync");
                break;
            case StreamOpKind.Memset:
                Driver.Check(Driver.cuMemsetD8Async(op.Args[0], 0, (nuint)op.Args[1], _stream), "cuMemsetD8Async");
                break;
            case StreamOpKind.Nccl:
                NcclCommunicator.Execute(op, _stream);
                break;
            case StreamOpKind.EventRecord:
                // Captured as an external record, the record becomes a node of its own, so the replays record it too
                // (the flag is refused outside a capture).
                Driver.Check(_capturing ? Driver.cuEventRecordWithFlags((nint)op.Args[0], _stream, Driver.EventRecordExternal) : Driver.cuEventRecord((nint)op.Args[0], _stream), "cuEventRecord");
                break;
        }
    }
}
