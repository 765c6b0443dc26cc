using System.Text.Json.Serialization;

namespace Granary.Cluster;

/// <summary>JSON of <c>granary cluster status --output json</c> (camelCase, enums as names), source-generated.</summary>
[JsonSourceGenerationOptions(WriteIndented = false, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ClusterStatus))]
public sealed partial class ClusterJson : JsonSerializerContext;
