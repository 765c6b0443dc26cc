using System.Text.RegularExpressions;
using Granary.Cuda.Kernels;

namespace Granary.Cuda.Tests;

public class KernelCacheTests
{
    private static string TempDir() => Path.Combine(Path.GetTempPath(), "granary-kernel-cache-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void KeysChangeWithSourceOptionsAndCompiler()
    {
        string a = KernelCache.Key("src", ["--gpu-architecture=sm_90"], "nvrtc 13.0");
        Assert.Equal(a, KernelCache.Key("src", ["--gpu-architecture=sm_90"], "nvrtc 13.0"));
        Assert.NotEqual(a, KernelCache.Key("src2", ["--gpu-architecture=sm_90"], "nvrtc 13.0"));
        Assert.NotEqual(a, KernelCache.Key("src", ["--gpu-architecture=sm_80"], "nvrtc 13.0"));
        Assert.NotEqual(a, KernelCache.Key("src", ["--gpu-architecture=sm_90"], "nvrtc 12.8"));
        // Option boundaries matter: ["ab"] is not ["a", "b"].
        Assert.NotEqual(KernelCache.Key("s", ["ab"], "v"), KernelCache.Key("s", ["a", "b"], "v"));
        Assert.Matches("^[0-9a-f]{64}$", a);
    }

    [Fact]
    public void ImagesRoundTripAndCanBeRemoved()
    {
        var cache = new KernelCache(TempDir());
        try
        {
            Assert.Null(cache.TryRead("k"));
            Assert.True(cache.TryWrite("k", [1, 2, 3]));
            Assert.Equal([1, 2, 3], cache.TryRead("k"));
            Assert.True(cache.TryWrite("k", [4]));
            Assert.Equal([4], cache.TryRead("k"));
            Assert.Empty(Directory.GetFiles(cache.Directory, "*.tmp"));
            cache.Remove("k");
            Assert.Null(cache.TryRead("k"));
        }
        finally
        {
            if (Directory.Exists(cache.Directory)) Directory.Delete(cache.Directory, true);
        }
    }

    [Fact]
    public void AnUnwritableCacheIsSkipped()
    {
        string file = Path.GetTempFileName();
        try
        {
            var cache = new KernelCache(Path.Combine(file, "below-a-file"));
            Assert.False(cache.TryWrite("k", [1]));
            Assert.Null(cache.TryRead("k"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void TheEnvironmentVariableChoosesTheFolder()
    {
        string dir = TempDir();
        Environment.SetEnvironmentVariable("GRANARY_KERNEL_CACHE", dir);
        try
        {
            Assert.Equal(dir, KernelCache.Default().Directory);
        }
        finally
        {
            Environment.SetEnvironmentVariable("GRANARY_KERNEL_CACHE", null);
        }
    }

    [Fact]
    public void EveryKernelTheBackendLooksUpIsDefinedWithoutToolkitHeaders()
    {
        foreach (string name in KernelSource.Names)
            Assert.Matches(new Regex($@"extern ""C"" __global__ void (__launch_bounds__\([\d, ]+\) )?{name}\("), KernelSource.Code);
        Assert.DoesNotContain("#include", KernelSource.Code);
    }

    [Fact]
    public void OptionsNameTheArchitectureAndActivationType()
    {
        Assert.Contains("--gpu-architecture=sm_90", KernelCompiler.Options(9, 0, false));
        Assert.DoesNotContain("-DACT_F32", KernelCompiler.Options(9, 0, false));
        Assert.Contains("-DACT_F32", KernelCompiler.Options(8, 0, true));
        Assert.Contains($"-DCHUNK={KernelSource.AttentionChunk}", KernelCompiler.Options(9, 0, false));
        Assert.Contains($"-DTOPK_ITEMS={KernelSource.TopKItems}", KernelCompiler.Options(9, 0, false));
    }
}
