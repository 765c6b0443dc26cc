using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;

namespace Granary.Client.Orleans;

/// <summary>
/// One deployment: completions and chats, whole or streamed. A stream whose silo fails (it died, or stopped answering
/// within the response timeout) is resumed through another silo from the tokens already received, so the caller sees
/// one answer; a refused request throws <see cref="GranaryRequestException"/> at once.
/// </summary>
public sealed class GranaryModel
{
    private readonly IModelGrain _grain;
    private readonly int _maxResumes;

    internal GranaryModel(IModelGrain grain, string name, int maxResumes)
    {
        _grain = grain;
        Name = name;
        _maxResumes = maxResumes;
    }

    /// <summary>The deployment's name ("" for the cluster's only one).</summary>
    public string Name { get; }

    /// <summary>Completes <paramref name="prompt"/>, chunk by chunk.</summary>
    public IAsyncEnumerable<GranaryChunk> StreamAsync(string prompt, GranaryGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        RunAsync(new GranaryRequest { Prompt = prompt, Options = options ?? new() }, cancellationToken);

    /// <summary>Answers a conversation (through the model's chat template), chunk by chunk.</summary>
    public IAsyncEnumerable<GranaryChunk> StreamChatAsync(IReadOnlyList<GranaryMessage> messages, GranaryGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        RunAsync(new GranaryRequest { Messages = messages, Options = options ?? new() }, cancellationToken);

    /// <summary>Completes <paramref name="prompt"/>.</summary>
    public Task<GranaryAnswer> CompleteAsync(string prompt, GranaryGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        CollectAsync(StreamAsync(prompt, options, cancellationToken));

    /// <summary>Answers a conversation (through the model's chat template).</summary>
    public Task<GranaryAnswer> ChatAsync(IReadOnlyList<GranaryMessage> messages, GranaryGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        CollectAsync(StreamChatAsync(messages, options, cancellationToken));

    /// <summary>This deployment as a Microsoft.Extensions.AI chat client.</summary>
    public IChatClient AsChatClient() => new GranaryOrleansChatClient(this);

    private static async Task<GranaryAnswer> CollectAsync(IAsyncEnumerable<GranaryChunk> chunks)
    {
        var text = new StringBuilder();
        GranaryChunk? last = null;
        await foreach (var chunk in chunks.ConfigureAwait(false))
        {
            text.Append(chunk.Text);
            last = chunk;
        }
        return new GranaryAnswer(text.ToString(), last?.FinishReason, last?.PromptTokens ?? 0, last?.CompletionTokens ?? 0);
    }

    private async IAsyncEnumerable<GranaryChunk> RunAsync(GranaryRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var received = new List<int>();
        int sentChars = 0;
        for (int attempt = 0; ; attempt++)
        {
            var call = received.Count == 0 ? request : request with { ResumeTokenIds = [.. received], ResumeSentChars = sentChars };
            await using var stream = _grain.GenerateAsync(call, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                GranaryChunk chunk;
                try
                {
                    if (!await stream.MoveNextAsync().ConfigureAwait(false)) yield break;
                    chunk = stream.Current;
                }
                catch (Exception e) when (IsSiloFailure(e) && attempt < _maxResumes && !cancellationToken.IsCancellationRequested)
                {
                    break; // resumed by the next attempt, through whichever silo answers
                }
                received.AddRange(chunk.TokenIds);
                sentChars += chunk.Text.Length;
                yield return chunk;
                if (chunk.FinishReason is not null) yield break;
            }
        }
    }

    private static bool IsSiloFailure(Exception e) => e is TimeoutException or OrleansException or ObjectDisposedException;
}
