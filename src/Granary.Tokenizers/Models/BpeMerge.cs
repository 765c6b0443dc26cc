namespace Granary.Tokenizers.Models;

/// <summary>A merge of two adjacent symbols: lower <see cref="Priority"/> merges first (BPE rank, or -score for SentencePiece).</summary>
internal readonly record struct BpeMerge(float Priority, int NewId);
