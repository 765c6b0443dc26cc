using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Granary.Compute.Cpu;

/// <summary>
/// Q8_0 weights as the CPU backend keeps them: rows in tiles of <see cref="Rows"/>, so that one 256-bit vpdpbusd
/// multiplies four inputs of all eight rows (<see cref="Q8Dot.Dot8Rows"/>) where llama.cpp's row-by-row layout needs
/// a horizontal sum per row. For each tile and block of 32 inputs: the eight rows' scales as float32 (32 bytes), then
/// 8 groups of 4 inputs, each the eight rows' 4 values plus 128 (32 bytes): unsigned, because vpdpbusd multiplies
/// unsigned by signed bytes; the dot subtracts 128 times the activation block's sum. A last, partial tile is padded
/// with zero rows. 288 bytes per 8 x 32 values, 36 a block of a row against llama.cpp's 34.
/// </summary>
internal static unsafe class Q8Tiles
{
    public const int Rows = 8;
    public const int Groups = Q8_0Blocks.BlockLength / 4;
    public const int TileBlockBytes = Rows * sizeof(float) + Groups * Rows * 4;
    public const byte Offset = 128;

    /// <summary>Bytes of one tile (eight rows of <paramref name="rowLength"/> values).</summary>
    public static long TileBytes(int rowLength) => (long)(rowLength / Q8_0Blocks.BlockLength) * TileBlockBytes;

    /// <summary>Bytes of <paramref name="rows"/> rows of <paramref name="rowLength"/> values.</summary>
    public static long ByteCount(long rows, int rowLength) => (rows + Rows - 1) / Rows * TileBytes(rowLength);

    /// <summary>Block <paramref name="b"/> of the tile that holds <paramref name="row"/> (rows of <paramref name="rowLength"/>).</summary>
    private static byte* BlockOf(byte* tiles, int rowLength, long row, int b) => tiles + row / Rows * TileBytes(rowLength) + (long)b * TileBlockBytes;

    /// <summary>Where value <paramref name="i"/> of a tile's row <paramref name="r"/> lies in a tile's block: after the scales, in its group of 4.</summary>
    public static int ValueAt(int r, int i) => Rows * sizeof(float) + i / 4 * Rows * 4 + r * 4 + i % 4;

    /// <summary>Lays out rows of llama.cpp Q8_0 blocks (<paramref name="source"/>) as tiles into <paramref name="destination"/>.</summary>
    public static void Pack(ReadOnlySpan<byte> source, int rowLength, byte* destination)
    {
        int blocks = rowLength / Q8_0Blocks.BlockLength;
        long rowBytes = (long)blocks * Q8_0Blocks.BlockBytes;
        long rows = source.Length / rowBytes;
        fixed (byte* src = source)
        {
            // Every row of the last tile, those past the matrix as zeros.
            for (long row = 0; row < (rows + Rows - 1) / Rows * Rows; row++)
            {
                int r = (int)(row % Rows);
                for (int b = 0; b < blocks; b++)
                {
                    byte* block = BlockOf(destination, rowLength, row, b);
                    byte* from = row < rows ? src + row * rowBytes + (long)b * Q8_0Blocks.BlockBytes : null;
                    ((float*)block)[r] = from is null ? 0 : (float)*(Half*)from;
                    for (int i = 0; i < Q8_0Blocks.BlockLength; i++)
                        block[ValueAt(r, i)] = (byte)((from is null ? 0 : ((sbyte*)(from + 2))[i]) + Offset);
                }
            }
        }
    }

    /// <summary>Rows <paramref name="row"/> .. + <paramref name="count"/> back as llama.cpp Q8_0 blocks (scales exact: they were fp16).</summary>
    public static byte[] ToBlocks(byte* tiles, int rowLength, long row, long count)
    {
        int blocks = rowLength / Q8_0Blocks.BlockLength;
        var result = new byte[checked((int)(count * blocks * Q8_0Blocks.BlockBytes))];
        fixed (byte* to = result)
        {
            for (long i = 0; i < count; i++, row++)
            {
                int r = (int)(row % Rows);
                for (int b = 0; b < blocks; b++)
                {
                    byte* block = BlockOf(tiles, rowLength, row, b);
                    byte* destination = to + (i * blocks + b) * Q8_0Blocks.BlockBytes;
                    *(Half*)destination = (Half)((float*)block)[r];
                    for (int v = 0; v < Q8_0Blocks.BlockLength; v++)
                        destination[2 + v] = (byte)(block[ValueAt(r, v)] - Offset);
                }
            }
        }
        return result;
    }

    /// <summary>Rows <paramref name="row"/> .. + <paramref name="count"/> widened to float32, row after row: each value times its block's scale.</summary>
    public static void ToFloat(byte* tiles, int rowLength, long row, int count, float* destination)
    {
        int blocks = rowLength / Q8_0Blocks.BlockLength;
        // A row's 32 values of a block are 8 dwords 32 bytes apart: one gather puts them in order.
        var groups = Vector256.Create(0, 32, 64, 96, 128, 160, 192, 224);
        sbyte* values = stackalloc sbyte[Q8_0Blocks.BlockLength];
        for (long end = row + count; row < end; row++, destination += rowLength)
        {
            int r = (int)(row % Rows);
            for (int b = 0; b < blocks; b++)
            {
                byte* block = BlockOf(tiles, rowLength, row, b);
                float scale = ((float*)block)[r];
                byte* rowValues = block + ValueAt(r, 0);
                float* to = destination + b * Q8_0Blocks.BlockLength;
                if (Avx2.IsSupported)
                {
                    (Avx2.GatherVector256((int*)rowValues, groups, 1).AsByte() ^ Vector256.Create(Offset)).AsSByte().Store(values);
                    var s = Vector256.Create(scale);
                    for (int i = 0; i < Q8_0Blocks.BlockLength; i += 8)
                        (Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(values + i)) * s).Store(to + i);
                    continue;
                }
                for (int i = 0; i < Q8_0Blocks.BlockLength; i++) to[i] = scale * (block[ValueAt(r, i)] - Offset);
            }
        }
    }
}
