using Granary.Compute;

namespace Granary.Models.Llama;

/// <summary>
/// A SiLU-gated MLP's slices on one rank: gate and up split by rows (views of <paramref name="GateUp"/>, which holds
/// them stacked, when it is given), down by columns.
/// </summary>
internal sealed record ExpertWeights(DeviceBuffer Gate, DeviceBuffer Up, DeviceBuffer Down, DeviceBuffer? GateUp) : IDisposable
{
    public void Dispose()
    {
        Gate.Dispose();
        Up.Dispose();
        Down.Dispose();
        GateUp?.Dispose();
    }
}
