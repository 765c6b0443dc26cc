using Granary.Compute;

namespace Granary.Models.Llama;

/// <summary>A SiLU-gated MLP's slices on one rank: gate and up split by rows, down by columns.</summary>
internal sealed record ExpertWeights(DeviceBuffer Gate, DeviceBuffer Up, DeviceBuffer Down) : IDisposable
{
    public void Dispose()
    {
        Gate.Dispose();
        Up.Dispose();
        Down.Dispose();
    }
}
