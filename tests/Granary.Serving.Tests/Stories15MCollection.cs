namespace Granary.Serving.Tests;

/// <summary>Test classes that share one stories15M server (they run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class Stories15MCollection : ICollectionFixture<Stories15MServer>
{
    public const string Name = "stories15M server";
}
