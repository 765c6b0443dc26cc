using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Granary.Models.Llama2c;

/// <summary>
/// A llama2.c <c>tokenizer.bin</c> (int32 max_token_length, then per token: float32 score, int32 length, UTF-8 bytes)
/// turned back into the SentencePiece pieces it was exported from, and written as a Hugging Face
/// <c>tokenizer.json</c> that behaves like Hugging Face's Llama 2 tokenizer (metaspace normalizer, BPE with byte
/// fallback, BOS added by the post-processor).
/// </summary>
/// <remarks>
/// llama2.c's exporter wrote '▁' as ' ' and BOS/EOS as "\n&lt;s&gt;\n" / "\n&lt;/s&gt;\n"; byte pieces appear either as
/// "&lt;0xNN&gt;" or, in the tokenizer.bin shipped with stories15M, as the single character U+00NN at id 3 + NN.
/// </remarks>
public sealed class Llama2cTokenizer
{
    private const char Metaspace = '\u2581';
    private const int ByteBase = 3; // SentencePiece byte fallback puts <0x00>..<0xFF> right after <unk>, <s>, </s>

    /// <summary>Pieces in SentencePiece form, index = token id.</summary>
    public IReadOnlyList<string> Pieces { get; }

    /// <summary>Score of each piece (higher merges first).</summary>
    public IReadOnlyList<float> Scores { get; }

    /// <summary>Longest token in bytes, as stored in the file.</summary>
    public int MaxTokenLength { get; }

    /// <summary>Id of &lt;unk&gt;.</summary>
    public int UnkId { get; }

    /// <summary>Id of &lt;s&gt;.</summary>
    public int BosId { get; }

    /// <summary>Id of &lt;/s&gt;.</summary>
    public int EosId { get; }

    /// <summary>Whether the vocabulary has all 256 byte pieces &lt;0x00&gt;..&lt;0xFF&gt; (byte fallback).</summary>
    public bool ByteFallback { get; }

    private Llama2cTokenizer(List<string> pieces, List<float> scores, int maxTokenLength, int unk, int bos, int eos, bool byteFallback)
    {
        Pieces = pieces;
        Scores = scores;
        MaxTokenLength = maxTokenLength;
        UnkId = unk;
        BosId = bos;
        EosId = eos;
        ByteFallback = byteFallback;
    }

    /// <summary>Reads a tokenizer.bin that must hold exactly <paramref name="vocabSize"/> tokens.</summary>
    public static Llama2cTokenizer Read(string path, int vocabSize)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: llama2.c tokenizer not found", path);
        byte[] data = File.ReadAllBytes(path);
        if (data.Length < 4)
            throw new InvalidDataException($"{path}: too short for a llama2.c tokenizer");
        int maxLen = BitConverter.ToInt32(data, 0);
        var utf8 = new UTF8Encoding(false, throwOnInvalidBytes: true);
        var raw = new List<string>(vocabSize);
        var scores = new List<float>(vocabSize);
        int pos = 4;
        while (pos < data.Length)
        {
            int id = raw.Count;
            if (data.Length - pos < 8)
                throw new InvalidDataException($"{path}: token {id} is cut off at byte {pos} (truncated file?)");
            float score = BitConverter.ToSingle(data, pos);
            int len = BitConverter.ToInt32(data, pos + 4);
            pos += 8;
            if (len < 0 || len > data.Length - pos)
                throw new InvalidDataException($"{path}: token {id} has length {len}, beyond the end of the file");
            try
            {
                raw.Add(utf8.GetString(data, pos, len));
            }
            catch (DecoderFallbackException e)
            {
                throw new InvalidDataException($"{path}: token {id} is not valid UTF-8", e);
            }
            scores.Add(score);
            pos += len;
        }
        if (raw.Count != vocabSize)
            throw new InvalidDataException($"{path}: holds {raw.Count} tokens, but the checkpoint's vocab_size is {vocabSize}");

        // The byte block is recognised as a whole: 256 single characters U+0000..U+00FF at ids 3..258.
        bool charBytes = raw.Count >= ByteBase + 256;
        for (int b = 0; charBytes && b < 256; b++)
            charBytes = raw[ByteBase + b].Length == 1 && raw[ByteBase + b][0] == b;

