namespace Granary.Cuda;

/// <summary>The CUDA backend cannot start here: a library is missing or no device is visible.</summary>
public sealed class CudaUnavailableException : Exception
{
    public CudaUnavailableException(string message, Exception? inner = null) : base(message, inner) { }
}
