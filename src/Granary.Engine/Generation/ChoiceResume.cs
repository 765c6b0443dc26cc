namespace Granary.Engine;

/// <summary>
/// Where one choice of a request stood when the replica answering it failed, so another replica can go on
/// from there (<see cref="GenerationRequest.Resume"/>).
/// </summary>
/// <param name="Index">The choice (prompt index * <see cref="GenerationRequest.N"/> + j).</param>
/// <param name="GeneratedIds">The tokens the choice had generated (the ids of every event the client got, in order).</param>
/// <param name="SentChars">Characters of the choice's text the client already got: the new events start after them.</param>
/// <param name="Finished">True when the choice had already finished (its last event was sent): it is not run again.</param>
public sealed record ChoiceResume(int Index, int[] GeneratedIds, int SentChars, bool Finished);
