using System.Text.Json;
using Granary.Cluster.Membership;
using Granary.Cluster.Placement;
using System.Text.Json.Serialization;

namespace Granary.Cluster;

/// <summary>JSON of the cluster's state (camelCase, enums as names), source-generated.</summary>
[JsonSourceGenerationOptions(WriteIndented = false, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SiloRow))]
[JsonSerializable(typeof(SiloLoad))]
[JsonSerializable(typeof(DeploymentSpec))]
[JsonSerializable(typeof(ReplicaPlacement))]
[JsonSerializable(typeof(ClusterStatus))]
public sealed partial class ClusterJson : JsonSerializerContext
{
    public static string Write<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) => JsonSerializer.Serialize(value, type);

    /// <summary>Parses a row written by another silo; null (and the caller skips it) when it is not valid.</summary>
    public static T? TryRead<T>(string? json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) where T : class
    {
        if (string.IsNullOrEmpty(json)) return null;
        try
        {
            return JsonSerializer.Deserialize(json, type);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
