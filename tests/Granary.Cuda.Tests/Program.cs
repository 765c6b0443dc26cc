namespace Granary.Cuda.Tests;

/// <summary>
/// Entry point for the GPU machine, which has the .NET runtime but no SDK to run xunit:
/// <c>dotnet Granary.Cuda.Tests.dll ops</c> compares every backend op with the CPU backend on random data;
/// <c>dotnet Granary.Cuda.Tests.dll fixtures [--tp N] DIR...</c> runs each model folder on both backends (the CUDA side
/// as N tensor-parallel ranks); <c>nccl</c> checks the NCCL communicator on one GPU (a group of one); <c>profile [fp8]</c> times each op at the 1B shapes.
/// Exit code: the number of failed checks. Any other arguments go to xunit's in-process runner (what
/// <c>dotnet test</c> starts).
/// </summary>
internal static class Program
{
    private static readonly string[] Checks = ["ops", "fixtures", "nccl", "profile"];

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || !Checks.Contains(args[0]))
            return await new Xunit.Runner.InProc.SystemConsole.ConsoleRunner(args).EntryPoint();
        var log = Console.Out;
        return args[0] switch
        {
            "ops" => OpChecks.Run(log),
            "fixtures" when args.Length > 2 && args[1] == "--tp" => FixtureChecks.Run(args[3..], log, int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture)),
            "fixtures" => FixtureChecks.Run(args[1..], log),
            "nccl" => NcclChecks.Run(log),
            "profile" => OpProfile.Run(log, fp8: args.Length > 1 && args[1] == "fp8"),
            _ => 2,
        };
    }
}
