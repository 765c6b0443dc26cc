namespace Granary.Cuda.Native;

/// <summary>The native libraries the CUDA backend binds to, each found at run time by soname.</summary>
public enum CudaLibrary
{
    Driver,
    Runtime,
    Cublas,
    CublasLt,
    Nvrtc,
    Nccl,
}
