using System.Text.Json.Serialization;
using Granary.Client.Models;

namespace Granary.Client.Internal;

/// <summary>
/// Source-generated serializers of the API bodies: OpenAI's snake_case names, unset request fields left out
/// (so the server's defaults apply), unknown response fields ignored (newer servers may add some).
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CompletionRequest))]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(CompletionResponse))]
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ErrorResponse))]
internal sealed partial class GranaryJsonContext : JsonSerializerContext;
