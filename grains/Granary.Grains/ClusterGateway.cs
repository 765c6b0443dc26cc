using System.Runtime.CompilerServices;
using Granary.ChatTemplates;
using Granary.Cluster.Placement;
using Granary.Engine;
using Granary.Grains.Contracts;
using Granary.Models.Checkpoints;
using Granary.Serving;
using Granary.Tokenizers;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansSiloStatus = Orleans.Runtime.SiloStatus;

namespace Granary.Grains;

/// <summary>
/// The gateway role: the OpenAI server of a silo runs its requests here, and they go to the session grains of one
/// deployment's replicas (least outstanding tokens, prefix affinity; see <see cref="ReplicaRouter"/>) through Orleans'
/// grain factory. It learns the deployment and its serving replicas from the coordinator grain every half second, and
/// drops at once a replica whose silo Orleans' membership no longer lists as active; failed replicas are resumed
/// around (<see cref="RelayedRequest"/>).
/// </summary>
public sealed partial class ClusterGateway : IGenerationService
{
    private readonly string? _deploymentName;
    private readonly IGrainFactory _grains;
    private readonly IClusterMembershipService _membership;
    private readonly ReplicaHost _local;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private readonly ILogger _logger;
    private volatile ServedModel? _model;
    private string? _lastError;
    private long _remoteSequences;

    /// <param name="deploymentName">The deployment to serve, or null for the only one there is.</param>
    /// <param name="local">This silo's replicas: a session that lives here is called as a method (no copy of each event), not as a grain.</param>
    public ClusterGateway(string? deploymentName, IGrainFactory grains, IClusterMembershipService membership, ReplicaHost local, ILoggerFactory loggers)
    {
        _deploymentName = deploymentName;
        _grains = grains;
        _membership = membership;
        _local = local;
        _logger = loggers.CreateLogger<ClusterGateway>();
        Router = new ReplicaRouter(sequencesPerReplica: 256);
    }

    internal ILogger Logger => _logger;
    internal ReplicaRouter Router { get; }

    /// <summary>How many times a request is resumed on another replica before it fails. Default 3.</summary>
    public int MaxResumes { get; init; } = 3;

    /// <summary>How long a request whose replica failed waits for another one to be ready. Default 30 s.</summary>
    public TimeSpan ResumeWait { get; init; } = TimeSpan.FromSeconds(30);

    public ServingMetrics Metrics { get; } = new();

    private ServedModel Model => _model ?? throw new ServiceUnavailableException(_deploymentName is null ? "no model is deployed in this cluster yet" : $"deployment '{_deploymentName}' does not exist yet");

    public string ModelName => Model.Spec.Name;
    public string ModelDirectory => Model.Spec.Model;
    public ITokenizer Tokenizer => Model.Tokenizer;
    public LoadedChatTemplate? ChatTemplate => Model.Template;
    public int MaxModelLength => Model.MaxModelLength;
    public bool IsReady => _model is not null && Router.Replicas.Count > 0;

    public string Describe() => _model is { } m
        ? $"gateway of deployment {m.Spec.Name} ({Router.Replicas.Count} replicas ready, tp {m.Spec.TensorParallelSize} x pp {m.Spec.PipelineParallelSize}); max model length {m.MaxModelLength}"
        : $"gateway of {(_deploymentName ?? "the cluster's deployment")}, waiting for it to be deployed";

    public void Start() => _loop = Task.Run(() => LoopAsync(_stop.Token));

    public GenerationHandle Submit(GenerationRequest request, CancellationToken cancellationToken)
    {
        var model = Model;
        long cost = Cost(request);
        var replica = Router.Pick(request.Prompts[0], request.Sequences, cost, new HashSet<string>(), out bool full);
        if (replica is null)
        {
            if (full) throw new QueueFullException((int)Router.InFlight.Sequences);
            throw new ServiceUnavailableException($"no replica of {model.Spec.Name} is ready yet; try again shortly");
        }
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        var handle = new GenerationHandle(request, () => cancel.Cancel(), cancellationToken);
        var relay = new RelayedRequest(this, request, cost, handle, cancel.Token);
        _ = Task.Run(async () =>
        {
            try
            {
                await relay.RunAsync(replica).ConfigureAwait(false);
            }
            finally
            {
                cancel.Dispose();
            }
        }, CancellationToken.None);
        return handle;
    }

