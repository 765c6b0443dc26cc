using Granary.Tests.Shared;

namespace Granary.Serving.Tests;

/// <summary>Where the stories15M weights and the fixtures are.</summary>
internal static class TestData
{
    public static string Fixture(string name) => TestPaths.Fixture(name);

    public static string Stories15M => TestPaths.Stories15M;
}
