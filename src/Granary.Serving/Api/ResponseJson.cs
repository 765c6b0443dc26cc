using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Granary.Serving.Api;

/// <summary>
/// The serializers of what the server sends. They escape as OpenAI's API does (<c>\"</c>, and <c>&lt;</c>, <c>'</c>
/// or non-ASCII text as they are), not as the default encoder does for HTML pages (<c>\u0022</c>, <c>\u003C</c>).
/// </summary>
internal static class ResponseJson
{
    private static readonly JsonSerializerOptions Options = new(OpenAiJsonContext.Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>For chunks written straight to the response pipe (the writer's encoder is the one that applies).</summary>
    public static JsonWriterOptions WriterOptions { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static JsonTypeInfo<CompletionResponse> CompletionResponse { get; } = Get<CompletionResponse>();
    public static JsonTypeInfo<ChatCompletionResponse> ChatCompletionResponse { get; } = Get<ChatCompletionResponse>();
    public static JsonTypeInfo<ChatCompletionChunk> ChatCompletionChunk { get; } = Get<ChatCompletionChunk>();
    public static JsonTypeInfo<ModelList> ModelList { get; } = Get<ModelList>();
    public static JsonTypeInfo<ModelCard> ModelCard { get; } = Get<ModelCard>();
    public static JsonTypeInfo<ErrorResponse> ErrorResponse { get; } = Get<ErrorResponse>();

    private static JsonTypeInfo<T> Get<T>() => (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));
}
