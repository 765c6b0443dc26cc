using System.IO.Compression;
using Granary.Tokenizers.Gguf;

namespace Granary.Tokenizers;

/// <summary>
/// Loads tokenizers from a Hugging Face model directory / tokenizer.json, or from a GGUF vocabulary.
/// Errors: <see cref="FileNotFoundException"/> (missing file), <see cref="InvalidDataException"/> (malformed file),
/// <see cref="NotSupportedException"/> (a model type or component this library does not implement); every message
/// names the file.
/// </summary>
public static class TokenizerLoader
{
    /// <summary>
    /// Loads <c>tokenizer.json</c> from a model directory, with <c>tokenizer_config.json</c> (bos/eos token names,
    /// add_bos_token/add_eos_token) and <c>generation_config.json</c> (extra eos ids) when present; a GGUF model
    /// file given instead of a directory brings its own vocabulary (<see cref="FromFile"/>).
    /// </summary>
    public static ITokenizer FromModelDirectory(string dir)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        if (File.Exists(dir) && dir.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) return FromFile(dir);
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"model directory not found: {dir}");
        string path = Path.Combine(dir, "tokenizer.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"no tokenizer.json in model directory {dir}", path);
        string config = Path.Combine(dir, "tokenizer_config.json");
        string generation = Path.Combine(dir, "generation_config.json");
        return HfTokenizerJson.Load(path, File.Exists(config) ? config : null, File.Exists(generation) ? generation : null);
    }

    /// <summary>Loads a tokenizer.json (alone: BOS is taken from the post-processor, no EOS is known) or a GGUF
    /// file (by extension <c>.gguf</c>, or <c>.gguf.gz</c> which is decompressed).</summary>
    public static ITokenizer FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer file not found: {path}", path);
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            return GgufVocabulary.Load(GgufFile.Read(fs, path));
        }
        if (path.EndsWith(".gguf.gz", StringComparison.OrdinalIgnoreCase))
        {
            using var fs = File.OpenRead(path);
            using var gz = new GZipStream(fs, CompressionMode.Decompress);
            using var buffered = new BufferedStream(gz, 1 << 16);
            return GgufVocabulary.Load(GgufFile.Read(buffered, path));
        }
        return HfTokenizerJson.Load(path, null, null);
    }

    /// <summary>Loads the vocabulary of a GGUF file read from a stream (need not be seekable).</summary>
    public static ITokenizer FromGguf(Stream stream) => FromGguf(stream, "<stream>");

    /// <summary>Loads the vocabulary of a GGUF file read from a stream; <paramref name="sourceName"/> names it in errors.</summary>
    public static ITokenizer FromGguf(Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Stream s = stream is BufferedStream or FileStream or MemoryStream ? stream : new BufferedStream(stream, 1 << 16);
        return GgufVocabulary.Load(GgufFile.Read(s, sourceName));
    }
}