        var pieces = new List<string>(raw.Count);
        int bos = -1, eos = -1;
        for (int id = 0; id < raw.Count; id++)
        {
            string t = raw[id];
            string piece;
            if (t == "\n<s>\n") { piece = "<s>"; bos = id; }
            else if (t == "\n</s>\n") { piece = "</s>"; eos = id; }
            else if (charBytes && id >= ByteBase && id < ByteBase + 256) piece = $"<0x{id - ByteBase:X2}>";
            else if (IsBytePiece(t)) piece = t;
            else piece = t.Replace(' ', Metaspace);
            pieces.Add(piece);
        }
        int unk = pieces.IndexOf("<unk>");
        if (bos < 0) bos = pieces.IndexOf("<s>");
        if (eos < 0) eos = pieces.IndexOf("</s>");
        if (unk < 0 || bos < 0 || eos < 0)
            throw new InvalidDataException($"{path}: the vocabulary lacks <unk>, <s> or </s>: not a SentencePiece (Llama) vocabulary");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int id = 0; id < pieces.Count; id++)
            if (!seen.Add(pieces[id]))
                throw new InvalidDataException($"{path}: token {id} ('{pieces[id]}') appears twice in the vocabulary");
        bool byteFallback = Enumerable.Range(0, 256).All(b => seen.Contains($"<0x{b:X2}>"));
        return new Llama2cTokenizer(pieces, scores, maxLen, unk, bos, eos, byteFallback);
    }

    private static bool IsBytePiece(string t) =>
        t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t[5] == '>' && Uri.IsHexDigit(t[3]) && Uri.IsHexDigit(t[4]);

    /// <summary>Writes tokenizer.json: the structure of Hugging Face's Llama 2 tokenizer with this vocabulary and its merges.</summary>
    public void WriteTokenizerJson(string path)
    {
        var merges = SentencePieceMerges.Extract(Pieces, Scores);
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        string bos = Pieces[BosId], unk = Pieces[UnkId];
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");

        w.WriteStartArray("added_tokens");
        foreach (int id in new[] { UnkId, BosId, EosId }.Order())
        {
            w.WriteStartObject();
            w.WriteNumber("id", id);
            w.WriteString("content", Pieces[id]);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        // Normalizer: prepend '▁' and turn spaces into '▁' (SentencePiece's add_dummy_prefix + escaping).
        w.WriteStartObject("normalizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("normalizers");
        w.WriteStartObject(); w.WriteString("type", "Prepend"); w.WriteString("prepend", "\u2581"); w.WriteEndObject();
        WriteReplace(w, " ", "\u2581");
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteNull("pre_tokenizer");

        // Post-processor: BOS before each sequence.
        w.WriteStartObject("post_processor");
        w.WriteString("type", "TemplateProcessing");
        w.WriteStartArray("single");
        WriteSpecial(w, bos, 0); WriteSequence(w, "A", 0);
        w.WriteEndArray();
        w.WriteStartArray("pair");
        WriteSpecial(w, bos, 0); WriteSequence(w, "A", 0); WriteSpecial(w, bos, 1); WriteSequence(w, "B", 1);
        w.WriteEndArray();
        w.WriteStartObject("special_tokens");
        w.WriteStartObject(bos);
        w.WriteString("id", bos);
        w.WriteStartArray("ids"); w.WriteNumberValue(BosId); w.WriteEndArray();
        w.WriteStartArray("tokens"); w.WriteStringValue(bos); w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();

        // Decoder: '▁' back to spaces, byte pieces to bytes, drop the dummy-prefix space.
        w.WriteStartObject("decoder");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("decoders");
        WriteReplace(w, "\u2581", " ");
        if (ByteFallback) { w.WriteStartObject(); w.WriteString("type", "ByteFallback"); w.WriteEndObject(); }
        w.WriteStartObject(); w.WriteString("type", "Fuse"); w.WriteEndObject();
        w.WriteStartObject(); w.WriteString("type", "Strip"); w.WriteString("content", " "); w.WriteNumber("start", 1); w.WriteNumber("stop", 0); w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();

        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteString("unk_token", unk);
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", true);
        w.WriteBoolean("byte_fallback", ByteFallback);
        w.WriteBoolean("ignore_merges", false);
        w.WriteStartObject("vocab");
        for (int id = 0; id < Pieces.Count; id++) w.WriteNumber(Pieces[id], id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (left, right) in merges)
        {
            w.WriteStartArray();
            w.WriteStringValue(left);
            w.WriteStringValue(right);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Writes tokenizer_config.json (LlamaTokenizerFast, BOS added, no EOS).</summary>
    public void WriteTokenizerConfig(string path, int modelMaxLength)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteBoolean("add_bos_token", true);
        w.WriteBoolean("add_eos_token", false);
        w.WriteString("bos_token", Pieces[BosId]);
        w.WriteString("eos_token", Pieces[EosId]);
        w.WriteString("unk_token", Pieces[UnkId]);
        w.WriteBoolean("clean_up_tokenization_spaces", false);
        w.WriteBoolean("legacy", true);
        w.WriteNumber("model_max_length", modelMaxLength);
        w.WriteString("tokenizer_class", "LlamaTokenizerFast");
        w.WriteEndObject();
    }

    private static void WriteReplace(Utf8JsonWriter w, string pattern, string content)
    {
        w.WriteStartObject();
        w.WriteString("type", "Replace");
        w.WriteStartObject("pattern"); w.WriteString("String", pattern); w.WriteEndObject();
        w.WriteString("content", content);
        w.WriteEndObject();
    }

    private static void WriteSpecial(Utf8JsonWriter w, string id, int typeId)
    {
        w.WriteStartObject();
        w.WriteStartObject("SpecialToken"); w.WriteString("id", id); w.WriteNumber("type_id", typeId); w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteSequence(Utf8JsonWriter w, string id, int typeId)
    {
        w.WriteStartObject();
        w.WriteStartObject("Sequence"); w.WriteString("id", id); w.WriteNumber("type_id", typeId); w.WriteEndObject();
        w.WriteEndObject();
    }
}
