using System.Text;
using Granary.Cuda.Native;

namespace Granary.Cuda.Kernels;

/// <summary>Compiles CUDA C to a CUBIN for one architecture with NVRTC, through a <see cref="KernelCache"/>.</summary>
internal static unsafe class KernelCompiler
{
    /// <summary>NVRTC options for a compute capability and the activation type.</summary>
    public static string[] Options(int major, int minor, bool f32Activations)
    {
        // The block sizes the host sizes grids and shared memory by reach the code as defines: one source of truth.
        var options = new List<string>
        {
            $"--gpu-architecture=sm_{major}{minor}", "--std=c++17",
            $"-DCHUNK={KernelSource.AttentionChunk}", $"-DTOPK_ITEMS={KernelSource.TopKItems}", $"-DFP8_COUNTERS={Fp8KernelSource.Counters}",
        };
        if (f32Activations) options.Add("-DACT_F32");
        return [.. options];
    }

    public static string CompilerVersion()
    {
        Nvrtc.Check(Nvrtc.nvrtcVersion(out int major, out int minor), "nvrtcVersion");
        return $"nvrtc {major}.{minor}";
    }

    /// <summary>The CUBIN from the cache, or compiled now and stored. <paramref name="fromCache"/> says which.</summary>
    public static byte[] Compile(string source, string[] options, KernelCache cache, out string key, out bool fromCache)
    {
        key = KernelCache.Key(source, options, CompilerVersion());
        var cached = cache.TryRead(key);
        fromCache = cached is { Length: > 0 };
        if (fromCache) return cached!;
        var image = Compile(source, options);
        cache.TryWrite(key, image);
        return image;
    }

    public static byte[] Compile(string source, string[] options)
    {
        byte[] src = Encoding.UTF8.GetBytes(source + "\0");
        byte[] name = "granary_kernels.cu\0"u8.ToArray();
        nint program;
        fixed (byte* s = src, n = name)
            Nvrtc.Check(Nvrtc.nvrtcCreateProgram(out program, s, n, 0, null, null), "nvrtcCreateProgram");
        try
        {
            var encoded = options.Select(o => Encoding.UTF8.GetBytes(o + "\0")).ToArray();
            var handles = encoded.Select(e => System.Runtime.InteropServices.GCHandle.Alloc(e, System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
            int status;
            try
            {
                byte** pointers = stackalloc byte*[encoded.Length];
                for (int i = 0; i < encoded.Length; i++) pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                status = Nvrtc.nvrtcCompileProgram(program, encoded.Length, pointers);
            }
            finally
            {
                foreach (var h in handles) h.Free();
            }
            if (status != 0)
                throw new CudaException($"NVRTC could not compile the kernels ({string.Join(' ', options)}): error {status}\n{Log(program)}");
            Nvrtc.Check(Nvrtc.nvrtcGetCUBINSize(program, out nuint size), "nvrtcGetCUBINSize");
            var image = new byte[(int)size];
            fixed (byte* p = image) Nvrtc.Check(Nvrtc.nvrtcGetCUBIN(program, p), "nvrtcGetCUBIN");
            return image;
        }
        finally
        {
            Nvrtc.nvrtcDestroyProgram(ref program);
        }
    }

    private static string Log(nint program)
    {
        if (Nvrtc.nvrtcGetProgramLogSize(program, out nuint size) != 0 || size <= 1) return "";
        var log = new byte[(int)size];
        fixed (byte* p = log) Nvrtc.nvrtcGetProgramLog(program, p);
        return Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }
}
