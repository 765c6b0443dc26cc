using Granary.Compute;

namespace Granary.Models;

/// <summary>
/// One rank's paged KV cache: for each of its layers a key and a value buffer of
/// [<see cref="Blocks"/> * <see cref="BlockSize"/> slots, local KV heads * head dim].
/// </summary>
public sealed class KvCache : IDisposable
{
    public KvCache(IBackend backend, int layers, int blocks, int blockSize, int kvDim)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        Blocks = blocks;
        BlockSize = blockSize;
        long length = (long)blocks * blockSize * kvDim;
        Keys = new DeviceBuffer[layers];
        Values = new DeviceBuffer[layers];
        for (int i = 0; i < layers; i++)
        {
            Keys[i] = backend.Allocate(backend.ActivationType, length);
            Values[i] = backend.Allocate(backend.ActivationType, length);
        }
        Bytes = 2L * layers * length * backend.ActivationType.Size();
    }

    public int Blocks { get; }
    public int BlockSize { get; }
    public DeviceBuffer[] Keys { get; }
    public DeviceBuffer[] Values { get; }

    /// <summary>Bytes held on the device.</summary>
    public long Bytes { get; }

    public void Dispose()
    {
        foreach (var buffer in Keys) buffer.Dispose();
        foreach (var buffer in Values) buffer.Dispose();
    }
}
