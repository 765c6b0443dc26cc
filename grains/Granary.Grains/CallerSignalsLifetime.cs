using Microsoft.Extensions.Hosting;

namespace Granary.Grains;

/// <summary>
/// A host lifetime that leaves Ctrl+C and SIGTERM to the caller (the command line cancels the silo and disposes it),
/// in place of ASP.NET Core's console lifetime: the host's own stopping then means only that Orleans stopped the silo
/// (declared dead by the cluster), which <see cref="SiloHost.Stopped"/> reports.
/// </summary>
internal sealed class CallerSignalsLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
