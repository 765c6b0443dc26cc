using System.Text.Json.Serialization;
using Granary.Serving;

namespace Granary.Grains;

/// <summary>JSON of what travels between a gateway and a session grain on another silo (source-generated).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GenerationRequest))]
[JsonSerializable(typeof(SessionReply))]
internal sealed partial class SessionJson : JsonSerializerContext;