    /// <summary>Tokens a request may cost a replica (prompts and outputs), for the router's books.</summary>
    private static long Cost(GenerationRequest request) => request.Prompts.Sum(p => (long)p.Length) * request.N + (long)request.Sampling.MaxTokens * request.Sequences;

    /// <summary>
    /// Whether the gateway counts a request's load, tokens and latencies while a replica runs it: yes for a session on
    /// another silo; a session of this silo is counted by its own engine, under the same model name on this /metrics.
    /// </summary>
    internal bool CountsHere(ReplicaPlacement replica) => LocalSession(replica) is null;

    /// <summary>Sequences running on other silos' sessions through this gateway (its running gauge) go up or down.</summary>
    internal void AddRemoteSequences(int sequences) => Metrics.SetLoad(Interlocked.Add(ref _remoteSequences, sequences), 0);

    private ReplicaSession? LocalSession(ReplicaPlacement replica) =>
        replica.SessionSilo == _local.SiloKey ? _local.FindSession(replica.Id, replica.Generation) : null;

    /// <summary>Waits (up to <paramref name="wait"/>) for a ready replica not yet tried, and books the request on it.</summary>
    internal async Task<ReplicaPlacement?> WaitForReplicaAsync(GenerationRequest request, long cost, IReadOnlySet<string> tried, TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            var replica = Router.Pick(request.Prompts[0], request.Sequences, cost, tried, out _);
            if (replica is not null || DateTime.UtcNow >= deadline) return replica;
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs a request on a replica's session: a method call when it lives on this silo, else its session grain.</summary>
    internal IAsyncEnumerable<SessionReply> CallSessionAsync(ReplicaPlacement replica, GenerationRequest request, CancellationToken cancellationToken) =>
        LocalSession(replica) is { } session
            ? session.RunAsync(request, cancellationToken)
            : _grains.GetGrain<ISessionGrain>(ReplicaGrainKeys.Session(replica)).GenerateAsync(request, cancellationToken);

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        var coordinator = _grains.GetGrain<ICoordinatorGrain>(ICoordinatorGrain.Key);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var view = await coordinator.GetViewAsync().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
                Refresh(view);
                if (_lastError is not null) LogRefreshBack();
                _lastError = null;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The coordinator is being activated again (its silo died) or the folder cannot be read: route to what was known.
                if (e.Message != _lastError) LogRefreshFailed(e.Message);
                _lastError = e.Message;
            }
            await Task.Delay(500, cancellationToken).ConfigureAwait(false);
        }
    }

    private void Refresh(ClusterView view)
    {
        var spec = _deploymentName is null ? (view.Deployments.Count == 1 ? view.Deployments[0] : null) : view.Deployments.FirstOrDefault(d => d.Name == _deploymentName);
        if (spec is null && _model is null) return;
        if (spec is not null && (_model is null || _model.Spec.Model != spec.Model))
        {
            _model = ServedModel.Load(spec);
            LogServing(spec.Name, spec.Model);
        }
        spec ??= _model!.Spec;
        var live = LiveSilos();
        Router.Update([.. view.Replicas.Where(r => r.Ready && r.Placement.Deployment == spec.Name && r.Placement.Ranks.All(k => live.Contains(k.Silo))).Select(r => r.Placement)]);
    }

    private HashSet<string> LiveSilos() =>
        [.. _membership.CurrentSnapshot.Members.Values.Where(m => m.Status == OrleansSiloStatus.Active).Select(m => m.SiloAddress.ToParsableString())];

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _loop.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) { }
        _stop.Dispose();
    }

    /// <summary>What the gateway needs of the deployment's model: its tokenizer, chat template and context.</summary>
    private sealed record ServedModel(DeploymentSpec Spec, ITokenizer Tokenizer, LoadedChatTemplate? Template, int MaxModelLength)
    {
        public static ServedModel Load(DeploymentSpec spec)
        {
            var config = ModelConfig.Load(spec.Model);
            int context = ContextLength.Resolve(config, spec.MaxModelLength, spec.AllowLongMaxModelLength);
            return new ServedModel(spec, TokenizerLoader.FromModelDirectory(spec.Model), ChatTemplates.ChatTemplate.FromModelDirectory(spec.Model), context);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The gateway serves deployment {Deployment} ({Model})")]
    private partial void LogServing(string deployment, string model);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The gateway cannot refresh its view of the replicas ({Reason}); it routes to the replicas it knew")]
    private partial void LogRefreshFailed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "The gateway refreshes its view of the replicas again")]
    private partial void LogRefreshBack();
}
