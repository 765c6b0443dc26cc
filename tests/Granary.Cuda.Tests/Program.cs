namespace Granary.Cuda.Tests;

/// <summary>
/// Entry point for the GPU machine, which has the .NET runtime but no SDK to run xunit:
/// <c>dotnet Granary.Cuda.Tests.dll ops</c> compares every backend op with the CPU backend on random data;
/// <c>dotnet Granary.Cuda.Tests.dll fixtures DIR...</c> runs each model folder on both backends.
/// Exit code: the number of failed checks.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: Granary.Cuda.Tests.dll ops | fixtures DIR [DIR...] | profile");
            return 2;
        }
        var log = Console.Out;
        return args[0] switch
        {
            "ops" => OpChecks.Run(log),
            "fixtures" => FixtureChecks.Run(args[1..], log),
            "profile" => OpProfile.Run(log),
            _ => 2,
        };
    }
}
