using System.Text.Json.Serialization;
using Granary.Engine;
using Granary.Serving;

namespace Granary.Grains;

/// <summary>JSON of what travels between silos in grain calls: requests and answers of session grains, replica activations (source-generated).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GenerationRequest))]
[JsonSerializable(typeof(SessionReply))]
[JsonSerializable(typeof(ReplicaActivationCall))]
internal sealed partial class GrainJson : JsonSerializerContext;
