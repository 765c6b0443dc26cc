namespace Granary.Cuda;

/// <summary>A CUDA, cuBLAS or NVRTC call failed; the message names the call and the library's error text.</summary>
public sealed class CudaException : Exception
{
    public CudaException(string message) : base(message) { }
}
