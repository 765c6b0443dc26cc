using System.Text.Json;
using Orleans.Serialization;

namespace Granary.Grains;

/// <summary>
/// How Orleans serializes Granary's own types in grain calls: the engine's requests and events, deployments and
/// placements, rank addresses travel as System.Text.Json (those assemblies carry no Orleans attributes, and the
/// payloads are small: one request per call, one event per token); grain contracts use Orleans' generated codecs.
/// </summary>
public static class GranarySerialization
{
    private static readonly HashSet<System.Reflection.Assembly> JsonAssemblies =
    [
        typeof(Granary.Engine.GenerationRequest).Assembly,
        typeof(Granary.Cluster.Placement.DeploymentSpec).Assembly,
        typeof(Granary.Compute.Collectives.PeerAddress).Assembly,
    ];

    public static ISerializerBuilder AddGranaryTypes(this ISerializerBuilder builder) =>
        builder.AddJsonSerializer(isSupported: type => JsonAssemblies.Contains(type.Assembly), jsonSerializerOptions: new JsonSerializerOptions(JsonSerializerDefaults.General));
}
