using Granary.Cuda.Native;

namespace Granary.Cuda.Tests;

public class NativeLibrariesTests
{
    [Fact]
    public void AMissingLibraryIsNamedWithEverySonameTried()
    {
        var e = Assert.Throws<CudaUnavailableException>(() => NativeLibraries.Load(CudaLibrary.Cublas, ["libgranary-absent.so.13", "libgranary-absent.so.12"]));
        Assert.Contains("Cublas", e.Message);
        Assert.Contains("libgranary-absent.so.13", e.Message);
        Assert.Contains("libgranary-absent.so.12", e.Message);
    }

    [Fact]
    public void NewestCudaMajorIsTriedFirst()
    {
        Assert.Equal(["libcublas.so.13", "libcublas.so.12"], NativeLibraries.Candidates(CudaLibrary.Cublas));
        Assert.Equal(["libnvrtc.so.13", "libnvrtc.so.12"], NativeLibraries.Candidates(CudaLibrary.Nvrtc));
        Assert.Equal("libcuda.so.1", NativeLibraries.Candidates(CudaLibrary.Driver)[0]);
        Assert.Equal(["libnccl.so.2"], NativeLibraries.Candidates(CudaLibrary.Nccl));
    }

    [Fact]
    public void WithoutAGpuTheBackendFailsWithOneClearMessage()
    {
        Assert.SkipWhen(GpuPresence.Available, "a GPU is present: the GPU checks run instead");
        var e = Assert.ThrowsAny<Exception>(() => new CudaBackend());
        Assert.IsType<CudaUnavailableException>(e);
        Assert.Contains("libcuda.so.1", e.Message);
    }

    [Fact]
    public void TheFactoryPassesTheClearMessageOn()
    {
        Assert.SkipWhen(GpuPresence.Available, "a GPU is present: the GPU checks run instead");
        var e = Assert.Throws<CudaUnavailableException>(() => Granary.Engine.BackendFactory.Create("cuda:0", 1));
        Assert.Contains("libcuda.so.1", e.Message);
    }

    [Fact]
    public void WithoutNcclTheCommunicatorSaysSo()
    {
        Assert.SkipWhen(System.Runtime.InteropServices.NativeLibrary.TryLoad("libnccl.so.2", out _), "libnccl.so.2 is present");
        var e = Assert.Throws<CudaUnavailableException>(() => NcclCommunicator.CreateUniqueId());
        Assert.Contains("libnccl.so.2", e.Message);
    }
}
