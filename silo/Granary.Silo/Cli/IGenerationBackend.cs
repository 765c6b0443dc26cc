using Granary.ChatTemplates;

namespace Granary.Silo.Cli;

/// <summary>
/// Where <c>granary chat</c> and <c>granary complete</c> get their text: a gateway over HTTP (<see cref="RemoteBackend"/>)
/// or the model loaded in this process (<see cref="EmbeddedBackend"/>). Both stream the new text as it comes;
/// cancelling the token stops the generation where it runs.
/// </summary>
internal interface IGenerationBackend : IAsyncDisposable
{
    /// <summary>What the session talks to, for the banner (e.g. "stories15M at http://127.0.0.1:8000/").</summary>
    string Description { get; }

    IAsyncEnumerable<string> CompleteAsync(string prompt, GenerationSettings settings, CancellationToken cancellationToken);

    IAsyncEnumerable<string> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationSettings settings, CancellationToken cancellationToken);
}
