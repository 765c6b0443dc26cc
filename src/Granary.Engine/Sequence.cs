using Granary.Tokenizers;

namespace Granary.Engine;

/// <summary>
/// One request as the engine tracks it: its tokens (prompt then output), how many of them have keys
/// and values in the cache, its KV block table, its decoded text, and why it finished.
/// </summary>
public sealed class Sequence
{
    private int[] _tokens;
    private readonly IncrementalDecoder? _decoder;
    private readonly System.Text.StringBuilder _text = new();
    private readonly int _longestStop;
    private readonly List<GeneratedTokenLogprobs>? _logprobs;
    private bool _stopped;

    internal Sequence(long id, IReadOnlyList<int> promptIds, SamplingParams sampling, ITokenizer? tokenizer)
    {
        Id = id;
        Sampling = sampling;
        PromptLength = promptIds.Count;
        _tokens = new int[Math.Max(16, promptIds.Count + Math.Min(sampling.MaxTokens, 4096))];
        for (int i = 0; i < promptIds.Count; i++) _tokens[i] = promptIds[i];
        Length = promptIds.Count;
        _decoder = tokenizer is null ? null : new IncrementalDecoder(tokenizer);
        _longestStop = sampling.Stop.Count == 0 ? 0 : sampling.Stop.Max(s => s.Length);
        if (sampling.Logprobs is not null) _logprobs = [];
        Random = sampling.Seed is { } seed ? new Random(seed) : null;
    }

    public long Id { get; }
    public SamplingParams Sampling { get; }
    public SequenceStatus Status { get; internal set; } = SequenceStatus.Waiting;
    public FinishReason? FinishReason { get; internal set; }

    /// <summary>Prompt plus generated tokens.</summary>
    public int Length { get; private set; }
    public int PromptLength { get; }
    public int OutputLength => Length - PromptLength;

    /// <summary>Tokens whose keys and values are in the cache.</summary>
    public int ComputedLength { get; internal set; }

    /// <summary>Prompt tokens whose KV blocks were found in the prefix cache when the sequence was last admitted.</summary>
    public int CachedTokens { get; internal set; }

    /// <summary>Leading blocks registered in the prefix cache, and the chained hash of the last of them.</summary>
    internal int HashedBlocks { get; set; }
    internal ulong PrefixHash { get; set; } = 0xcbf29ce484222325;

    /// <summary>The sequence's KV blocks, in order.</summary>
    public List<int> Blocks { get; } = [];

    /// <summary>Per-request generator when a seed was given.</summary>
    internal Random? Random { get; }

    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, Length);
    public ReadOnlySpan<int> PromptIds => _tokens.AsSpan(0, PromptLength);
    public ReadOnlySpan<int> OutputIds => _tokens.AsSpan(PromptLength, OutputLength);

    /// <summary>Text of the output so far (cut before a stop string once one appears).</summary>
    public string Text => _text.ToString();

    /// <summary>
    /// Characters of <see cref="Text"/> safe to stream: all of it once finished, otherwise all but a tail
    /// that might still turn into a stop string.
    /// </summary>
    public int StreamableLength => Status == SequenceStatus.Finished ? _text.Length : Math.Max(0, _text.Length - Math.Max(0, _longestStop - 1));

    public string TextRange(int start, int end) => _text.ToString(start, end - start);

    public IReadOnlyList<GeneratedTokenLogprobs>? Logprobs => _logprobs;

    /// <summary>Tokens not yet in the cache: the prompt (or what a preemption dropped), then one per decode step.</summary>
    internal int PendingLength => Length - ComputedLength;

    /// <summary>Appends a sampled token, updates the text and returns whether a stop string ended the sequence.</summary>
    internal bool Append(int token, GeneratedTokenLogprobs? logprobs)
    {
        if (Length == _tokens.Length) Array.Resize(ref _tokens, _tokens.Length * 2);
        _tokens[Length++] = token;
        if (logprobs is not null) _logprobs?.Add(logprobs);
        if (_decoder is null) return false;
        int before = _text.Length;
        _text.Append(_decoder.Append(token));
        return _longestStop > 0 && CutAtStop(before);
    }

    /// <summary>Adds what the decoder still holds once the sequence ends.</summary>
    internal void FlushText()
    {
        if (_decoder is null || _stopped) return;
        int before = _text.Length;
        _text.Append(_decoder.Flush());
        if (_longestStop > 0) CutAtStop(before);
    }

    private bool CutAtStop(int appendedAt)
    {
        int from = Math.Max(0, appendedAt - _longestStop + 1);
        string tail = _text.ToString(from, _text.Length - from);
        int cut = -1;
        foreach (string stop in Sampling.Stop)
        {
            int at = tail.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut < 0) return false;
        _text.Length = from + cut;
        _stopped = true;
        return true;
    }
}
