using System.Runtime.CompilerServices;
using System.Text.Json;
using Granary.ChatTemplates;
using Granary.Cluster;
using Granary.Cluster.Activations;
using Granary.Cluster.Membership;
using Granary.Cluster.Placement;
using Granary.Cluster.Transport;
using Granary.Models.Checkpoints;
using Granary.Redis;
using Granary.Engine;
using Granary.Serving;
using Granary.Tokenizers;
using Microsoft.Extensions.Logging;

namespace Granary.Grains;

/// <summary>
/// The gateway role: the OpenAI server of a silo runs its requests here, and they go to the replicas of one
/// deployment (least outstanding tokens, prefix affinity; see <see cref="ReplicaRouter"/>), to a session grain on
/// this silo by a method call or on another silo over the transport. It learns the deployment and its ready
/// replicas from the cluster store (and keeps what it knew while the store is down); failed replicas are resumed
/// around (<see cref="RelayedRequest"/>).
/// </summary>
public sealed partial class ClusterGateway : IGenerationService
{
    private readonly string? _deploymentName;
    private readonly DeploymentTable _table;
    private readonly GrainDirectory _directory;
    private readonly Func<MembershipSnapshot> _membership;
    private readonly Func<SiloRow> _self;
    private readonly ReplicaHost _host;
    private readonly SiloClient _client;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private readonly ILogger _logger;
    private volatile ServedModel? _model;

