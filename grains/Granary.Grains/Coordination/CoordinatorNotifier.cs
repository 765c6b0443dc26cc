using Granary.Cluster;
using Granary.Grains.Contracts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Granary.Grains.Coordination;

/// <summary>
/// On every silo: calls the coordinator when Orleans' membership changes (a silo died or joined) and every reconcile
/// interval. The calls also keep the coordinator grain active, and activate it again on a live silo after its own died.
/// </summary>
internal sealed partial class CoordinatorNotifier(IClusterMembershipService membership, IGrainFactory grains, IHostApplicationLifetime lifetime, ClusterOptions options,
    ILogger<CoordinatorNotifier> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Orleans' silo starts with the host: call once it is active.
        try
        {
            using var started = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lifetime.ApplicationStarted);
            await Task.Delay(Timeout.Infinite, started.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested) { }
        var coordinator = grains.GetGrain<ICoordinatorGrain>(ICoordinatorGrain.Key);
        var changed = new SemaphoreSlim(0);
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var _ in membership.MembershipUpdates.WithCancellation(stoppingToken).ConfigureAwait(false)) changed.Release();
            }
            catch (OperationCanceledException) { }
        }, CancellationToken.None);
        string? lastError = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await changed.WaitAsync(options.ReconcileInterval, stoppingToken).ConfigureAwait(false);
                await coordinator.ReconcileAsync().WaitAsync(options.CallTimeout, stoppingToken).ConfigureAwait(false);
                lastError = null;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                if (e.Message != lastError) LogCallFailed(e.Message);
                lastError = e.Message;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not reach the coordinator: {Reason}; trying again")]
    private partial void LogCallFailed(string reason);
}
