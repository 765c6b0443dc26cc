using Granary.Cluster.Placement;
using Granary.Grains.Contracts;
using Granary.Grains.Placement;

namespace Granary.Grains.Tests;

/// <summary>The keys of a replica's pinned grains name what they must: replica, generation, rank, device, silo.</summary>
public sealed class ReplicaGrainKeysTests
{
    private static readonly ReplicaPlacement Placement = new()
    {
        Id = "stories15M/1", Deployment = "stories15M", Generation = 7, Layout = "l",
        Ranks = [new RankPlacement(0, "127.0.0.1:11111@1", "cpu:0"), new RankPlacement(1, "127.0.0.1:11112@2", "cuda:3")],
    };

    [Fact]
    public void ARankKeyNamesItsReplicaGenerationRankDeviceAndSilo()
    {
        string key = ReplicaGrainKeys.Rank(Placement, 1);
        Assert.Equal("stories15M/1.g7/1@cuda:3#127.0.0.1:11112@2", key);
        Assert.Equal(("stories15M/1", 7L, 1), ReplicaGrainKeys.ParseRank(key));
        Assert.Equal(("stories15M/1", 7L), ReplicaGrainKeys.Parse(key));
        Assert.Equal("127.0.0.1:11112@2", PinnedKey.Silo(key).ToParsableString());
        Assert.Equal(("stories15M/1", 7L), ReplicaGrainKeys.Parse(ReplicaGrainKeys.Session(Placement)));
    }

    [Theory]
    [InlineData("stories15M/1.g7#127.0.0.1:11111@1")] // a session key
    [InlineData("stories15M/1.g7/x@cpu:0#127.0.0.1:11111@1")]
    [InlineData("nothing")]
    public void AKeyThatIsNotARanksIsRefused(string key) => Assert.Throws<FormatException>(() => ReplicaGrainKeys.ParseRank(key));
}