    /// <param name="deploymentName">The deployment to serve, or null for the only one there is.</param>
    public ClusterGateway(string? deploymentName, RedisClient redis, ClusterOptions options, Func<MembershipSnapshot> membership, Func<SiloRow> self,
        ReplicaHost host, SiloClient client, ILoggerFactory loggers)
    {
        var keys = new ClusterKeys(options.ClusterId);
        _deploymentName = deploymentName;
        _table = new DeploymentTable(redis, keys);
        _directory = new GrainDirectory(redis, keys);
        _membership = membership;
        _self = self;
        _host = host;
        _client = client;
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
            throw new ServiceUnavailableException($"no replica of {model.Spec.Name} is ready yet ({_host.Activations.Count()} loading or serving on this silo); try again shortly");
        }
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        var handle = new GenerationHandle(request, () => cancel.Cancel(), cancellationToken);
        var relay = new RelayedRequest(this, request, cost, handle, cancel.Token);
        _ = Task.Run(async () =>
        {
            UpdateLoad();
            try
            {
                await relay.RunAsync(replica).ConfigureAwait(false);
            }
            finally
            {
                cancel.Dispose();
                UpdateLoad();
            }
        }, CancellationToken.None);
        return handle;
    }

    /// <summary>Tokens a request may cost a replica (prompts and outputs), for the router's books.</summary>
    private static long Cost(GenerationRequest request) => request.Prompts.Sum(p => (long)p.Length) * request.N + (long)request.Sampling.MaxTokens * request.Sequences;

    private void UpdateLoad() => Metrics.SetLoad(Router.InFlight.Sequences, 0);

    /// <summary>Waits (up to <see cref="ResumeWait"/>) for a ready replica not yet tried, and books the request on it.</summary>
    internal async Task<ReplicaEndpoint?> WaitForReplicaAsync(GenerationRequest request, long cost, IReadOnlySet<string> tried, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + ResumeWait;
        while (true)
        {
            var replica = Router.Pick(request.Prompts[0], request.Sequences, cost, tried, out _);
            if (replica is not null || DateTime.UtcNow >= deadline) return replica;
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs a request on a session grain: a method call when it lives here, else a stream over the transport.</summary>
    internal async IAsyncEnumerable<SessionReply> CallSessionAsync(ReplicaEndpoint replica, GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (replica.Local)
        {
            var session = _host.FindSession(replica.Id) ?? throw new GrainNotFoundException(GrainIds.SessionType, replica.Id);
            await foreach (var reply in session.RunAsync(request, cancellationToken).ConfigureAwait(false)) yield return reply;
            yield break;
        }
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(request, GrainJson.Default.GenerationRequest);
        await foreach (byte[] frame in _client.StreamAsync(replica.Url, GrainIds.SessionType, replica.Id, GrainIds.GenerateMethod, body, cancellationToken).ConfigureAwait(false))
            yield return JsonSerializer.Deserialize(frame, GrainJson.Default.SessionReply) ?? throw new JsonException("an empty frame from the session");
    }

    /// <summary>The transport handler of session grains on this silo: runs a gateway's request, frames its events.</summary>
    public static async IAsyncEnumerable<ReadOnlyMemory<byte>> ServeSessionAsync(ReplicaHost host, string replicaId, ReadOnlyMemory<byte> body, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var session = host.FindSession(replicaId) ?? throw new GrainNotFoundException(GrainIds.SessionType, replicaId);
        var request = JsonSerializer.Deserialize(body.Span, GrainJson.Default.GenerationRequest) ?? throw new JsonException("an empty request");
        await foreach (var reply in session.RunAsync(request, cancellationToken).ConfigureAwait(false))
            yield return JsonSerializer.SerializeToUtf8Bytes(reply, GrainJson.Default.SessionReply);
    }

    // A model folder that cannot be read is said and tried again; an outage of Redis keeps the replicas last seen.
    private Task LoopAsync(CancellationToken cancellationToken) =>
        StoreLoop.RunAsync(TimeSpan.FromMilliseconds(500), RefreshAsync, LogStoreFailed, LogStoreBack, e => LogRefreshFailed(e, e.Message), cancellationToken);

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var deployments = await _table.ReadDeploymentsAsync(cancellationToken).ConfigureAwait(false);
        var spec = _deploymentName is null ? (deployments.Count == 1 ? deployments[0] : null) : deployments.FirstOrDefault(d => d.Name == _deploymentName);
        if (spec is null && _model is null) return;
        if (spec is not null && (_model is null || _model.Spec.Model != spec.Model))
        {
            _model = ServedModel.Load(spec);
            LogServing(spec.Name, spec.Model);
        }
        spec ??= _model!.Spec;
        // Redis that lost its data holds no placement until a silo writes back what it remembers: keep the view.
        if (!await _table.HasEpochAsync(cancellationToken).ConfigureAwait(false)) return;
        var placements = (await _table.ReadPlacementsAsync(cancellationToken).ConfigureAwait(false)).Where(p => p.Deployment == spec.Name).ToDictionary(p => p.Id);
        var membership = _membership();
        var live = membership.Active.Select(r => r.Key).ToHashSet();
        string self = _self().Key;
        var sessions = await _directory.ReadAsync(a => live.Contains(a.Silo), cancellationToken).ConfigureAwait(false);
        var ready = new Dictionary<string, ReplicaEndpoint>();
        foreach (var activation in sessions)
        {
            if (!activation.GrainId.StartsWith(GrainIds.SessionType + "/", StringComparison.Ordinal)) continue;
            string id = activation.GrainId[(GrainIds.SessionType.Length + 1)..];
            if (!placements.TryGetValue(id, out var placement) || placement.Generation != activation.Generation) continue;
            ready[id] = new ReplicaEndpoint(id, activation.Silo, activation.Url, activation.Generation, activation.Silo == self);
        }
        // A replica already routed to stays while its placement and its silo do, even if its directory entry is
        // missing for a moment (Redis lost it and the silo has not registered it again yet).
        foreach (var known in Router.Replicas)
        {
            if (!ready.ContainsKey(known.Id) && live.Contains(known.Silo) && placements.TryGetValue(known.Id, out var placement) && placement.Generation == known.Generation)
                ready[known.Id] = known;
        }
        Router.Update([.. ready.Values]);
    }

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
            int context = spec.MaxModelLength > 0 ? Math.Min(spec.MaxModelLength, config.MaxPositionEmbeddings) : config.MaxPositionEmbeddings;
            return new ServedModel(spec, TokenizerLoader.FromModelDirectory(spec.Model), ChatTemplates.ChatTemplate.FromModelDirectory(spec.Model), context);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The gateway serves deployment {Deployment} ({Model})")]
    private partial void LogServing(string deployment, string model);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The gateway cannot reach Redis ({Reason}); it routes to the replicas it knew")]
    private partial void LogStoreFailed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "The gateway reaches Redis again")]
    private partial void LogStoreBack();

    [LoggerMessage(Level = LogLevel.Error, Message = "The gateway could not refresh its view: {Reason}")]
    private partial void LogRefreshFailed(Exception e, string reason);
}
