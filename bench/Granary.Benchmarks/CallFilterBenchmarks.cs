using System.Reflection;
using BenchmarkDotNet.Attributes;
using Granary.Grains;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization.Invocation;

namespace Granary.Benchmarks;

/// <summary>
/// What <see cref="StoreErrorCallFilter"/> adds to every incoming grain call (the per-step call of a replica spanning
/// silos among them): a call alone against the same call through the filter, for a grain method that completes at
/// once and for one that completes later (it yields).
/// </summary>
[MemoryDiagnoser]
public class CallFilterBenchmarks
{
    private readonly StoreErrorCallFilter _filter = new();
    private readonly Call _completed = new(yields: false);
    private readonly Call _yielding = new(yields: true);

    [Benchmark(Baseline = true)]
    public Task CompletedCallAlone() => _completed.Invoke();

    [Benchmark]
    public Task CompletedCallThroughTheFilter() => _filter.Invoke(_completed);

    [Benchmark]
    public Task YieldingCallAlone() => _yielding.Invoke();

    [Benchmark]
    public Task YieldingCallThroughTheFilter() => _filter.Invoke(_yielding);

    /// <summary>A call context whose call does nothing (nothing else of it is read).</summary>
    private sealed class Call(bool yields) : IIncomingGrainCallContext
    {
        public Task Invoke() => yields ? Yield() : Task.CompletedTask;

        private static async Task Yield() => await Task.Yield();

        public object Grain => throw new NotSupportedException();
        public MethodInfo InterfaceMethod => throw new NotSupportedException();
        public string InterfaceName => throw new NotSupportedException();
        public GrainInterfaceType InterfaceType => throw new NotSupportedException();
        public string MethodName => throw new NotSupportedException();
        public IInvokable Request => throw new NotSupportedException();
        public Response? Response { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public object? Result { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public GrainId? SourceId => throw new NotSupportedException();
        public GrainId TargetId => throw new NotSupportedException();
        public MethodInfo ImplementationMethod => throw new NotSupportedException();
        public IGrainContext TargetContext => throw new NotSupportedException();
    }
}
