namespace Granary.Models.Llama2c;

/// <summary>
/// The 7-int header of a llama2.c (v0, "legacy") checkpoint and the layout of the float32 arrays that follow it.
/// </summary>
/// <param name="Dim">Model width (<c>dim</c>).</param>
/// <param name="HiddenDim">MLP width (<c>hidden_dim</c>).</param>
/// <param name="NumLayers">Decoder layers.</param>
/// <param name="NumHeads">Query heads.</param>
/// <param name="NumKvHeads">Key/value heads.</param>
/// <param name="VocabSize">Vocabulary size (the absolute value of the header's field).</param>
/// <param name="SeqLen">Maximum sequence length.</param>
/// <param name="SharedClassifier">True when the header's vocab_size is positive: the output layer is the embedding.</param>
public sealed record Llama2cHeader(int Dim, int HiddenDim, int NumLayers, int NumHeads, int NumKvHeads, int VocabSize, int SeqLen, bool SharedClassifier)
{
    /// <summary>Bytes of the header (7 little-endian int32).</summary>
    public const int ByteLength = 28;

    /// <summary>Dimension of one head.</summary>
    public int HeadSize => Dim / NumHeads;

    /// <summary>Width of the key and value projections.</summary>
    public int KvDim => NumKvHeads * HeadSize;

    /// <summary>Size a v0 checkpoint with this header must have.</summary>
    public long ExpectedFileLength
    {
        get
        {
            long d = Dim, h = HiddenDim, l = NumLayers, kv = KvDim;
            long floats = VocabSize * d        // token_embedding
                + l * d                        // rms_att
                + l * d * d + 2 * l * kv * d   // wq, wk, wv
                + l * d * d                    // wo
                + l * d                        // rms_ffn
                + 3 * l * h * d                // w1, w2, w3
                + d                            // rms_final
                + (long)SeqLen * HeadSize      // legacy RoPE tables: 2 x seq_len * head_size / 2
                + (SharedClassifier ? 0 : VocabSize * d);
            return ByteLength + 4 * floats;
        }
    }

    /// <summary>Reads and validates the header of <paramref name="path"/>, including the file's size.</summary>
    public static Llama2cHeader Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: llama2.c checkpoint not found", path);
        using var stream = File.OpenRead(path);
        if (stream.Length < ByteLength)
            throw new InvalidDataException($"{path}: {stream.Length} bytes, too short for a llama2.c checkpoint header");
        var reader = new BinaryReader(stream);
        int first = reader.ReadInt32();
        // llama2.c's export.py version 1 and 2 start with the magic "ak42".
        if (first == 0x616b3432)
            throw new NotSupportedException($"{path}: llama2.c export format version 1/2 (magic 'ak42') is not supported; export with --version 0 (legacy)");
        var v = new int[7];
        v[0] = first;
        for (int i = 1; i < 7; i++) v[i] = reader.ReadInt32();
        string[] names = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];
        for (int i = 0; i < 7; i++)
            if ((i != 5 && v[i] <= 0) || (i == 5 && v[i] == 0))
                throw new InvalidDataException($"{path}: header field {names[i]} is {v[i]}: not a llama2.c checkpoint");
        var header = new Llama2cHeader(v[0], v[1], v[2], v[3], v[4], Math.Abs(v[5]), v[6], v[5] > 0);
        if (header.Dim % header.NumHeads != 0 || header.HeadSize % 2 != 0)
            throw new InvalidDataException($"{path}: dim {header.Dim} does not split into {header.NumHeads} heads of even size");
        if (header.NumHeads % header.NumKvHeads != 0)
            throw new InvalidDataException($"{path}: n_heads {header.NumHeads} is not a multiple of n_kv_heads {header.NumKvHeads}");
        if (stream.Length != header.ExpectedFileLength)
            throw new InvalidDataException(
                $"{path}: {stream.Length} bytes, but a llama2.c checkpoint with header {header} has {header.ExpectedFileLength} (truncated or not a v0 checkpoint?)");
        return header;
    }
}
