namespace Granary.Grains.Tests;

/// <summary>The cluster tests run one after another: each starts several processes on a machine of few cores.</summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ReferenceServer>
{
    public const string Name = "clusters";
}
