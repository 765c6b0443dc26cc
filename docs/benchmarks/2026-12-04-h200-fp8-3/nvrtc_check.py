# Compiles the CUDA backend's kernel module here (NVRTC 11.8, no GPU needed) to catch errors and read ptxas's resource report.
import ctypes, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else '/work/wt17'
def code(path):
    s = open(path).read()
    m = re.search(r'public const string Code = """\n(.*?)\n""";', s, re.S)
    return m.group(1)
src = code(f'{root}/src/Granary.Cuda/Kernels/KernelSource.cs') + "\n" + code(f'{root}/src/Granary.Cuda/Kernels/Fp8KernelSource.cs')
lib = ctypes.CDLL('/usr/lib/x86_64-linux-gnu/libnvrtc.so.11.8.89')
for act in ([], ['-DACT_F32']):
    prog = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), b"k.cu", 0, None, None) == 0
    opts = [b'--gpu-architecture=sm_90', b'--std=c++17', b'-DCHUNK=256', b'-DTOPK_ITEMS=8', b'-DFP8_COUNTERS=1024', b'--ptxas-options=-v'] + [a.encode() for a in act]
    arr = (ctypes.c_char_p * len(opts))(*opts)
    st = lib.nvrtcCompileProgram(prog, len(opts), arr)
    n = ctypes.c_size_t(); lib.nvrtcGetProgramLogSize(prog, ctypes.byref(n))
    log = ctypes.create_string_buffer(n.value); lib.nvrtcGetProgramLog(prog, log)
    text = log.value.decode(errors='replace')
    filt = sys.argv[2] if len(sys.argv) > 2 else 'gemm_fp8'
    lines = text.splitlines()
    out = []
    for i, l in enumerate(lines):
        if 'error' in l or 'warning' in l.lower(): out.append(l)
        if filt in l and 'Compiling entry' in l: out += lines[i:i+4]
    print(act, 'status', st); print("\n".join(out))
